//! Measures the reference detectors the way analysts meet them: known
//! anomalies are injected into the real tracks of the bundled AIS sample,
//! labelled, and what the cycles flag is scored against the labels.
//!
//! [`inject`] is seeded and deterministic: the same sample, [`Plan`] and
//! seed give byte-identical records and labels. Four kinds are injected
//! ([`Kind`]): a second transmitter sharing a vessel's identity (a real
//! track of another vessel, moved to a given separation), a teleport (the
//! rest of a track moved a given distance), a speed spoof (the rest of a
//! track replaced by a straight run at a given speed), and a lone glitch
//! (one fix moved, or one extra report at the same instant elsewhere),
//! which must *not* be flagged. [`score`] turns what was flagged
//! ([`Flags`]) into recall per kind and magnitude and the false-alarm rate
//! on the untouched vessels, as `name: value` lines ([`Scores::lines`]).
//! [`replay_in_memory`] runs the cycles without a database (with any params:
//! the sweep that chose the defaults); `cargo xtask eval` runs them end to
//! end through the pipeline and PostgreSQL (`tests/end_to_end.rs`).
//!
//! This crate never does I/O and never reads the clock: it is handed
//! records and flags, and returns records, labels and figures.

mod error;
mod geo;
mod inject;
mod memory;
mod record;
mod rng;
mod score;

pub use error::EvalError;
pub use inject::{Kind, Label, Labelled, Plan, inject, known_real_anomalies};
pub use memory::{ParamOverrides, replay_in_memory};
pub use record::{COLUMNS, HEADER, Record};
pub use rng::SplitMix64;
pub use score::{Flags, Scores, score};
