//! Which tables this crate partitions, by what period, and the defaults of
//! their policies.

use std::marker::PhantomData;

use crate::day::Day;
use crate::month::Month;
use crate::period::Period;

/// A table partitioned by range on one timestamptz column into periods
/// `P` ([`Month`] or [`Day`]), its partitions named `<table>_<suffix>`
/// (pg_partman's naming: `_pYYYY_MM`, `_pYYYY_MM_DD`), with the default
/// premake and retention (in periods) of its maintenance.
///
/// Only the constants of this crate exist ([`OUTPUTS`], [`POSITIONS`]):
/// every identifier formatted into SQL comes from these validated parts.
#[derive(Debug)]
pub struct TableSpec<P> {
    schema: &'static str,
    name: &'static str,
    key: &'static str,
    /// Periods created ahead of the current one by default.
    pub default_premake: i32,
    /// Periods kept by default.
    pub default_retention: i32,
    period: PhantomData<fn() -> P>,
}

// Not derived: derive would require `P: Clone`, which the marker does not need.
impl<P> Clone for TableSpec<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P> Copy for TableSpec<P> {}

/// `kcg.detection_model_run_outputs`: every model version writes to it
/// every cycle. Monthly, premake 3, retention 12 months.
pub const OUTPUTS: TableSpec<Month> = TableSpec {
    schema: "kcg",
    name: "detection_model_run_outputs",
    key: "cycle_ts",
    default_premake: 3,
    default_retention: 12,
    period: PhantomData,
};

/// `kcg.ais_positions`: every ingested AIS report; every cycle reads a
/// window of it. Daily, premake 3, retention 30 days.
pub const POSITIONS: TableSpec<Day> = TableSpec {
    schema: "kcg",
    name: "ais_positions",
    key: "ts",
    default_premake: 3,
    default_retention: 30,
    period: PhantomData,
};

impl<P: Period> TableSpec<P> {
    /// The schema.
    pub fn schema(&self) -> &'static str {
        self.schema
    }

    /// The table's name within its schema.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The partition key column the migrations create.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// `schema.table`, for messages.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `"schema"."table"`, for SQL.
    pub(crate) fn quoted(&self) -> String {
        qualified(self.schema, self.name)
    }

    /// `<table>_<suffix>`, the partition's name within the schema.
    pub fn partition_name(&self, p: P) -> String {
        format!("{}_{}", self.name, p.suffix())
    }

    /// The period a partition name stands for, if it follows the naming.
    pub fn period_of_name(&self, name: &str) -> Option<P> {
        name.strip_prefix(self.name)?
            .strip_prefix('_')
            .and_then(P::parse_suffix)
    }
}

/// `"schema"."name"` with embedded quotes doubled.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_parsed_back() {
        assert_eq!(qualified("kcg", "a\"b"), "\"kcg\".\"a\"\"b\"");
        assert_eq!(
            OUTPUTS.period_of_name("detection_model_run_outputs_p2026_02"),
            Month::new(2026, 2)
        );
        assert_eq!(
            OUTPUTS.period_of_name("detection_model_run_outputsp2026_02"),
            None
        );
        assert_eq!(
            OUTPUTS.period_of_name("detection_model_run_outputs_default"),
            None
        );
        assert_eq!(
            POSITIONS.period_of_name("ais_positions_p2022_01_03"),
            Day::new(2022, 1, 3)
        );
        assert_eq!(POSITIONS.period_of_name("ais_positions_p2022_01"), None);
        assert_eq!(
            POSITIONS.partition_name(Day::new(2022, 1, 3).unwrap()),
            "ais_positions_p2022_01_03"
        );
    }

    #[test]
    fn every_partition_name_fits_in_an_identifier() {
        // PostgreSQL truncates identifiers at 63 bytes: a longer name would
        // not be found again by its own name.
        assert!(OUTPUTS.partition_name(Month::MAX).len() <= 63);
        assert!(POSITIONS.partition_name(Day::MAX).len() <= 63);
        assert!(format!("{}_default", OUTPUTS.name()).len() <= 63);
    }

    #[test]
    fn defaults_are_valid_policies() {
        use crate::Policy;
        Policy::new(&OUTPUTS, OUTPUTS.default_premake, OUTPUTS.default_retention).unwrap();
        Policy::new(
            &POSITIONS,
            POSITIONS.default_premake,
            POSITIONS.default_retention,
        )
        .unwrap();
    }
}
