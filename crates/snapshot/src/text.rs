//! Aligned plain-text building blocks of the reports: section tables (on
//! [`crate::table`]), key/value blocks, headings and the number formats
//! every section shares.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::table::Table;

/// Indentation of everything inside a section.
pub(crate) const INDENT: &str = "  ";

/// A section's table: columns as `(header, right_aligned)`, indented
/// with [`INDENT`].
pub(crate) fn table(columns: &[(&str, bool)]) -> Table {
    Table::new(columns).indented(INDENT)
}

/// `key  value` lines with the keys padded to the longest one.
pub(crate) fn pairs(out: &mut String, pairs: &[(&str, String)]) {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, v) in pairs {
        let line = format!("{INDENT}{k:<width$}  {v}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// One indented line.
pub(crate) fn line(out: &mut String, text: &str) {
    out.push_str(INDENT);
    out.push_str(text);
    out.push('\n');
}

/// A section heading: `== 3. detection models ==` plus ` ALARM` when in alarm.
pub(crate) fn heading(out: &mut String, title: &str, alarm: bool) {
    out.push('\n');
    let _ = write!(out, "== {title} ==");
    if alarm {
        out.push_str(" ALARM");
    }
    out.push('\n');
}

/// Notes such as "no rows in kcg.x in window".
pub(crate) fn notes(out: &mut String, notes: &[String]) {
    for n in notes {
        line(out, &format!("note: {n}"));
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Milliseconds with one decimal, `-` when absent.
pub(crate) fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// A ratio with three decimals, `-` when absent.
pub(crate) fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

pub(crate) fn opt(v: Option<&str>) -> String {
    v.unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_pad_keys_and_trim() {
        let mut out = String::new();
        pairs(&mut out, &[("a", "1".into()), ("long key", String::new())]);
        assert_eq!(out, "  a         1\n  long key\n");
    }
}
