//! How bad a finding is.

use std::fmt;
use std::str::FromStr;

/// How bad a finding is; the strings are those the database's CHECK
/// constraints accept. Ordered LOW < MEDIUM < HIGH < CRITICAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `LOW`
    Low = 0,
    /// `MEDIUM`
    Medium = 1,
    /// `HIGH`
    High = 2,
    /// `CRITICAL`
    Critical = 3,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// A score for it: 0.25, 0.5, 0.75, 1.
    pub fn score(self) -> f64 {
        match self {
            Severity::Low => 0.25,
            Severity::Medium => 0.5,
            Severity::High => 0.75,
            Severity::Critical => 1.0,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}; expected LOW, MEDIUM, HIGH or CRITICAL")]
pub struct SeverityParseError(pub String);

impl FromStr for Severity {
    type Err = SeverityParseError;

    fn from_str(s: &str) -> Result<Self, SeverityParseError> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| SeverityParseError(s.to_owned()))
    }
}
