//! One MarineCadastre AIS report, kept as its text fields so a labelled
//! file can be written back exactly as the sample reads, plus the values
//! the injection works with.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::EvalError;

/// The MarineCadastre columns, in order (the header row): the one list
/// the versioned reader `ais_csv` checks files against.
pub use ais_csv::HEADER as COLUMNS;

/// The header row as written.
pub const HEADER: &str = "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass";

const MMSI: usize = 0;
const TS: usize = 1;
const LAT: usize = 2;
const LON: usize = 3;
const SOG: usize = 4;
const COG: usize = 5;
const HEADING: usize = 6;
const NAME: usize = 7;
const IMO: usize = 8;
const CALL_SIGN: usize = 9;
const TYPE: usize = 10;

/// One report.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    fields: Vec<String>,
    /// The MMSI.
    pub mmsi: i64,
    /// `BaseDateTime`, UTC.
    pub ts: DateTime<Utc>,
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
}

impl Record {
    /// Reads one record of `line` (1-based, the header being line 1).
    pub fn parse(fields: Vec<String>, line: u64) -> Result<Self, EvalError> {
        if fields.len() != COLUMNS.len() {
            return Err(EvalError::Columns {
                line,
                found: fields.len(),
                expected: COLUMNS.len(),
            });
        }
        let bad = |col: usize| EvalError::Field {
            line,
            column: COLUMNS[col],
            value: fields[col].clone(),
        };
        let mmsi = fields[MMSI].trim().parse().map_err(|_| bad(MMSI))?;
        let ts = NaiveDateTime::parse_from_str(fields[TS].trim(), "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| bad(TS))?
            .and_utc();
        let lat = fields[LAT].trim().parse().map_err(|_| bad(LAT))?;
        let lon = fields[LON].trim().parse().map_err(|_| bad(LON))?;
        Ok(Self {
            fields,
            mmsi,
            ts,
            lat,
            lon,
        })
    }

    /// The text fields, as written back.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The vessel name (empty when none).
    pub fn vessel_name(&self) -> &str {
        &self.fields[NAME]
    }

    /// The AIS ship type, when given.
    pub fn vessel_type(&self) -> Option<i32> {
        self.fields[TYPE].trim().parse().ok()
    }

    /// Moves the report to `(lat, lon)`.
    pub(crate) fn set_position(&mut self, lat: f64, lon: f64) {
        self.lat = lat;
        self.lon = lon;
        self.fields[LAT] = format!("{lat:.5}");
        self.fields[LON] = format!("{lon:.5}");
    }

    /// Gives the report the identity of `other` (MMSI, name, IMO, call sign,
    /// type): what a second transmitter sharing it sends.
    pub(crate) fn take_identity_of(&mut self, other: &Record) {
        self.mmsi = other.mmsi;
        for col in [MMSI, NAME, IMO, CALL_SIGN, TYPE] {
            self.fields[col] = other.fields[col].clone();
        }
    }

    /// The report as the detectors see it (after ingest): empty fields are
    /// `None`.
    pub fn to_fix(&self) -> detectors::Fix {
        let num = |col: usize| self.fields[col].trim().parse::<f32>().ok();
        let name = self.fields[NAME].trim();
        detectors::Fix {
            mmsi: self.mmsi,
            ts: self.ts,
            lat: self.lat,
            lon: self.lon,
            sog: num(SOG),
            cog: num(COG),
            heading: num(HEADING),
            vessel_name: (!name.is_empty()).then(|| name.to_owned()),
            vessel_type: self.vessel_type(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn parses_moves_and_names_bad_fields() {
        let line = "367654150,2022-01-03T00:09:27,35.84367,-75.6206,0.0,216.4,511,BOBALOU,,WDJ,30,,12,4,,,B";
        let mut r = Record::parse(fields(line), 2).unwrap();
        assert_eq!(
            (r.mmsi, r.lat, r.vessel_type()),
            (367_654_150, 35.84367, Some(30))
        );
        assert_eq!(r.vessel_name(), "BOBALOU");
        r.set_position(36.1, -76.04);
        assert_eq!(r.fields()[2], "36.10000");
        let f = r.to_fix();
        assert_eq!(
            (f.sog, f.heading, f.vessel_type),
            (Some(0.0), Some(511.0), Some(30))
        );
        let err = Record::parse(fields("x,2022-01-03T00:00:00,1,1,,,,,,,,,,,,,"), 7).unwrap_err();
        assert_eq!(err.to_string(), "line 7, column MMSI: cannot read \"x\"");
        let err = Record::parse(fields("1,2"), 3).unwrap_err();
        assert!(err.to_string().contains("line 3: 2 columns"), "{err}");
        assert_eq!(HEADER.split(',').collect::<Vec<_>>(), COLUMNS);
    }
}
