//! Loads MarineCadastre-format AIS CSV files, plain or gzip, into
//! `kcg.ais_positions`, and what it guarantees:
//!
//! - **Nothing half-written.** A file's new rows and its row in the ledger
//!   `kcg.ais_ingested_files` are written in one transaction. A wrong header
//!   is refused before anything is read further; a gzip stream that is cut
//!   short or corrupt is an error naming the file and the last line read,
//!   and nothing of that file is written (it is most likely re-sent whole).
//! - **A bad row costs only itself.** Records are split strictly (see
//!   [`MAX_RECORD_LINES`] and `ais_csv::Records`, whose reading this crate
//!   uses, for the rules): an
//!   unbalanced quote, text after a closing quote, a line over
//!   [`MAX_RECORD_BYTES`], a field that is not UTF-8 or holds a NUL, an
//!   unparseable number or time, a number beyond its column's range: each
//!   makes its (first) line a bad row, reported with its line number and
//!   column, and every other row loads.
//! - **Idempotent by content.** A row whose `(mmsi, ts, lat, lon)` is
//!   already stored (from an earlier file, whatever its name or
//!   compression) is a duplicate and is not stored again; rows repeated
//!   within one file are stored as reported. A file with the same SHA-256 as
//!   one in the ledger is not read again. The counts always add up:
//!   `rows_read = rows_loaded + rows_skipped + rows_already_present`, in the
//!   [`IngestReport`] and in the ledger (a CHECK).
//! - **Into their day partitions.** The day partitions the file's rows need
//!   are created (through the `partitions` crate) before any row is written,
//!   so nothing piles up in the DEFAULT partition.
//!
//! This crate never cleans or judges positions (the 91/181 and 102.3
//! sentinels are stored as reported): cleaning is the cycle's job.

mod store;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use partitions::{Day, POSITIONS, Period};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

pub use ais_csv::{BadRow, HEADER, MAX_RECORD_BYTES, MAX_RECORD_LINES, Position};
pub use store::INGEST_LOCK_KEY;

use ais_csv::{Item, ReadError, Records};
use store::LedgerCounts;

/// How many bad rows are kept with their details; the rest are only counted.
pub const MAX_REPORTED_BAD_ROWS: usize = 100;

/// The most distinct UTC days one file may cover (one partition each).
pub const MAX_DAYS_PER_FILE: usize = 366;

/// Errors at this crate's boundary; each says the file, where, and what to
/// do. Nothing of the file was written when one is returned. Bad rows are
/// not errors: they are counted in the [`IngestReport`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("cannot read {}{}; nothing was written", path.display(), after(*after_line))]
    Io {
        /// The file.
        path: PathBuf,
        /// Complete lines read before the failure, when reading had begun.
        after_line: Option<u64>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The header row is not the MarineCadastre header.
    #[error(
        "{} is not a MarineCadastre AIS CSV: its header (line 1) is\n  {found}\nexpected\n  {}\n\
         nothing was written",
        path.display(),
        HEADER.join(",")
    )]
    Header {
        /// The file.
        path: PathBuf,
        /// The header found.
        found: String,
    },
    /// The gzip stream ends before its end marker.
    #[error(
        "{}: the gzip stream ends early, after line {after_line} (truncated file?); nothing \
         was written: send the complete file again",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Complete lines decompressed before the stream ended.
        after_line: u64,
    },
    /// The gzip stream is damaged (bad header, data or checksum).
    #[error(
        "{}: the gzip data is corrupt after line {after_line}; nothing was written: send the \
         file again",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Complete lines decompressed before the damage.
        after_line: u64,
        /// What the decompressor said.
        #[source]
        source: std::io::Error,
    },
    /// The rows span more UTC days than one file may (one partition each).
    #[error(
        "{}: its lines name {days} distinct UTC days ({first} .. {last}); at most \
         {MAX_DAYS_PER_FILE} per file: split it by day; nothing was written",
        path.display()
    )]
    TooManyDays {
        /// The file.
        path: PathBuf,
        /// Distinct days.
        days: usize,
        /// The first.
        first: Day,
        /// The last.
        last: Day,
    },
    /// The day partitions the rows need could not be made.
    #[error(
        "{}: cannot make the day partitions of kcg.ais_positions its rows need; nothing was \
         written",
        path.display()
    )]
    Partitions {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<partitions::PartitionError>,
    },
    /// The database refused; the transaction was rolled back.
    #[error(
        "{}: database error while {doing}; nothing was written",
        path.display()
    )]
    Db {
        /// The file.
        path: PathBuf,
        /// The step, e.g. "storing the new rows in kcg.ais_positions".
        doing: &'static str,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
}

fn after(line: Option<u64>) -> String {
    line.map_or_else(String::new, |n| format!(" after line {n}"))
}

/// What one ingest did. `rows_read = rows_loaded + rows_skipped +
/// rows_already_present`, always.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Data rows read (header and blank lines excluded).
    pub rows_read: u64,
    /// Rows written to `kcg.ais_positions`.
    pub rows_loaded: u64,
    /// Bad rows, skipped.
    pub rows_skipped: u64,
    /// Duplicates: rows whose `(mmsi, ts, lat, lon)` was already stored,
    /// not written again.
    pub rows_already_present: u64,
    /// The first [`MAX_REPORTED_BAD_ROWS`] skipped rows with line and
    /// reason (none when the file was seen before: it was not read again).
    pub bad_rows: Vec<BadRow>,
    /// The file's SHA-256, hex.
    pub sha256: String,
    /// True when a file with these exact bytes was ingested before: it was
    /// not read again, the counts are its first ingest's, and every row it
    /// loaded then counts as already present now.
    pub seen_before: bool,
    /// Day partitions of `kcg.ais_positions` created for this file.
    pub partitions_created: Vec<String>,
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

/// Counts of one pass over the rows.
#[derive(Debug, Default)]
struct Counted {
    read: u64,
    written: u64,
    skipped: u64,
    bad_rows: Vec<BadRow>,
    days: BTreeSet<Day>,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// A guard refused a row; the pass stopped there.
    outside_scan: bool,
}

/// How the direct load ended.
enum Direct {
    Done(IngestReport),
    /// Rows are stored in the file's time range already: duplicates are
    /// possible, so the rows go through the staging table.
    Overlap,
    /// A row fell outside the days or times the first pass found (a line the
    /// cheap scan read differently): rolled back, staged instead.
    OutsideScan,
}

/// Loads `path` into `kcg.ais_positions`: see the crate documentation for
/// what is guaranteed. Uses `client` alone; leaves no transaction open and
/// no temporary table behind.
///
/// Passes over the file: its hash; the header and the days and times its
/// lines name (no database yet; a broken gzip stream is found here); then
/// the rows, by binary COPY straight into `kcg.ais_positions` when nothing
/// is stored in the file's time range (no row can be a duplicate), or else
/// into a staging table from which only the rows not stored yet are
/// inserted.
pub async fn ingest_file(
    client: &mut Client,
    path: &Path,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let file = FileCtx { path };
    // Refuse a wrong header before hashing or touching the database.
    let (mut records, gzip) = file.open(&|_| {})?;
    file.header(&mut records, gzip)?;
    let sha256 = hash_file(path).map_err(|e| file.io(None, e))?;
    if let Some(seen) = store::find(&*client, &sha256)
        .await
        .map_err(file.db("reading the ledger kcg.ais_ingested_files"))?
    {
        tracing::info!(file = %path.display(), %sha256, "file ingested before; nothing to do");
        return Ok(seen_before(seen, sha256));
    }
    let started = std::time::Instant::now();
    let scan = Scan::of(&records.scan_times().map_err(|e| file.read_error(e, gzip))?);
    drop(records);
    tracing::debug!(
        days = scan.days.len(),
        ms = ms(started),
        "scanned the file's times"
    );
    let mut partitions_created = file.ensure_days(client, &scan.days).await?;

    let total = std::fs::metadata(path).map_err(|e| file.io(None, e))?.len();
    progress.start(total);
    let advance = |n| progress.advance(n);
    let report = match direct(client, &file, &scan, &sha256, &advance).await? {
        Direct::Done(report) => report,
        why @ (Direct::Overlap | Direct::OutsideScan) => {
            if matches!(why, Direct::OutsideScan) {
                tracing::warn!(file = %path.display(), "a row outside the scanned days or times; staging instead");
            }
            progress.start(total);
            store::create_staging(client)
                .await
                .map_err(file.db("creating the staging table"))?;
            let result = staged(client, &file, &sha256, &advance).await;
            // A failed ingest must not leave its rows in the session either.
            let dropped = store::drop_staging(client).await;
            let (report, created) = result?;
            dropped.map_err(file.db("dropping the staging table"))?;
            partitions_created.extend(created);
            report
        }
    };
    progress.advance(total);
    Ok(IngestReport {
        partitions_created,
        ..report
    })
}

/// The common case, a file of new rows: one transaction, binary COPY
/// straight into `kcg.ais_positions`, under the ingest lock.
async fn direct(
    client: &mut Client,
    file: &FileCtx<'_>,
    scan: &Scan,
    sha256: &str,
    on_read: &dyn Fn(u64),
) -> Result<Direct, IngestError> {
    let (tx, file_id) = file.begin(client, sha256).await?;
    let Some(file_id) = file_id else {
        return Ok(Direct::Done(file.seen_meanwhile(&tx, sha256).await?));
    };
    let span = scan.span;
    if let Some((lo, hi)) = span
        && store::any_stored_between(&tx, lo, hi)
            .await
            .map_err(file.db("looking for rows stored in the file's time range"))?
    {
        return Ok(Direct::Overlap);
    }
    let guard = Guard {
        days: &scan.days,
        span,
    };
    let target = Target {
        sql: store::COPY_POSITIONS,
        types: store::POSITION_TYPES,
        what: "kcg.ais_positions",
        file_id: Some(file_id),
        guard: Some(guard),
    };
    let c = copy_file(tx.client(), file, target, on_read).await?;
    if c.outside_scan {
        // The COPY was abandoned; dropping `tx` rolls everything back.
        return Ok(Direct::OutsideScan);
    }
    let counts = LedgerCounts {
        read: c.read,
        loaded: c.written,
        skipped: c.skipped,
        duplicate: 0,
    };
    store::finish(&tx, file_id, counts)
        .await
        .map_err(file.db("writing the file's counts to the ledger"))?;
    tx.commit().await.map_err(file.db("committing"))?;
    Ok(Direct::Done(report(counts, c.bad_rows, sha256)))
}

/// Rows may be stored already: parse into the staging table, then insert
/// the rows not stored yet, under the ingest lock. The staging table
/// exists; the caller drops it. Also returns the partitions created.
async fn staged(
    client: &mut Client,
    file: &FileCtx<'_>,
    sha256: &str,
    on_read: &dyn Fn(u64),
) -> Result<(IngestReport, Vec<String>), IngestError> {
    let target = Target {
        sql: store::COPY_STAGING,
        types: store::STAGING_TYPES,
        what: "the staging table",
        file_id: None,
        guard: None,
    };
    let c = copy_file(client, file, target, on_read).await?;
    // Normally made already from the scan; this is one catalog read then.
    let created = file.ensure_days(client, &c.days).await?;

    let (tx, file_id) = file.begin(client, sha256).await?;
    let Some(file_id) = file_id else {
        return Ok((file.seen_meanwhile(&tx, sha256).await?, created));
    };
    let started = std::time::Instant::now();
    let loaded = match c.span {
        Some((first, last)) => store::insert_new(&tx, file_id, first, last)
            .await
            .map_err(file.db("storing the new rows in kcg.ais_positions"))?,
        None => 0,
    };
    tracing::debug!(rows = loaded, ms = ms(started), "stored the new rows");
    let counts = LedgerCounts {
        read: c.read,
        loaded,
        skipped: c.skipped,
        duplicate: c.written.saturating_sub(loaded),
    };
    store::finish(&tx, file_id, counts)
        .await
        .map_err(file.db("writing the file's counts to the ledger"))?;
    tx.commit().await.map_err(file.db("committing"))?;
    Ok((report(counts, c.bad_rows, sha256), created))
}

/// The days and times the first pass found; a row outside them stops the
/// direct load.
/// What the scan of a file found, in partitions' days.
struct Scan {
    /// Every UTC day named that a partition can hold (years 1 to 9999).
    days: BTreeSet<Day>,
    /// `[lo, hi]` holding the time of every valid row.
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Scan {
    fn of(scan: &ais_csv::TimeScan) -> Self {
        Self {
            days: scan
                .days
                .iter()
                .filter_map(|d| Day::from_date(*d))
                .collect(),
            span: scan.span(),
        }
    }
}

#[derive(Clone, Copy)]
struct Guard<'a> {
    days: &'a BTreeSet<Day>,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Guard<'_> {
    fn admits(&self, ts: DateTime<Utc>) -> bool {
        self.span.is_some_and(|(lo, hi)| lo <= ts && ts <= hi)
            && Day::containing(ts).is_some_and(|d| self.days.contains(&d))
    }
}

/// Where [`copy_file`] writes.
struct Target<'a> {
    sql: &'static str,
    types: &'static [Type],
    /// For messages.
    what: &'static str,
    /// Written as an 18th column when given.
    file_id: Option<i64>,
    guard: Option<Guard<'a>>,
}

/// Reads the file again from its start and writes its rows by binary COPY
/// into `target`. When the guard refuses a row the COPY is abandoned (not
/// finished), and the result says so.
async fn copy_file(
    client: &Client,
    file: &FileCtx<'_>,
    target: Target<'_>,
    on_read: &dyn Fn(u64),
) -> Result<Counted, IngestError> {
    let (mut records, gzip) = file.open(on_read)?;
    file.header(&mut records, gzip)?;
    let started = std::time::Instant::now();
    let sink = client
        .copy_in(target.sql)
        .await
        .map_err(file.db("starting the COPY"))?;
    let writer = BinaryCopyInWriter::new(sink, target.types);
    futures_util::pin_mut!(writer);
    let c = copy_rows(
        writer.as_mut(),
        file,
        &mut records,
        gzip,
        target.file_id,
        target.guard,
    )
    .await?;
    if !c.outside_scan {
        writer
            .as_mut()
            .finish()
            .await
            .map_err(file.db("finishing the COPY"))?;
        tracing::debug!(
            rows = c.written,
            into = target.what,
            ms = ms(started),
            "copied"
        );
    }
    Ok(c)
}

/// Parses every record and writes the rows through `writer` (with
/// `file_id` as an 18th column when given). Stops, with `outside_scan`
/// set, at the first row `guard` refuses.
async fn copy_rows<R: Read>(
    mut writer: std::pin::Pin<&mut BinaryCopyInWriter>,
    file: &FileCtx<'_>,
    records: &mut Records<BufReader<R>>,
    gzip: bool,
    file_id: Option<i64>,
    guard: Option<Guard<'_>>,
) -> Result<Counted, IngestError> {
    let mut c = Counted::default();
    let mut last_day = None;
    let id = file_id.unwrap_or(0);
    let columns = if file_id.is_some() { 18 } else { 17 };
    loop {
        let item = match records.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            // The COPY is abandoned with the writer: nothing was stored.
            Err(e) => return Err(file.read_error(e, gzip)),
        };
        c.read += 1;
        let p = match item {
            Item::Row(_, p) => p,
            Item::Bad(bad) => {
                c.skipped += 1;
                tracing::debug!(line = bad.line, reason = %bad.reason, "skipping bad row");
                if c.bad_rows.len() < MAX_REPORTED_BAD_ROWS {
                    c.bad_rows.push(bad);
                }
                continue;
            }
        };
        if guard.is_some_and(|g| !g.admits(p.ts)) {
            c.outside_scan = true;
            return Ok(c);
        }
        // Parse refuses years outside 1..=9999, so every row has its day.
        if let Some(day) = Day::containing(p.ts)
            && last_day != Some(day)
        {
            c.days.insert(day);
            last_day = Some(day);
        }
        c.span = Some(match c.span {
            None => (p.ts, p.ts),
            Some((lo, hi)) => (lo.min(p.ts), hi.max(p.ts)),
        });
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
            &id,
        ];
        writer
            .as_mut()
            .write(&row[..columns])
            .await
            .map_err(file.db("copying rows"))?;
        c.written += 1;
    }
    Ok(c)
}

fn report(counts: LedgerCounts, bad_rows: Vec<BadRow>, sha256: &str) -> IngestReport {
    IngestReport {
        rows_read: counts.read,
        rows_loaded: counts.loaded,
        rows_skipped: counts.skipped,
        rows_already_present: counts.duplicate,
        bad_rows,
        sha256: sha256.to_owned(),
        seen_before: false,
        partitions_created: Vec::new(),
    }
}

fn ms(since: std::time::Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn seen_before(seen: LedgerCounts, sha256: String) -> IngestReport {
    IngestReport {
        rows_read: seen.read,
        rows_loaded: 0,
        rows_skipped: seen.skipped,
        rows_already_present: seen.loaded + seen.duplicate,
        bad_rows: Vec::new(),
        sha256,
        seen_before: true,
        partitions_created: Vec::new(),
    }
}

/// An opened file's records, decompressed when it is gzip.
type Opened<'p> = Records<BufReader<Box<dyn Read + 'p>>>;

/// The file being ingested, for opening it and naming it in errors.
struct FileCtx<'a> {
    path: &'a Path,
}

impl FileCtx<'_> {
    /// The name the ledger records.
    fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// Makes the day partitions of `days` (its own short transaction:
    /// creating a partition locks the whole table until commit); the names
    /// of those created.
    async fn ensure_days(
        &self,
        client: &mut Client,
        days: &BTreeSet<Day>,
    ) -> Result<Vec<String>, IngestError> {
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Ok(Vec::new());
        };
        if days.len() > MAX_DAYS_PER_FILE {
            return Err(IngestError::TooManyDays {
                path: self.path.to_owned(),
                days: days.len(),
                first: *first,
                last: *last,
            });
        }
        let days: Vec<Day> = days.iter().copied().collect();
        let made = partitions::ensure(client, &POSITIONS, &days)
            .await
            .map_err(|source| IngestError::Partitions {
                path: self.path.to_owned(),
                source: Box::new(source),
            })?;
        Ok(made.created.into_iter().map(|c| c.partition.name).collect())
    }

    /// Starts the transaction that stores the rows: takes the ingest lock and
    /// adds the file to the ledger (its id; `None` when these bytes are
    /// there already).
    async fn begin<'c>(
        &self,
        client: &'c mut Client,
        sha256: &str,
    ) -> Result<(tokio_postgres::Transaction<'c>, Option<i64>), IngestError> {
        let tx = client
            .transaction()
            .await
            .map_err(self.db("starting the transaction"))?;
        let id = store::begin(&tx, sha256, &self.name())
            .await
            .map_err(self.db("adding the file to the ledger kcg.ais_ingested_files"))?;
        Ok((tx, id))
    }

    /// The report for a file whose bytes another ingest stored while this
    /// one read it.
    async fn seen_meanwhile(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        sha256: &str,
    ) -> Result<IngestReport, IngestError> {
        let seen = store::find(tx, sha256)
            .await
            .map_err(self.db("reading the ledger kcg.ais_ingested_files"))?
            .unwrap_or_default();
        Ok(seen_before(seen, sha256.to_owned()))
    }

    fn io(&self, after_line: Option<u64>, source: std::io::Error) -> IngestError {
        IngestError::Io {
            path: self.path.to_owned(),
            after_line,
            source,
        }
    }

    fn db(&self, doing: &'static str) -> impl FnOnce(tokio_postgres::Error) -> IngestError {
        let path = self.path.to_owned();
        move |source| IngestError::Db {
            path,
            doing,
            source,
        }
    }

    /// What a failed read means: for gzip, the decompressor's verdict.
    fn read_error(&self, e: ReadError, gzip: bool) -> IngestError {
        let path = self.path.to_owned();
        match e.source.kind() {
            std::io::ErrorKind::UnexpectedEof if gzip => IngestError::Truncated {
                path,
                after_line: e.after_line,
            },
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput if gzip => {
                IngestError::Corrupt {
                    path,
                    after_line: e.after_line,
                    source: e.source,
                }
            }
            _ => self.io(Some(e.after_line), e.source),
        }
    }

    /// Opens a plain or gzip CSV (recognised by its magic bytes, not its
    /// name); true for gzip.
    fn open<'p>(&self, on_read: &'p dyn Fn(u64)) -> Result<(Opened<'p>, bool), IngestError> {
        let mut f = File::open(self.path).map_err(|e| self.io(None, e))?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(|e| self.io(None, e))?;
        let f = File::open(self.path).map_err(|e| self.io(None, e))?;
        let counted = Counting {
            inner: BufReader::with_capacity(1 << 16, f),
            read: 0,
            on_read,
            last: 0,
        };
        let gzip = n == 2 && magic == [0x1f, 0x8b];
        let inner: Box<dyn Read + 'p> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(counted))
        } else {
            Box::new(counted)
        };
        Ok((Records::new(BufReader::with_capacity(1 << 16, inner)), gzip))
    }

    /// Reads the header and refuses anything but the MarineCadastre one.
    fn header<R: Read>(
        &self,
        records: &mut Records<BufReader<R>>,
        gzip: bool,
    ) -> Result<(), IngestError> {
        let found = records.header().map_err(|e| self.read_error(e, gzip))?;
        match found {
            Some(h) if ais_csv::is_header(&h) => Ok(()),
            found => Err(IngestError::Header {
                path: self.path.to_owned(),
                found: found.map_or_else(
                    || "(nothing: the file is empty)".to_owned(),
                    |h| {
                        h.iter()
                            .map(|f| f.trim().escape_debug().to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    },
                ),
            }),
        }
    }
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
