//! The SQL of ingest: the session's staging table, the ledger of files
//! (`kcg.ais_ingested_files`) and the insert of what is new into
//! `kcg.ais_positions`.

use chrono::{DateTime, Utc};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient, Transaction};

/// The `pg_advisory_xact_lock` key every ingest takes before it decides
/// which rows are new, so two ingests of overlapping data never both store
/// a row (one of the keys of [`schema::locks`]).
pub use schema::locks::INGEST as INGEST_LOCK_KEY;

/// Rows are parsed into this temporary table first (no WAL, no index), so
/// that the day partitions they need exist before anything is written to
/// `kcg.ais_positions`, and so that the rows already stored can be left out
/// with one statement.
const CREATE_STAGING: &str = "DROP TABLE IF EXISTS pg_temp.kcg_ingest_staging;
    CREATE TEMPORARY TABLE kcg_ingest_staging (
        mmsi BIGINT NOT NULL, ts TIMESTAMPTZ NOT NULL, lat DOUBLE PRECISION NOT NULL,
        lon DOUBLE PRECISION NOT NULL, sog REAL, cog REAL, heading REAL, vessel_name TEXT,
        imo TEXT, call_sign TEXT, vessel_type INTEGER, status INTEGER, length REAL,
        width REAL, draft REAL, cargo INTEGER, transceiver_class TEXT)";

const DROP_STAGING: &str = "DROP TABLE IF EXISTS pg_temp.kcg_ingest_staging";

pub(crate) const COPY_STAGING: &str = "COPY pg_temp.kcg_ingest_staging (mmsi, ts, lat, lon, sog, cog, \
     heading, vessel_name, imo, call_sign, vessel_type, status, length, width, draft, cargo, \
     transceiver_class) FROM STDIN (FORMAT binary)";

/// Straight into the table, when no row can be a duplicate.
pub(crate) const COPY_POSITIONS: &str = "COPY kcg.ais_positions (mmsi, ts, lat, lon, sog, cog, \
     heading, vessel_name, imo, call_sign, vessel_type, status, length, width, draft, cargo, \
     transceiver_class, source_file_id) FROM STDIN (FORMAT binary)";

/// The binary COPY types of [`COPY_POSITIONS`]'s columns, in order.
pub(crate) const POSITION_TYPES: &[Type] = &[
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT4,
    Type::FLOAT4,
    Type::FLOAT4,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT4,
    Type::INT4,
    Type::FLOAT4,
    Type::FLOAT4,
    Type::FLOAT4,
    Type::INT4,
    Type::TEXT,
    Type::INT8,
];

/// The binary COPY types of [`COPY_STAGING`]'s columns, in order: the
/// same without `source_file_id`.
pub(crate) const STAGING_TYPES: &[Type] = POSITION_TYPES.split_at(17).0;

/// Every staged row whose (mmsi, ts, lat, lon) is not stored yet, with the
/// file's ledger id. Rows repeated within the file are all kept (the
/// snapshot is the statement's start): ingest stores what was reported.
/// `$2`/`$3` are the file's first and last `ts`: they prune the probe to the
/// day partitions the file covers; the probe itself uses the (mmsi, ts) index.
const INSERT_NEW: &str = "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, cog, heading, \
     vessel_name, imo, call_sign, vessel_type, status, length, width, draft, cargo, \
     transceiver_class, source_file_id) \
     SELECT s.mmsi, s.ts, s.lat, s.lon, s.sog, s.cog, s.heading, s.vessel_name, s.imo, \
            s.call_sign, s.vessel_type, s.status, s.length, s.width, s.draft, s.cargo, \
            s.transceiver_class, $1 \
     FROM pg_temp.kcg_ingest_staging s \
     WHERE NOT EXISTS (SELECT 1 FROM kcg.ais_positions p \
                       WHERE p.mmsi = s.mmsi AND p.ts = s.ts AND p.lat = s.lat AND p.lon = s.lon \
                         AND p.ts >= $2 AND p.ts <= $3)";

/// A file's row in the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LedgerCounts {
    pub read: u64,
    pub loaded: u64,
    pub skipped: u64,
    pub duplicate: u64,
}

fn count(n: i64) -> u64 {
    n.unsigned_abs()
}

fn bind(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) async fn create_staging(client: &Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(CREATE_STAGING).await
}

pub(crate) async fn drop_staging(client: &Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(DROP_STAGING).await
}

/// The ledger's counts for a file with this hash, if it was ingested.
pub(crate) async fn find<C: GenericClient>(
    client: &C,
    sha256: &str,
) -> Result<Option<LedgerCounts>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT rows_read, rows_loaded, rows_skipped, rows_duplicate \
             FROM kcg.ais_ingested_files WHERE sha256 = $1",
            &[&sha256],
        )
        .await?;
    Ok(row.map(|r| LedgerCounts {
        read: count(r.get(0)),
        loaded: count(r.get(1)),
        skipped: count(r.get(2)),
        duplicate: count(r.get(3)),
    }))
}

/// Takes the ingest lock and adds the file to the ledger (counts zero
/// until [`finish`]); `None` when a file with this hash is there already.
pub(crate) async fn begin(
    tx: &Transaction<'_>,
    sha256: &str,
    file_name: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    tx.execute(
        "SELECT pg_catalog.pg_advisory_xact_lock($1)",
        &[&INGEST_LOCK_KEY],
    )
    .await?;
    let row = tx
        .query_opt(
            "INSERT INTO kcg.ais_ingested_files \
             (sha256, file_name, rows_read, rows_loaded, rows_skipped, rows_duplicate) \
             VALUES ($1, $2, 0, 0, 0, 0) ON CONFLICT (sha256) DO NOTHING RETURNING id",
            &[&sha256, &file_name],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// True when any position is stored with `lo <= ts <= hi` (the index on
/// `ts` of the day partitions in range; the others are pruned).
pub(crate) async fn any_stored_between(
    tx: &Transaction<'_>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM kcg.ais_positions WHERE ts >= $1 AND ts <= $2)",
            &[&lo, &hi],
        )
        .await?;
    Ok(row.get(0))
}

/// Moves the staged rows not stored yet into `kcg.ais_positions`; returns
/// how many.
pub(crate) async fn insert_new(
    tx: &Transaction<'_>,
    file_id: i64,
    first_ts: DateTime<Utc>,
    last_ts: DateTime<Utc>,
) -> Result<u64, tokio_postgres::Error> {
    let params: [(&(dyn ToSql + Sync), Type); 3] = [
        (&file_id, Type::INT8),
        (&first_ts, Type::TIMESTAMPTZ),
        (&last_ts, Type::TIMESTAMPTZ),
    ];
    tx.execute_typed(INSERT_NEW, &params).await
}

/// Writes the file's final counts (the ledger's CHECK holds them to
/// read = loaded + skipped + duplicate).
pub(crate) async fn finish(
    tx: &Transaction<'_>,
    file_id: i64,
    counts: LedgerCounts,
) -> Result<(), tokio_postgres::Error> {
    let [read, loaded, skipped, duplicate] =
        [counts.read, counts.loaded, counts.skipped, counts.duplicate].map(bind);
    tx.execute(
        "UPDATE kcg.ais_ingested_files \
         SET rows_read = $2, rows_loaded = $3, rows_skipped = $4, rows_duplicate = $5 WHERE id = $1",
        &[&file_id, &read, &loaded, &skipped, &duplicate],
    )
    .await?;
    Ok(())
}
