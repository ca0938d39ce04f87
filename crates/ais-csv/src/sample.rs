//! A whole file as the fixes a cycle would load, and the windows of cycles
//! cut from it, for tests that need no database.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ais_types::{AisWindow, CleanStats, Fix, WindowBounds, clean};
use chrono::{DateTime, TimeDelta, Utc};

use crate::{BadRow, Item, Records, is_header};

/// A file could not be read as MarineCadastre AIS CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading stopped partway (a truncated gzip stream, a failing disk).
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause, naming the last complete line.
        #[source]
        source: crate::ReadError,
    },
    /// The header is not MarineCadastre's.
    #[error("{path} is not a MarineCadastre AIS CSV: its header is {found:?}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The header found.
        found: String,
    },
    /// No window of that length can end at that time.
    #[error(transparent)]
    Window(#[from] ais_types::WindowOutOfRange),
}

/// The bundled real sample, `data/ais-2022-01-03-sample.csv.gz` of this
/// repository (US coastal waters, 2022-01-03, public domain): 74,731 reports
/// of 7,947 MMSIs. A path into the source tree, so it holds for a crate
/// used by path or git, not for a published one.
pub fn bundled_sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ais-2022-01-03-sample.csv.gz")
}

/// Every valid row of the file at `path` (plain, or gzip by its magic
/// bytes) as a [`Fix`], in file order, and the bad rows with their line and
/// reason: what `runner ingest` would store and skip, read by the same
/// rules. Nothing is cleaned: [`Sample::window`] does that.
pub fn read_fixes(path: &Path) -> Result<(Vec<Fix>, Vec<BadRow>), CsvError> {
    let io = |source| CsvError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let gzip = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut records = Records::new(BufReader::with_capacity(1 << 16, inner));
    let read = |source| CsvError::Read {
        path: path.to_owned(),
        source,
    };
    let header = records.header().map_err(read)?.unwrap_or_default();
    if !is_header(&header) {
        return Err(CsvError::Header {
            path: path.to_owned(),
            found: header.join(","),
        });
    }
    let (mut fixes, mut bad) = (Vec::new(), Vec::new());
    while let Some(item) = records.next_item().map_err(read)? {
        match item {
            Item::Row(_, p) => fixes.push(Fix::from(p)),
            Item::Bad(b) => bad.push(b),
        }
    }
    Ok((fixes, bad))
}

impl From<crate::Position> for Fix {
    /// The columns of a position a cycle loads (`kcg.ais_positions` to
    /// stage 1).
    fn from(p: crate::Position) -> Fix {
        Fix {
            mmsi: p.mmsi,
            ts: p.ts,
            lat: p.lat,
            lon: p.lon,
            sog: p.sog,
            cog: p.cog,
            heading: p.heading,
            vessel_name: p.vessel_name,
            vessel_type: p.vessel_type,
        }
    }
}

/// The fixes of a file, to cut the windows of cycles from, as stage 1 and
/// 2 of a cycle would (without carried state: a model that needs it
/// attaches it with [`AisWindow::with_carried`]).
#[derive(Debug, Clone)]
pub struct Sample {
    fixes: Vec<Fix>,
}

impl Sample {
    /// The fixes of the file at `path` ([`read_fixes`]; bad rows are left
    /// out, as ingest leaves them out).
    pub fn read(path: &Path) -> Result<Self, CsvError> {
        read_fixes(path).map(|(fixes, _)| Self { fixes })
    }

    /// The bundled real sample ([`bundled_sample_path`]).
    pub fn bundled() -> Result<Self, CsvError> {
        Self::read(&bundled_sample_path())
    }

    /// Every fix, in file order.
    pub fn fixes(&self) -> &[Fix] {
        &self.fixes
    }

    /// The cleaned window of the cycle at `cycle_ts`: the fixes in
    /// `(cycle_ts - length, cycle_ts]`, cleaned by [`clean`], and what
    /// cleaning dropped; [`CsvError::Window`] when no window of `length`
    /// can end at `cycle_ts` (a negative or extreme length).
    pub fn window(
        &self,
        cycle_ts: DateTime<Utc>,
        length: TimeDelta,
    ) -> Result<(AisWindow, CleanStats), CsvError> {
        Ok(self.window_of(WindowBounds::ending_at(cycle_ts, length)?))
    }

    /// The cleaned window of the fixes within `bounds`.
    pub fn window_of(&self, bounds: WindowBounds) -> (AisWindow, CleanStats) {
        let raw = self
            .fixes
            .iter()
            .filter(|f| bounds.contains(f.ts))
            .cloned()
            .collect();
        clean(bounds, raw)
    }
}
