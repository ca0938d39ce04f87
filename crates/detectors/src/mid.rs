//! The ITU Maritime Identification Digits (MID) that are assigned, embedded
//! as data from a maintained source.
//!
//! Source: the PyPI package **pyais 3.3.1** (`pyais/constants.py`,
//! `COUNTRY_MAPPING`; wheel files dated 2026-10-11; MIT License), which
//! carries ITU's MID table (ITU-R M.585, Appendix 43 of the Radio
//! Regulations). It was extracted once into `data/mids.tsv` (MID, ISO 3166
//! alpha-2 code, name); to refresh it, `pip download pyais==X --no-deps`,
//! dump `COUNTRY_MAPPING` in the same three columns, and update the version
//! and date here and in the file's header.

use std::sync::OnceLock;

/// The embedded table, one `MID<TAB>ISO<TAB>name` line per assigned MID
/// (`#` lines are comments).
const MIDS_TSV: &str = include_str!("../data/mids.tsv");

/// Where the table comes from, for reports.
pub const MID_SOURCE: &str = "pyais 3.3.1 (PyPI), constants.COUNTRY_MAPPING, 2026-10-11";

/// One assigned MID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MidEntry {
    /// The three digits, 201 to 775.
    pub mid: u16,
    /// ISO 3166 alpha-2 code of the administration, e.g. `US`.
    pub iso: &'static str,
    /// The administration's name, e.g. `USA`.
    pub name: &'static str,
}

/// Every assigned MID, ascending. Lines that do not parse are skipped (a
/// unit test proves there are none).
pub fn mid_table() -> &'static [MidEntry] {
    static TABLE: OnceLock<Vec<MidEntry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v: Vec<MidEntry> = MIDS_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        v.sort_by_key(|e| e.mid);
        v
    })
}

fn parse_line(line: &'static str) -> Option<MidEntry> {
    let mut cols = line.split('\t');
    let mid = cols.next()?.parse().ok()?;
    let iso = cols.next()?;
    let name = cols.next()?;
    Some(MidEntry { mid, iso, name })
}

/// The entry of an assigned MID; `None` when `mid` is not assigned.
///
/// ```
/// assert_eq!(detectors::mid(366).map(|e| e.iso), Some("US"));
/// assert_eq!(detectors::mid(386), None);
/// ```
pub fn mid(mid: u16) -> Option<&'static MidEntry> {
    let t = mid_table();
    t.binary_search_by_key(&mid, |e| e.mid).ok().map(|i| &t[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_three_digits_from_2xx_to_7xx_and_every_line_parses() {
        let lines = MIDS_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        let t = mid_table();
        assert_eq!(t.len(), lines, "a line of data/mids.tsv does not parse");
        assert!(t.len() > 250, "{}", t.len());
        for e in t {
            assert!((200..=799).contains(&e.mid), "{e:?}");
            assert_eq!(e.mid.to_string().len(), 3, "{e:?}");
            assert_eq!(e.iso.len(), 2, "{e:?}");
            assert!(!e.name.is_empty(), "{e:?}");
        }
        let mut mids: Vec<u16> = t.iter().map(|e| e.mid).collect();
        mids.dedup();
        assert_eq!(mids.len(), t.len(), "a MID is listed twice");
    }

    #[test]
    fn known_assigned_and_unassigned_mids() {
        for m in [201, 211, 310, 316, 338, 366, 367, 369, 538, 775] {
            assert!(mid(m).is_some(), "{m}");
        }
        for m in [200, 386, 388, 583, 522, 776, 999, 123] {
            assert!(mid(m).is_none(), "{m}");
        }
    }
}
