//! Loads MarineCadastre-format AIS CSV files, plain or gzip, into
//! `kcg.ais_positions` with binary `COPY`.
//!
//! A file is loaded once: its SHA-256 goes into `kcg.ais_ingested_files` in
//! the same transaction as its rows, so a second ingest of the same bytes adds
//! nothing, and a failed ingest leaves neither rows nor a ledger entry. A
//! wrong header is refused before anything is written. A row with an
//! unparseable number or time, a number beyond its column's range or a field
//! that is not UTF-8 is skipped, counted and reported with its line number;
//! the rest lands. This crate never cleans or judges positions (the
//! 91/181 and 102.3 sentinels are stored as reported): cleaning is the
//! cycle's job.

mod parse;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

pub use parse::{BadRow, HEADER, Position};

/// How many bad rows are kept with their details; the rest are only counted.
pub const MAX_REPORTED_BAD_ROWS: usize = 100;

/// Errors at this crate's boundary. Bad rows are not errors: they are
/// counted in the [`IngestReport`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The header row is not the MarineCadastre header.
    #[error(
        "{path} is not a MarineCadastre AIS CSV: its header is\n  {found}\nexpected\n  {}\nnothing was written",
        HEADER.join(",")
    )]
    Header {
        /// The file.
        path: PathBuf,
        /// The header found.
        found: String,
    },
    /// The CSV structure itself is broken (not one bad row, the reader).
    #[error("{path}: malformed CSV near line {line}: {message}; nothing was written")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line number.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// The database refused; the transaction was rolled back.
    #[error(
        "database error while loading {path} into kcg.ais_positions: {source}; nothing was written"
    )]
    Db {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// What one ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Rows written to `kcg.ais_positions`.
    pub rows_loaded: u64,
    /// Rows skipped as unparseable.
    pub rows_skipped: u64,
    /// Rows not written because this file was ingested before.
    pub rows_already_present: u64,
    /// The first [`MAX_REPORTED_BAD_ROWS`] skipped rows with line and reason.
    pub bad_rows: Vec<BadRow>,
    /// The file's SHA-256, hex.
    pub sha256: String,
}

/// Called with the number of (compressed) bytes read so far, for a
/// progress bar, and once with the total up front.
pub trait Progress {
    /// The file's size in bytes.
    fn start(&self, total_bytes: u64);
    /// Bytes of the file read so far.
    fn advance(&self, bytes_read: u64);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

const COLUMN_TYPES: &[Type] = &[
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

const COPY_SQL: &str = "COPY kcg.ais_positions (mmsi, ts, lat, lon, sog, cog, heading, vessel_name, \
     imo, call_sign, vessel_type, status, length, width, draft, cargo, transceiver_class, \
     source_file_id) FROM STDIN (FORMAT binary)";

/// Loads `path` into `kcg.ais_positions` in one transaction.
pub async fn ingest_file(
    client: &mut Client,
    path: &Path,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_owned(),
        source,
    };
    let db = |source| IngestError::Db {
        path: path.to_owned(),
        source,
    };

    // Refuse a wrong header before hashing or touching the database.
    let mut reader = open_csv(path, &|_| {})?;
    parse::check_header(&mut reader, path)?;
    let sha256 = hash_file(path).map_err(io)?;
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );

    let tx = client.transaction().await.map_err(db)?;
    let ledger = tx
        .query_opt(
            "INSERT INTO kcg.ais_ingested_files (sha256, file_name, rows_read, rows_loaded, rows_skipped) \
             VALUES ($1, $2, 0, 0, 0) ON CONFLICT (sha256) DO NOTHING RETURNING id",
            &[&sha256, &file_name],
        )
        .await
        .map_err(db)?;
    let Some(ledger) = ledger else {
        let row = tx
            .query_one(
                "SELECT rows_read, rows_loaded, rows_skipped FROM kcg.ais_ingested_files WHERE sha256 = $1",
                &[&sha256],
            )
            .await
            .map_err(db)?;
        tracing::info!(file = %path.display(), %sha256, "file ingested before; nothing to do");
        return Ok(IngestReport {
            rows_read: row.get::<_, i64>(0).try_into().unwrap_or(0),
            rows_already_present: row.get::<_, i64>(1).try_into().unwrap_or(0),
            // The rows skipped the first time are skipped again: read =
            // loaded + skipped + already present, on every run.
            rows_skipped: row.get::<_, i64>(2).try_into().unwrap_or(0),
            sha256,
            ..IngestReport::default()
        });
    };
    let file_id: i64 = ledger.get(0);

    let total = std::fs::metadata(path).map_err(io)?.len();
    progress.start(total);
    let advance = |n| progress.advance(n);
    let mut reader = open_csv(path, &advance)?;
    parse::check_header(&mut reader, path)?;

    let sink = tx.copy_in(COPY_SQL).await.map_err(db)?;
    let writer = BinaryCopyInWriter::new(sink, COLUMN_TYPES);
    futures_util::pin_mut!(writer);

    let mut report = IngestReport {
        sha256,
        ..IngestReport::default()
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // One field that is not UTF-8 (a Latin-1 vessel name, say) is a
            // bad row: the reader has moved past it, the rest of the file
            // still loads.
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                report.rows_read += 1;
                report.rows_skipped += 1;
                let bad = parse::not_utf8(&e);
                tracing::debug!(line = bad.line, reason = %bad.reason, "skipping bad row");
                if report.bad_rows.len() < MAX_REPORTED_BAD_ROWS {
                    report.bad_rows.push(bad);
                }
                continue;
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                return Err(IngestError::Csv {
                    path: path.to_owned(),
                    line,
                    message: e.to_string(),
                });
            }
        }
        report.rows_read += 1;
        let line = record.position().map_or(0, csv::Position::line);
        match Position::parse(&record, line) {
            Ok(p) => {
                let row: [&(dyn ToSql + Sync); 18] = [
                    &p.mmsi,
                    &p.ts,
                    &p.lat,
                    &p.lon,
                    &p.sog,
                    &p.cog,
                    &p.heading,
                    &p.vessel_name,
                    &p.imo,
                    &p.call_sign,
                    &p.vessel_type,
                    &p.status,
                    &p.length,
                    &p.width,
                    &p.draft,
                    &p.cargo,
                    &p.transceiver_class,
                    &file_id,
                ];
                writer.as_mut().write(&row).await.map_err(db)?;
                report.rows_loaded += 1;
            }
            Err(bad) => {
                report.rows_skipped += 1;
                tracing::debug!(line = bad.line, reason = %bad.reason, "skipping bad row");
                if report.bad_rows.len() < MAX_REPORTED_BAD_ROWS {
                    report.bad_rows.push(bad);
                }
            }
        }
    }
    writer.as_mut().finish().await.map_err(db)?;
    let counts = [report.rows_read, report.rows_loaded, report.rows_skipped]
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    tx.execute(
        "UPDATE kcg.ais_ingested_files SET rows_read = $2, rows_loaded = $3, rows_skipped = $4 WHERE id = $1",
        &[&file_id, &counts[0], &counts[1], &counts[2]],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    progress.advance(total);
    Ok(report)
}

/// Opens a plain or gzip CSV (recognised by its magic bytes, not its name).
fn open_csv<'a>(
    path: &Path,
    on_read: &'a dyn Fn(u64),
) -> Result<csv::Reader<Box<dyn Read + 'a>>, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    let file = File::open(path).map_err(io)?;
    let counted = Counting {
        inner: BufReader::with_capacity(1 << 16, file),
        read: 0,
        on_read,
        last: 0,
    };
    let inner: Box<dyn Read + 'a> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(inner))
}

struct Counting<'a, R> {
    inner: R,
    read: u64,
    last: u64,
    on_read: &'a dyn Fn(u64),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.last >= 1 << 16 {
            self.last = self.read;
            (self.on_read)(self.read);
        }
        Ok(n)
    }
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
