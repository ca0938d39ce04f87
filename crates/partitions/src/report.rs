//! What a run did (or, in a dry run, would do).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::month::Month;

/// A month partition, by month and schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthPartition {
    /// The UTC month it covers.
    pub month: Month,
    /// `schema.<table>_pYYYY_MM`.
    pub name: String,
}

/// A month partition created by the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The partition.
    pub partition: MonthPartition,
    /// Rows moved into it from the DEFAULT partition.
    pub rows_moved: u64,
}

/// The outcome of [`maintain`](crate::maintain) or
/// [`ensure_current_and_next`](crate::ensure_current_and_next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `schema.table`.
    pub table: String,
    /// True when nothing was changed and the lists say what would be.
    pub dry_run: bool,
    /// The `now` the run was planned for.
    pub now: DateTime<Utc>,
    /// The month holding `now`.
    pub current: Month,
    /// The last month that must exist after the run.
    pub last: Month,
    /// The oldest month the retention keeps (`None` for the ensure, which
    /// never drops).
    pub first_kept: Option<Month>,
    /// Partitions created, ascending.
    pub created: Vec<Created>,
    /// Partitions dropped (their whole month older than the retention), ascending.
    pub dropped: Vec<MonthPartition>,
    /// Month partitions that existed and stay, ascending. The cheap ensure
    /// lists only the two it checked.
    pub kept: Vec<MonthPartition>,
    /// Rows moved from DEFAULT into created partitions (the sum over `created`).
    pub moved_from_default: u64,
    /// Rows in DEFAULT from months older than the retention (`-infinity`
    /// included), deleted as their month's partition would have been dropped.
    pub expired_default_rows: u64,
    /// Rows that stay in DEFAULT: months beyond `last`, or instants from
    /// year 10000 on (`infinity`) that no month can hold.
    pub left_in_default: u64,
    /// Partitions that are neither month partitions nor DEFAULT, left alone.
    pub foreign: Vec<String>,
}

impl Report {
    /// True when the run created, dropped and deleted nothing.
    pub fn is_noop(&self) -> bool {
        self.created.is_empty() && self.dropped.is_empty() && self.expired_default_rows == 0
    }

    /// The month partitions that exist after the run (or would, in a dry run).
    pub fn months_after(&self) -> Vec<Month> {
        let mut v: Vec<Month> = self
            .kept
            .iter()
            .map(|p| p.month)
            .chain(self.created.iter().map(|c| c.partition.month))
            .collect();
        v.sort();
        v
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let would = if self.dry_run { "would be " } else { "" };
        if self.dry_run {
            writeln!(f, "DRY RUN: nothing was changed")?;
        }
        write!(
            f,
            "{} at {}: current month {}, months must exist through {}",
            self.table,
            self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.current,
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
                c.partition.month, c.partition.name, c.rows_moved
            )?;
        }
        writeln!(f, "{would}dropped: {}", self.dropped.len())?;
        for d in &self.dropped {
            writeln!(f, "  {}  {}", d.month, d.name)?;
        }
        match (self.kept.first(), self.kept.last()) {
            (Some(a), Some(b)) => {
                writeln!(f, "kept: {} ({} .. {})", self.kept.len(), a.month, b.month)?
            }
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
