//! Aligned plain-text building blocks: tables, key/value blocks and the
//! number formats every section shares.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

/// Indentation of everything inside a section.
pub(crate) const INDENT: &str = "  ";

/// A table whose columns are padded to their widest cell; numeric columns
/// are right-aligned.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as `(header, right_aligned)`.
    pub(crate) fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; control characters (a panic message's newlines, say)
    /// are escaped so that one row stays one line.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| one_line(&c)).collect());
    }

    pub(crate) fn write(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        self.write_row(out, &header, &widths);
        for row in &self.rows {
            self.write_row(out, row, &widths);
        }
    }

    fn write_row(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        let mut line = String::from(INDENT);
        for (i, cell) in cells.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                line.push_str("  ");
            }
            if self.right.get(i).copied().unwrap_or(false) {
                let _ = write!(line, "{cell:>width$}");
            } else {
                let _ = write!(line, "{cell:<width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn one_line(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars().flat_map(char::escape_default).collect()
    } else {
        s.to_owned()
    }
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
    fn table_aligns_columns() {
        let mut t = Table::new(&[("name", false), ("n", true)]);
        t.row(vec!["a".into(), "1000".into()]);
        t.row(vec!["longer".into(), "2".into()]);
        let mut out = String::new();
        t.write(&mut out);
        assert_eq!(out, "  name       n\n  a       1000\n  longer     2\n");
    }

    #[test]
    fn pairs_pad_keys_and_trim() {
        let mut out = String::new();
        pairs(&mut out, &[("a", "1".into()), ("long key", String::new())]);
        assert_eq!(out, "  a         1\n  long key\n");
    }
}
