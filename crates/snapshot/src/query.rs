//! Running a section's SQL and reading its columns, with the section and
//! table named in every error.

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

    pub(crate) fn get<T: FromSql<'a>>(self, idx: usize) -> Result<T, SnapshotError> {
        self.row
            .try_get(idx)
            .map_err(|source| SnapshotError::Column {
                section: self.section,
                table: self.table,
                column: self
                    .row
                    .columns()
                    .get(idx)
                    .map_or_else(|| format!("#{idx}"), |c| c.name().to_owned()),
                source,
            })
    }

    /// A nullable `double precision` of milliseconds, rounded to 3 decimals.
    pub(crate) fn ms(self, idx: usize) -> Result<Option<f64>, SnapshotError> {
        Ok(self.get::<Option<f64>>(idx)?.map(|v| round(v, MS_DECIMALS)))
    }

    /// A nullable `double precision` ratio or mean, rounded to 6 decimals.
    pub(crate) fn ratio(self, idx: usize) -> Result<Option<f64>, SnapshotError> {
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
