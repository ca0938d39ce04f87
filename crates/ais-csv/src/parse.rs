//! One CSV record to one typed position, or a reason it is refused.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// The MarineCadastre header, in order.
pub const HEADER: [&str; 17] = [
    "MMSI",
    "BaseDateTime",
    "LAT",
    "LON",
    "SOG",
    "COG",
    "Heading",
    "VesselName",
    "IMO",
    "CallSign",
    "VesselType",
    "Status",
    "Length",
    "Width",
    "Draft",
    "Cargo",
    "TransceiverClass",
];

/// A skipped row: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based line number in the (decompressed) file.
    pub line: u64,
    /// What was wrong, naming the column and the value.
    pub reason: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// One AIS position report as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// The reported MMSI (not validated: invalid identities are data).
    pub mmsi: i64,
    /// `BaseDateTime`, UTC.
    pub ts: DateTime<Utc>,
    /// Degrees; 91 means "not available" and is kept.
    pub lat: f64,
    /// Degrees; 181 means "not available" and is kept.
    pub lon: f64,
    /// Knots; 102.3 means "not available" and is kept.
    pub sog: Option<f32>,
    /// Degrees; 360 means "not available".
    pub cog: Option<f32>,
    /// Degrees; 511 means "not available".
    pub heading: Option<f32>,
    /// `VesselName`.
    pub vessel_name: Option<String>,
    /// `IMO`.
    pub imo: Option<String>,
    /// `CallSign`.
    pub call_sign: Option<String>,
    /// `VesselType`.
    pub vessel_type: Option<i32>,
    /// `Status`.
    pub status: Option<i32>,
    /// Metres.
    pub length: Option<f32>,
    /// Metres.
    pub width: Option<f32>,
    /// Metres.
    pub draft: Option<f32>,
    /// `Cargo`.
    pub cargo: Option<i32>,
    /// `TransceiverClass`.
    pub transceiver_class: Option<String>,
}

/// The header's name for the field at `index` (0-based), or `field N`
/// (1-based) beyond it.
pub fn column_name(index: usize) -> String {
    HEADER
        .get(index)
        .map_or_else(|| format!("field {}", index + 1), |h| (*h).to_owned())
}

/// True when `found` (trimmed, any case) is the MarineCadastre header.
pub fn is_header(found: &[String]) -> bool {
    found.len() == HEADER.len()
        && found
            .iter()
            .zip(HEADER)
            .all(|(f, h)| f.trim().eq_ignore_ascii_case(h))
}

impl Position {
    /// Parses one data record found at `line`.
    pub fn parse(r: &csv::StringRecord, line: u64) -> Result<Position, BadRow> {
        let fields: Vec<&str> = r.iter().collect();
        Position::parse_fields(&fields, line)
    }

    /// Parses the fields of one data record found at `line`.
    pub fn parse_fields(r: &[&str], line: u64) -> Result<Position, BadRow> {
        if r.len() != HEADER.len() {
            return Err(BadRow {
                line,
                reason: format!("{} fields, expected {}", r.len(), HEADER.len()),
            });
        }
        // PostgreSQL text cannot hold NUL; no number contains one either.
        if let Some(col) = r.iter().position(|f| f.contains('\0')) {
            return Err(BadRow {
                line,
                reason: format!(
                    "{}: contains a NUL byte (0x00), which PostgreSQL text cannot store",
                    HEADER[col]
                ),
            });
        }
        let get = |col: usize| r.get(col).copied();
        let bad = |col: usize, what: &str| BadRow {
            line,
            reason: format!("{}: {what} {:?}", HEADER[col], get(col).unwrap_or("")),
        };
        let field = |col: usize| get(col).map(str::trim).filter(|s| !s.is_empty());
        let required = |col: usize| field(col).ok_or_else(|| bad(col, "missing value"));
        let float = |col: usize| -> Result<Option<f64>, BadRow> {
            match field(col) {
                None => Ok(None),
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err(bad(col, "not a number")),
                },
            }
        };
        // REAL columns: f32 is the stored precision. A value beyond f32's
        // range would become Infinity; PostgreSQL refuses it as REAL, so do we.
        #[allow(clippy::cast_possible_truncation)]
        let real = |col: usize| -> Result<Option<f32>, BadRow> {
            match float(col)?.map(|v| v as f32) {
                Some(v) if !v.is_finite() => Err(bad(col, "out of range for a REAL")),
                v => Ok(v),
            }
        };
        let int = |col: usize| -> Result<Option<i32>, BadRow> {
            field(col)
                .map(|s| s.parse::<i32>().map_err(|_| bad(col, "not an integer")))
                .transpose()
        };
        let text = |col: usize| field(col).map(str::to_owned);

        let mmsi = required(0)?
            .parse::<i64>()
            .map_err(|_| bad(0, "not an integer"))?;
        let ts = NaiveDateTime::parse_from_str(required(1)?, "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| bad(1, "not a time (YYYY-MM-DDTHH:MM:SS)"))?
            .and_utc();
        // Positions are partitioned by day, named pYYYY_MM_DD.
        if !(1..=9999).contains(&ts.year()) {
            return Err(bad(1, "year outside 0001-9999"));
        }
        required(2)?;
        required(3)?;
        let lat = float(2)?.ok_or_else(|| bad(2, "missing value"))?;
        let lon = float(3)?.ok_or_else(|| bad(3, "missing value"))?;
        Ok(Position {
            mmsi,
            ts,
            lat,
            lon,
            sog: real(4)?,
            cog: real(5)?,
            heading: real(6)?,
            vessel_name: text(7),
            imo: text(8),
            call_sign: text(9),
            vessel_type: int(10)?,
            status: int(11)?,
            length: real(12)?,
            width: real(13)?,
            draft: real(14)?,
            cargo: int(15)?,
            transceiver_class: text(16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> csv::StringRecord {
        csv::StringRecord::from(s.split(',').collect::<Vec<_>>())
    }

    #[test]
    fn parses_a_real_row_with_empty_fields() {
        let p = Position::parse(
            &rec("338347057,2022-01-03T00:00:10,33.72603,-118.07364,0.0,358.8,511,ALEXANDRIA IV,IMO0000000,,37,,17,5,,,B"),
            3,
        )
        .unwrap();
        assert_eq!(p.mmsi, 338347057);
        assert_eq!(p.ts.to_rfc3339(), "2022-01-03T00:00:10+00:00");
        assert_eq!(p.heading, Some(511.0));
        assert_eq!(p.call_sign, None);
        assert_eq!(p.status, None);
        assert_eq!(p.transceiver_class.as_deref(), Some("B"));
    }

    #[test]
    fn names_the_column_and_line_of_a_bad_value() {
        let err = Position::parse(
            &rec("338347057,2022-01-03T00:00:10,north,-118.07364,0.0,358.8,511,X,,,37,,17,5,,,B"),
            42,
        )
        .unwrap_err();
        assert_eq!(err.line, 42);
        assert!(err.reason.starts_with("LAT:"), "{err}");
        let err = Position::parse(
            &rec("338347057,2022-13-03T00:00:10,1,1,0.0,358.8,511,X,,,37,,17,5,,,B"),
            7,
        )
        .unwrap_err();
        assert!(err.reason.starts_with("BaseDateTime:"), "{err}");
    }

    #[test]
    fn a_nul_byte_or_an_impossible_year_is_a_bad_row() {
        let err = Position::parse(
            &rec("338347057,2022-01-03T00:00:10,33.7,-118.0,1,358.8,511,X\0Y,,,37,,17,5,,,B"),
            4,
        )
        .unwrap_err();
        assert!(
            err.reason.starts_with("VesselName: contains a NUL"),
            "{err}"
        );
        for ts in ["0000-01-03T00:00:10", "12022-01-03T00:00:10"] {
            let row = format!("338347057,{ts},33.7,-118.0,1,358.8,511,X,,,37,,17,5,,,B");
            let err = Position::parse(&rec(&row), 5).unwrap_err();
            assert!(err.reason.starts_with("BaseDateTime:"), "{err}");
        }
    }

    #[test]
    fn a_number_too_large_for_its_real_column_is_a_bad_row() {
        // Finite as f64 but not as f32: PostgreSQL itself refuses '1e39'::real;
        // it must not be stored as Infinity.
        let err = Position::parse(
            &rec("338347057,2022-01-03T00:00:10,33.7,-118.0,1e39,358.8,511,X,,,37,,17,5,,,B"),
            9,
        )
        .unwrap_err();
        assert_eq!(err.line, 9);
        assert!(err.reason.starts_with("SOG:"), "{err}");
    }
}
