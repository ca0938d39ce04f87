//! The file's bytes to records, strictly (RFC 4180 where it matters), and
//! never letting one broken line take others with it.
//!
//! The rules, in order:
//!
//! - A line ends at `\n` (a `\r` right before it belongs to the line end).
//!   A blank line is not a row.
//! - A field is quoted when it starts with `"`; inside it `""` is a quote,
//!   and the closing quote must be followed by `,` or the line end (RFC
//!   4180). A quote inside an unquoted field is kept as a character (the
//!   `csv` crate's reading).
//! - Only a quoted field may carry a record across a line break, and a
//!   record may span at most [`MAX_RECORD_LINES`] lines and
//!   [`MAX_RECORD_BYTES`] bytes. A longer line is a bad row by itself.
//! - A record spanning several lines is accepted only when it is a valid row
//!   and none of the lines it would take in is a valid row on its own.
//! - Whenever a record breaks one of these rules, its first line is a bad
//!   row (reported with its number and what is wrong) and reading starts
//!   again at the next line, which is read as a record of its own. So an
//!   unbalanced quote costs exactly its own line.

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, BufRead};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::parse::{BadRow, HEADER, Position, column_name};

/// The most physical lines one record may span (a quoted field with at most
/// three line breaks). MarineCadastre rows are one line each.
pub const MAX_RECORD_LINES: usize = 4;

/// The most bytes one record (or one line) may hold; a MarineCadastre row
/// is about 150.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// One item of the file: a row to store, or a bad row.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A valid row at `line` (its first line).
    Row(u64, Position),
    /// A row refused, with its line and why.
    Bad(BadRow),
}

/// What [`Records::scan_times`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeScan {
    /// Every UTC day named.
    pub days: BTreeSet<NaiveDate>,
    /// The earliest `YYYY-MM-DDTHH:MM:SS` named (not necessarily a valid time).
    pub first: Option<[u8; 19]>,
    /// The latest.
    pub last: Option<[u8; 19]>,
}

impl TimeScan {
    /// `[lo, hi]` holding the time of every valid row: the earliest and
    /// latest time named, or where that text is no valid time, the start of
    /// the first day and the end of the last.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (Some(first), Some(last)) = (self.days.first(), self.days.last()) else {
            return None;
        };
        let exact = |t: Option<[u8; 19]>| {
            let t = t?;
            let t = std::str::from_utf8(&t).ok()?;
            NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        };
        Some((
            exact(self.first).unwrap_or_else(|| first.and_time(chrono::NaiveTime::MIN).and_utc()),
            exact(self.last).unwrap_or_else(|| {
                (*last + chrono::Days::new(1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
            }),
        ))
    }
}

/// Reading failed: the underlying reader (file or decompressor) returned an
/// error after `after_line` complete lines.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the CSV after line {after_line}")]
pub struct ReadError {
    /// Complete lines read before the error.
    pub after_line: u64,
    /// The reader's error.
    #[source]
    pub source: io::Error,
}

struct Line {
    /// 1-based physical line number.
    no: u64,
    /// The line with its terminator, truncated at [`MAX_RECORD_BYTES`] + 1.
    bytes: Vec<u8>,
    /// Its real length, which may be more than `bytes` holds.
    len: usize,
}

impl Line {
    fn too_long(&self) -> bool {
        self.len > MAX_RECORD_BYTES
    }

    fn is_blank(&self) -> bool {
        matches!(self.bytes.as_slice(), b"\n" | b"\r\n" | b"")
    }
}

/// How a tokenizing attempt ended.
enum Split {
    /// A record of this many lines is in the buffer.
    Complete(usize),
    /// The last line ends inside a quoted field (opened in this field).
    NeedMore(usize),
    /// Broken; the reason names the column.
    Broken(String),
}

/// Records of a CSV stream, header first (see [`Records::header`]), by the
/// rules of this module.
pub struct Records<R> {
    inner: R,
    lines_read: u64,
    eof: bool,
    pending: VecDeque<Line>,
    spare: Vec<Vec<u8>>,
    record: csv::ByteRecord,
    scratch: csv::ByteRecord,
    field: Vec<u8>,
}

impl<R: BufRead> Records<R> {
    /// Records of `inner` (plain CSV: decompress first).
    pub fn new(inner: R) -> Self {
        Records {
            inner,
            lines_read: 0,
            eof: false,
            pending: VecDeque::new(),
            spare: Vec::new(),
            record: csv::ByteRecord::new(),
            scratch: csv::ByteRecord::new(),
            field: Vec::new(),
        }
    }

    /// The first non-blank record, as text (a leading UTF-8 BOM removed),
    /// whatever it holds; `None` for an empty stream. Its line is consumed
    /// either way.
    pub fn header(&mut self) -> Result<Option<Vec<String>>, ReadError> {
        if !self.next_nonblank()? {
            return Ok(None);
        }
        let mut fields: Vec<String> =
            match split(&self.pending, 1, &mut self.record, &mut self.field) {
                Split::Complete(_) => self
                    .record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
                // A broken header is shown as the line it is.
                _ => vec![
                    String::from_utf8_lossy(&self.pending[0].bytes)
                        .trim_end()
                        .to_owned(),
                ],
            };
        self.pop_front();
        if let Some(first) = fields.first_mut() {
            *first = first.trim_start_matches('\u{feff}').to_owned();
        }
        Ok(Some(fields))
    }

    /// Reads the rest of the stream without parsing rows: the UTC days and
    /// the earliest and latest time that the lines' second field
    /// (`BaseDateTime`) names. A superset of what the rows hold: every
    /// record starts on a line of its own, and lines that are not rows
    /// (bad rows, continuation lines) may add days. Cheap: one look at
    /// 19 bytes per line.
    pub fn scan_times(&mut self) -> Result<TimeScan, ReadError> {
        let mut scan = TimeScan::default();
        let mut last_date = [0u8; 10];
        while self.read_line()? {
            let line = &self.pending[0].bytes;
            if let Some(comma) = line.iter().position(|&b| b == b',')
                && let Some(ts) = line.get(comma + 1..comma + 20)
                && ts[4] == b'-'
                && ts[7] == b'-'
                && ts[10] == b'T'
            {
                if ts[..10] != last_date[..] {
                    let day = std::str::from_utf8(&ts[..10])
                        .ok()
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                    if let Some(day) = day {
                        scan.days.insert(day);
                        last_date.copy_from_slice(&ts[..10]);
                    }
                }
                // Fixed width: byte order is time order.
                let ts: [u8; 19] = ts.try_into().unwrap_or([b'0'; 19]);
                if scan.first.is_none_or(|f| ts < f) {
                    scan.first = Some(ts);
                }
                if scan.last.is_none_or(|l| ts > l) {
                    scan.last = Some(ts);
                }
            }
            self.pop_front();
        }
        Ok(scan)
    }

    /// The next row or bad row; `None` at the end of the stream.
    pub fn next_item(&mut self) -> Result<Option<Item>, ReadError> {
        loop {
            if !self.next_nonblank()? {
                return Ok(None);
            }
            let first = self.pending[0].no;
            let broken = match split(
                &self.pending,
                self.pending.len(),
                &mut self.record,
                &mut self.field,
            ) {
                Split::Complete(1) => {
                    let item = row(&self.record, first);
                    self.pop_front();
                    return Ok(Some(item));
                }
                Split::Complete(n) => match self.accept_multiline(n) {
                    Ok(p) => {
                        for _ in 0..n {
                            self.pop_front();
                        }
                        return Ok(Some(Item::Row(first, p)));
                    }
                    Err(reason) => reason,
                },
                Split::NeedMore(field) => {
                    let bytes: usize = self.pending.iter().map(|l| l.len).sum();
                    if self.pending.len() >= MAX_RECORD_LINES || bytes > MAX_RECORD_BYTES {
                        format!(
                            "{}: the quote opened in this field is not closed within {} lines \
                             ({} bytes): unbalanced quote",
                            column_name(field),
                            MAX_RECORD_LINES,
                            MAX_RECORD_BYTES
                        )
                    } else if self.read_line()? {
                        continue;
                    } else {
                        format!(
                            "{}: the quote opened in this field is never closed (end of file): \
                             unbalanced quote",
                            column_name(field)
                        )
                    }
                }
                Split::Broken(reason) => reason,
            };
            self.pop_front();
            return Ok(Some(Item::Bad(BadRow {
                line: first,
                reason: broken,
            })));
        }
    }

    /// A record of `n > 1` lines: the row it makes, or why its first line
    /// is a bad row instead.
    fn accept_multiline(&mut self, n: usize) -> Result<Position, String> {
        let last = self.pending[n - 1].no;
        let first = self.pending[0].no;
        let opened = |why: String| {
            format!("a quoted field here runs on to line {last} and {why}; unbalanced quote?")
        };
        let p = match row(&self.record, first) {
            Item::Row(_, p) => p,
            Item::Bad(b) => {
                return Err(opened(format!("does not make a valid row ({})", b.reason)));
            }
        };
        for line in self.pending.iter().take(n).skip(1) {
            if let Split::Complete(1) = split_lines([line], &mut self.scratch, &mut self.field)
                && matches!(row(&self.scratch, line.no), Item::Row(..))
            {
                return Err(opened(format!(
                    "would take in line {}, a valid row of its own",
                    line.no
                )));
            }
        }
        Ok(p)
    }

    /// Makes `pending[0]` the next line that is not blank (blank lines are
    /// not rows); false at the end of the stream.
    fn next_nonblank(&mut self) -> Result<bool, ReadError> {
        loop {
            if self.pending.is_empty() && !self.read_line()? {
                return Ok(false);
            }
            if !self.pending[0].is_blank() {
                return Ok(true);
            }
            self.pop_front();
        }
    }

    /// Reads one more line into `pending`; false at the end of the stream.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        if self.eof {
            return Ok(false);
        }
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.clear();
        let mut len = 0usize;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ReadError {
                        after_line: self.lines_read,
                        source,
                    });
                }
            };
            if buf.is_empty() {
                self.eof = true;
                break;
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = (MAX_RECORD_BYTES + 1).saturating_sub(bytes.len());
            bytes.extend_from_slice(&buf[..take.min(room)]);
            len += take;
            self.inner.consume(take);
            if done {
                break;
            }
        }
        if len == 0 {
            self.spare.push(bytes);
            return Ok(false);
        }
        self.lines_read += 1;
        self.pending.push_back(Line {
            no: self.lines_read,
            bytes,
            len,
        });
        Ok(true)
    }

    fn pop_front(&mut self) {
        if let Some(l) = self.pending.pop_front() {
            self.spare.push(l.bytes);
        }
    }
}

/// A complete record to a row or a bad row (not UTF-8, or refused by
/// [`Position::parse`]).
fn row(record: &csv::ByteRecord, line: u64) -> Item {
    // Checked per field so the bad row can name the column.
    let mut fields: Vec<&str> = Vec::with_capacity(HEADER.len());
    for (i, f) in record.iter().enumerate() {
        match std::str::from_utf8(f) {
            Ok(s) => fields.push(s),
            Err(_) => {
                return Item::Bad(BadRow {
                    line,
                    reason: format!("{}: not valid UTF-8", column_name(i)),
                });
            }
        }
    }
    match Position::parse_fields(&fields, line) {
        Ok(p) => Item::Row(line, p),
        Err(b) => Item::Bad(b),
    }
}

/// Tokenizes the record that starts at the first of `lines` (at most
/// `upto` of them) into `record`.
fn split(
    lines: &VecDeque<Line>,
    upto: usize,
    record: &mut csv::ByteRecord,
    field: &mut Vec<u8>,
) -> Split {
    split_lines(lines.iter().take(upto), record, field)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    Start,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Right after a quote inside a quoted field: an escaped quote follows,
    /// or the field ends.
    QuoteSeen,
}

fn split_lines<'a>(
    lines: impl IntoIterator<Item = &'a Line>,
    record: &mut csv::ByteRecord,
    field: &mut Vec<u8>,
) -> Split {
    record.clear();
    field.clear();
    let mut state = State::Start;
    for (i, line) in lines.into_iter().enumerate() {
        if line.too_long() {
            return Split::Broken(if i == 0 {
                format!(
                    "the line is {} bytes long; a row may hold at most {MAX_RECORD_BYTES}",
                    line.len
                )
            } else {
                format!(
                    "{}: a quoted field here runs on to line {}, which is {} bytes long; \
                     unbalanced quote?",
                    column_name(record.len()),
                    line.no,
                    line.len
                )
            });
        }
        let b = &line.bytes;
        let mut j = 0;
        while j < b.len() {
            let c = b[j];
            let at_end = c == b'\n' || (c == b'\r' && b.get(j + 1) == Some(&b'\n'));
            match state {
                State::Start | State::Unquoted if at_end => {
                    record.push_field(field);
                    return Split::Complete(i + 1);
                }
                State::Start if c == b'"' => state = State::Quoted,
                State::Start | State::Unquoted if c == b',' => {
                    record.push_field(field);
                    field.clear();
                    state = State::Start;
                }
                State::Start | State::Unquoted => {
                    field.push(c);
                    state = State::Unquoted;
                }
                State::Quoted if c == b'"' => state = State::QuoteSeen,
                State::Quoted => field.push(c),
                State::QuoteSeen if c == b'"' => {
                    field.push(b'"');
                    state = State::Quoted;
                }
                State::QuoteSeen if c == b',' => {
                    record.push_field(field);
                    field.clear();
                    state = State::Start;
                }
                State::QuoteSeen if at_end => {
                    record.push_field(field);
                    return Split::Complete(i + 1);
                }
                State::QuoteSeen => {
                    let rest = String::from_utf8_lossy(&b[j..b.len().min(j + 20)]);
                    let rest = rest.trim_end();
                    let column = column_name(record.len());
                    return Split::Broken(if i == 0 {
                        format!(
                            "{column}: text after the closing quote ({rest:?}); a quoted field \
                             must end with a quote followed by a comma or the line end"
                        )
                    } else {
                        format!(
                            "{column}: the quote opened in this field closes on line {} with \
                             text after it ({rest:?}): unbalanced quote",
                            line.no
                        )
                    });
                }
            }
            j += 1;
        }
        // The line had no terminator: the last line of the stream.
        if state != State::Quoted && b.last() != Some(&b'\n') {
            record.push_field(field);
            return Split::Complete(i + 1);
        }
    }
    Split::NeedMore(record.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "368007760,2022-01-03T00:00:09,47.99793,-122.21675,0.0,216.3,511,ROXIA,,WDJ7542,37,0,20,6,2.0,37,A";

    fn row_with(mmsi: u64, name: &str) -> String {
        ROW.replacen("368007760", &mmsi.to_string(), 1)
            .replacen("ROXIA", name, 1)
    }

    /// `(loaded lines, bad lines with reasons)` of `text` (no header).
    fn read(text: &[u8]) -> (Vec<(u64, Position)>, Vec<BadRow>) {
        let mut r = Records::new(text);
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        while let Some(item) = r.next_item().unwrap() {
            match item {
                Item::Row(l, p) => ok.push((l, p)),
                Item::Bad(b) => bad.push(b),
            }
        }
        (ok, bad)
    }

    fn lines_of(v: &[(u64, Position)]) -> Vec<u64> {
        v.iter().map(|(l, _)| *l).collect()
    }

    #[test]
    fn one_line_rows_quoted_or_not() {
        let text = format!(
            "{}\r\n{}\n\n{}",
            row_with(1, "\"A, \"\"B\"\" C\""),
            row_with(2, "PLAIN"),
            row_with(3, "LAST NO NEWLINE")
        );
        let (ok, bad) = read(text.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(lines_of(&ok), [1, 2, 4]);
        assert_eq!(ok[0].1.vessel_name.as_deref(), Some("A, \"B\" C"));
        assert_eq!(ok[2].1.vessel_name.as_deref(), Some("LAST NO NEWLINE"));
    }

    #[test]
    fn an_unbalanced_quote_costs_only_its_line() {
        let mut lines: Vec<String> = (1..=30).map(|i| row_with(i, "NAME")).collect();
        lines[4] = row_with(5, "\"BROKEN");
        // A later quoted name: the broken quote would close on it.
        lines[6] = row_with(7, "\"X, INC\"");
        let (ok, bad) = read(lines.join("\n").as_bytes());
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].line, 5);
        assert!(
            bad[0].reason.starts_with("VesselName:") && bad[0].reason.contains("unbalanced quote"),
            "{}",
            bad[0]
        );
        assert_eq!(ok.len(), 29);
        assert!(!lines_of(&ok).contains(&5));
    }

    #[test]
    fn an_unbalanced_quote_that_closes_within_the_limit_still_takes_nothing() {
        // The quote opened on line 1 closes at the end of line 3's name and
        // a comma follows: 17 fields would be found, swallowing line 2.
        let text = format!(
            "{}\n{}\n{}\n",
            row_with(1, "\"OPEN"),
            row_with(2, "FINE"),
            "X\",IMO1,CALL,37,0,20,6,2.0,37,A"
        );
        let (ok, bad) = read(text.as_bytes());
        assert_eq!(lines_of(&ok), [2]);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn a_real_multiline_field_is_one_row() {
        let text = format!(
            "{}\n{}\n",
            row_with(1, "\"TWO\nLINES\""),
            row_with(2, "NEXT")
        );
        let (ok, bad) = read(text.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(lines_of(&ok), [1, 3]);
        assert_eq!(ok[0].1.vessel_name.as_deref(), Some("TWO\nLINES"));
    }

    #[test]
    fn text_after_a_closing_quote_is_a_bad_row() {
        let text = format!("{}\n{}\n", row_with(1, "\"AB\"C"), row_with(2, "OK"));
        let (ok, bad) = read(text.as_bytes());
        assert_eq!(lines_of(&ok), [2]);
        assert_eq!(bad[0].line, 1);
        assert!(
            bad[0].reason.contains("after the closing quote"),
            "{}",
            bad[0]
        );
    }

    #[test]
    fn a_quote_open_at_the_end_of_the_file_is_a_bad_row() {
        let text = format!("{}\n{}", row_with(1, "OK"), row_with(2, "\"NEVER"));
        let (ok, bad) = read(text.as_bytes());
        assert_eq!(lines_of(&ok), [1]);
        assert_eq!(bad[0].line, 2);
        assert!(bad[0].reason.contains("never closed"), "{}", bad[0]);
    }

    #[test]
    fn an_overlong_line_is_a_bad_row_and_memory_stays_bounded() {
        let long = "A".repeat(3 * MAX_RECORD_BYTES);
        let text = format!(
            "{}\n{}\n{}\n",
            row_with(1, "OK"),
            row_with(2, &long),
            row_with(3, "OK")
        );
        let mut r = Records::new(text.as_bytes());
        let mut seen = Vec::new();
        while let Some(item) = r.next_item().unwrap() {
            assert!(
                r.pending
                    .iter()
                    .all(|l| l.bytes.len() <= MAX_RECORD_BYTES + 1)
            );
            seen.push(item);
        }
        assert!(matches!(&seen[1], Item::Bad(b) if b.line == 2 && b.reason.contains("bytes long")));
        assert!(matches!(seen[2], Item::Row(3, _)));
    }

    #[test]
    fn nul_and_latin1_are_bad_rows_naming_the_column() {
        let mut text = row_with(1, "NUL\0HERE").into_bytes();
        text.push(b'\n');
        text.extend_from_slice(row_with(2, "FINE").as_bytes());
        text.push(b'\n');
        // A Latin-1 "PEÑA": the byte 0xd1 alone is not UTF-8.
        text.extend_from_slice(row_with(3, "PE#A").replace('#', "\u{1}").as_bytes());
        let at = text.iter().rposition(|b| *b == 1).unwrap();
        text[at] = 0xd1;
        let (ok, bad) = read(&text);
        assert_eq!(lines_of(&ok), [2]);
        assert_eq!(bad.len(), 2);
        assert!(
            bad[0].line == 1
                && bad[0].reason.starts_with("VesselName:")
                && bad[0].reason.contains("NUL"),
            "{}",
            bad[0]
        );
        assert!(
            bad[1].line == 3 && bad[1].reason == "VesselName: not valid UTF-8",
            "{}",
            bad[1]
        );
    }

    #[test]
    fn the_header_loses_its_bom() {
        let text = format!("\u{feff}{}\n{ROW}\n", HEADER.join(","));
        let mut r = Records::new(text.as_bytes());
        assert_eq!(r.header().unwrap().unwrap(), HEADER.map(String::from));
        assert!(matches!(r.next_item().unwrap(), Some(Item::Row(2, _))));
        assert!(r.next_item().unwrap().is_none());
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn garbage() -> impl Strategy<Value = Vec<u8>> {
            let special = prop::sample::select(vec![b'"', b',', b'\n', b'\r', 0u8, b'1', 0xd1]);
            prop::collection::vec(prop_oneof![3 => special, 1 => any::<u8>()], 0..80)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Without a database, many cases: no panic, every line is
            /// accounted for, and every valid row comes out, at its line.
            #[test]
            fn garbage_never_costs_a_valid_row(
                lines in prop::collection::vec(prop::option::weighted(0.6, garbage()), 1..60)
            ) {
                let mut text = Vec::new();
                let mut want = Vec::new();
                let mut line_no = 1u64;
                for (i, g) in lines.iter().enumerate() {
                    match g {
                        Some(g) => text.extend_from_slice(g),
                        None => {
                            let quoted = i % 2 == 0;
                            let name = if quoted { "\"A, \"\"B\"\"\"".to_owned() } else { format!("N{i}") };
                            text.extend_from_slice(row_with(i as u64 + 1, &name).as_bytes());
                            want.push(line_no);
                        }
                    }
                    text.push(b'\n');
                    line_no = 1 + text.iter().filter(|b| **b == b'\n').count() as u64;
                }
                let (ok, bad) = read(&text);
                let loaded = lines_of(&ok);
                for w in &want {
                    prop_assert!(loaded.contains(w), "valid row at line {w} lost; bad: {bad:?}");
                }
                let mut all: Vec<u64> = loaded.iter().copied().chain(bad.iter().map(|b| b.line)).collect();
                all.sort_unstable();
                all.dedup();
                prop_assert_eq!(all.len(), ok.len() + bad.len(), "one item per first line");
            }
        }
    }
}
