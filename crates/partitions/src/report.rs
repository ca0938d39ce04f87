//! What a run did (or, in a dry run, would do).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::period::Period;

/// A period partition, by period and schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Partition<P> {
    /// The UTC period it covers.
    pub period: P,
    /// `schema.<table>_<suffix>`.
    pub name: String,
}

/// A partition created by the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created<P> {
    /// The partition.
    pub partition: Partition<P>,
    /// Rows moved into it from the DEFAULT partition.
    pub rows_moved: u64,
}

/// The outcome of [`maintain`](crate::maintain) or [`ensure`](crate::ensure)
/// on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<P> {
    /// `schema.table`.
    pub table: String,
    /// True when nothing was changed and the lists say what would be.
    pub dry_run: bool,
    /// The `now` the run was planned for (for [`ensure`](crate::ensure):
    /// the start of the first period asked for).
    pub now: DateTime<Utc>,
    /// The period holding `now` (for an ensure: the first one asked for).
    pub current: P,
    /// The last period that must exist after the run (for an ensure: the
    /// last one asked for).
    pub last: P,
    /// The oldest period the retention keeps (`None` for the ensure, which
    /// never drops).
    pub first_kept: Option<P>,
    /// Partitions created, ascending.
    pub created: Vec<Created<P>>,
    /// Partitions dropped (their whole period older than the retention), ascending.
    pub dropped: Vec<Partition<P>>,
    /// Period partitions that existed and stay, ascending. The cheap ensure
    /// lists only the ones it checked.
    pub kept: Vec<Partition<P>>,
    /// Rows moved from DEFAULT into created partitions (the sum over `created`).
    pub moved_from_default: u64,
    /// Rows in DEFAULT from periods older than the retention (`-infinity`
    /// included), deleted as their period's partition would have been dropped.
    pub expired_default_rows: u64,
    /// Rows that stay in DEFAULT: periods beyond `last`, or instants from
    /// year 10000 on (`infinity`) that no period can hold.
    pub left_in_default: u64,
    /// Partitions that are neither period partitions nor DEFAULT, left alone.
    pub foreign: Vec<String>,
}

impl<P: Period> Report<P> {
    /// True when the run created, dropped and deleted nothing.
    pub fn is_noop(&self) -> bool {
        self.created.is_empty() && self.dropped.is_empty() && self.expired_default_rows == 0
    }

    /// The period partitions that exist after the run (or would, in a dry run).
    pub fn periods_after(&self) -> Vec<P> {
        let mut v: Vec<P> = self
            .kept
            .iter()
            .map(|p| p.period)
            .chain(self.created.iter().map(|c| c.partition.period))
            .collect();
        v.sort();
        v
    }
}

impl<P: Period> fmt::Display for Report<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let would = if self.dry_run { "would be " } else { "" };
        if self.dry_run {
            writeln!(f, "DRY RUN: nothing was changed")?;
        }
        write!(
            f,
            "{} at {}: current {} {}, {} must exist through {}",
            self.table,
            self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            P::UNIT,
            self.current,
            P::UNITS,
            self.last
        )?;
        match self.first_kept {
            Some(m) => writeln!(f, ", retention keeps {m} and later")?,
            None => writeln!(f)?,
        }
        writeln!(f, "{would}created: {}", self.created.len())?;
        for c in &self.created {
            writeln!(
                f,
                "  {}  {}  ({} rows from DEFAULT)",
                c.partition.period, c.partition.name, c.rows_moved
            )?;
        }
        writeln!(f, "{would}dropped: {}", self.dropped.len())?;
        for d in &self.dropped {
            writeln!(f, "  {}  {}", d.period, d.name)?;
        }
        match (self.kept.first(), self.kept.last()) {
            (Some(a), Some(b)) => writeln!(
                f,
                "kept: {} ({} .. {})",
                self.kept.len(),
                a.period,
                b.period
            )?,
            _ => writeln!(f, "kept: 0")?,
        }
        writeln!(
            f,
            "rows {would}moved from DEFAULT: {}",
            self.moved_from_default
        )?;
        writeln!(
            f,
            "expired DEFAULT rows {would}deleted: {}",
            self.expired_default_rows
        )?;
        write!(f, "rows left in DEFAULT: {}", self.left_in_default)?;
        if !self.foreign.is_empty() {
            write!(
                f,
                "\nother partitions, left alone: {}",
                self.foreign.join(", ")
            )?;
        }
        Ok(())
    }
}
