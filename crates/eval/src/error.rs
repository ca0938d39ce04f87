//! The crate's error type.

/// What went wrong, naming the line and column of a bad record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The replay's window cannot end at one of its times.
    #[error(transparent)]
    Window(#[from] detectors::WindowOutOfRange),
    /// A record has the wrong number of columns.
    #[error("line {line}: {found} columns, expected {expected}")]
    Columns {
        /// 1-based line of the CSV (the header is line 1).
        line: u64,
        /// Columns found.
        found: usize,
        /// Columns expected.
        expected: usize,
    },
    /// A field does not parse.
    #[error("line {line}, column {column}: cannot read {value:?}")]
    Field {
        /// 1-based line of the CSV.
        line: u64,
        /// The column's name.
        column: &'static str,
        /// The text found.
        value: String,
    },
    /// The sample has too few vessels fit to inject into.
    #[error("{kind}: {wanted} vessels wanted, only {eligible} fit for injection")]
    TooFewVessels {
        /// The kind being injected.
        kind: &'static str,
        /// Vessels wanted.
        wanted: usize,
        /// Vessels that fit.
        eligible: usize,
    },
    /// A model could not be built or run in memory.
    #[error("model {model}: {message}")]
    Model {
        /// The model id.
        model: String,
        /// What it said.
        message: String,
    },
}
