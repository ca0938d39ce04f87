//! MarineCadastre AIS CSV, read by the very rules `ingest` stores it with:
//! [`Records`] splits a stream into records strictly (RFC 4180 where it
//! matters; one broken line costs only itself), [`Position::parse`] turns a
//! record into a typed position or a [`BadRow`] naming line and column. On
//! top, what a model author's test needs to run a model on the real sample
//! without a database: [`read_fixes`] (a file, plain or gzip, to the
//! [`Fix`]es a cycle would load) and [`Sample`] (those fixes cut into the
//! cleaned [`AisWindow`] of any cycle).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! let sample = ais_csv::Sample::bundled()?;
//! assert_eq!(sample.fixes().len(), 74_731);
//! let at = Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap();
//! let (window, stats) = sample.window(at, chrono::TimeDelta::minutes(10))?;
//! assert!(window.vessel_count() > 5_000);
//! assert_eq!(stats.input, stats.kept + stats.dropped());
//! # Ok::<(), ais_csv::CsvError>(())
//! ```
//!
//! This crate is versioned (semver; see its CHANGELOG.md). It never talks
//! to a database, never writes a file, and never cleans or judges a
//! position itself: the cleaning of a window is `ais_types::clean`, the
//! same function stage 2 of a cycle runs.
#![deny(missing_docs)]

mod parse;
mod records;
mod sample;

pub use ais_types::{AisWindow, CleanStats, Fix, WindowBounds};
pub use parse::{BadRow, HEADER, Position, column_name, is_header};
pub use records::{Item, MAX_RECORD_BYTES, MAX_RECORD_LINES, ReadError, Records, TimeScan};
pub use sample::{CsvError, Sample, bundled_sample_path, read_fixes};
