//! Running a section's SQL and reading its columns, with the section and
//! table named in every error.

use std::fmt;

use model_api::{Role, RoleParseError};
use tokio_postgres::row::RowIndex;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{GenericClient, Row};

use crate::SnapshotError;

pub(crate) async fn all(
    client: &impl GenericClient,
    section: &'static str,
    table: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, SnapshotError> {
    client
        .query(sql, params)
        .await
        .map_err(|source| SnapshotError::Query {
            section,
            table,
            source,
        })
}

pub(crate) async fn one(
    client: &impl GenericClient,
    section: &'static str,
    table: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, SnapshotError> {
    client
        .query_one(sql, params)
        .await
        .map_err(|source| SnapshotError::Query {
            section,
            table,
            source,
        })
}

/// How a column is addressed: by name (what new code does), or by
/// position.
pub(crate) trait Col: RowIndex + fmt::Display + Copy {
    /// The column's name, for errors.
    fn column_name(self, row: &Row) -> String;
}

impl Col for &str {
    fn column_name(self, _: &Row) -> String {
        self.to_owned()
    }
}

impl Col for usize {
    fn column_name(self, row: &Row) -> String {
        row.columns()
            .get(self)
            .map_or_else(|| format!("#{self}"), |c| c.name().to_owned())
    }
}

/// A row's columns, read with the section and table at hand for errors.
#[derive(Clone, Copy)]
pub(crate) struct Cols<'a> {
    row: &'a Row,
    section: &'static str,
    table: &'static str,
}

impl<'a> Cols<'a> {
    pub(crate) fn new(row: &'a Row, section: &'static str, table: &'static str) -> Cols<'a> {
        Cols {
            row,
            section,
            table,
        }
    }

    /// Column `idx`: a position, or (preferred) a name.
    pub(crate) fn get<T: FromSql<'a>>(self, idx: impl Col) -> Result<T, SnapshotError> {
        self.row
            .try_get(idx)
            .map_err(|source| SnapshotError::Column {
                section: self.section,
                table: self.table,
                column: self.name(idx),
                source,
            })
    }

    /// Column `idx`, a role as stored (`PRIMARY`, `SHADOW`, `CHALLENGER`).
    pub(crate) fn role(self, idx: impl Col) -> Result<Role, SnapshotError> {
        self.get::<&str>(idx)?
            .parse()
            .map_err(|source| self.undecodable(idx, source))
    }

    /// Column `idx`, a nullable role.
    pub(crate) fn opt_role(self, idx: impl Col) -> Result<Option<Role>, SnapshotError> {
        self.get::<Option<&str>>(idx)?
            .map(|s| s.parse().map_err(|source| self.undecodable(idx, source)))
            .transpose()
    }

    fn undecodable(self, idx: impl Col, source: RoleParseError) -> SnapshotError {
        SnapshotError::Role {
            section: self.section,
            table: self.table,
            column: self.name(idx),
            source,
        }
    }

    fn name(self, idx: impl Col) -> String {
        idx.column_name(self.row)
    }

    /// A nullable `double precision` of milliseconds, rounded to 3 decimals.
    pub(crate) fn ms(self, idx: impl Col) -> Result<Option<f64>, SnapshotError> {
        Ok(self.get::<Option<f64>>(idx)?.map(|v| round(v, MS_DECIMALS)))
    }

    /// A nullable `double precision` ratio or mean, rounded to 6 decimals.
    pub(crate) fn ratio(self, idx: impl Col) -> Result<Option<f64>, SnapshotError> {
        Ok(self
            .get::<Option<f64>>(idx)?
            .map(|v| round(v, RATIO_DECIMALS)))
    }
}

/// Milliseconds are reported to the microsecond.
pub(crate) const MS_DECIMALS: i32 = 3;
/// Ratios and means are reported to 6 decimals.
pub(crate) const RATIO_DECIMALS: i32 = 6;

/// Rounds to `places` decimals. Reports carry rounded numbers so that the
/// last bits of a float sum (which depend on the order PostgreSQL happens
/// to aggregate in) never change a rendering.
pub(crate) fn round(v: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (v * scale).round() / scale
}

/// Rounds to `digits` significant digits (0 stays 0): a mean of 0.0001
/// keeps its digits where rounding to decimals would make it 0.
pub(crate) fn round_significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let magnitude = v.abs().log10().floor() as i32;
    round(v, digits - 1 - magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_survive_small_values() {
        assert_eq!(round_significant(0.000_100_726_854_836, 6), 0.000_100_727);
        assert_eq!(round_significant(0.383_333_333, 6), 0.383_333);
        assert_eq!(round_significant(36_598.4, 6), 36_598.4);
        assert_eq!(round_significant(0.0, 6), 0.0);
    }
}
