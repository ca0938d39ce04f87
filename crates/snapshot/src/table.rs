//! Aligned plain-text tables: the one renderer of the workspace (the
//! snapshot reports and the runner's listings both use it).
//!
//! Columns are padded to their widest cell (counted in characters),
//! separated by two spaces, left- or right-aligned; trailing spaces are
//! trimmed and every line ends with `\n`. Control characters in a cell (a
//! panic message's newline, say) are escaped, so one row stays one line.
//!
//! ```
//! use snapshot::table::Table;
//! let mut t = Table::new(&[("model", false), ("runs", true)]);
//! t.row(vec!["spoofing_score".into(), "12".into()]);
//! t.row(vec!["risk".into(), "3".into()]);
//! t.row(vec!["line\nbreak".into(), "1".into()]);
//! assert_eq!(
//!     t.render(),
//!     "model           runs\nspoofing_score    12\nrisk               3\nline\\nbreak        1\n"
//! );
//! ```

use std::fmt::Write as _;

/// A table being built; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
    indent: String,
}

impl Table {
    /// Columns as `(header, right_aligned)`.
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|c| one_line(c.0.to_owned())).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
            indent: String::new(),
        }
    }

    /// Every line starts with `prefix` (e.g. a section's indentation).
    pub fn indented(mut self, prefix: &str) -> Table {
        self.indent = prefix.to_owned();
        self
    }

    /// Adds a row; control characters are escaped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(one_line).collect());
    }

    /// Appends the header line and the rows to `out`.
    pub fn write(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let n = cell.chars().count();
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(n),
                    None => widths.push(n),
                }
            }
        }
        self.write_row(out, &self.headers, &widths);
        for row in &self.rows {
            self.write_row(out, row, &widths);
        }
    }

    /// The table as a string.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write_row(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        let mut line = self.indent.clone();
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

fn one_line(s: String) -> String {
    if s.chars().any(char::is_control) {
        s.chars().flat_map(char::escape_default).collect()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&[("name", false), ("n", true)]).indented("  ");
        t.row(vec!["a".into(), "1000".into()]);
        t.row(vec!["longer".into(), "2".into()]);
        assert_eq!(
            t.render(),
            "  name       n\n  a       1000\n  longer     2\n"
        );
    }

    #[test]
    fn cells_beyond_the_headers_are_aligned_too() {
        let mut t = Table::new(&[("a", false)]);
        t.row(vec!["x".into(), "long".into(), "z".into()]);
        t.row(vec!["y".into(), "s".into(), "z".into()]);
        assert_eq!(t.render(), "a\nx  long  z\ny  s     z\n");
    }
}
