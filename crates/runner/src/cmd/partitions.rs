//! `partitions maintain|list`: the monthly partitions of
//! `kcg.detection_model_run_outputs` and the daily partitions of
//! `kcg.ais_positions`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use partitions::{Day, Month, OUTPUTS, POSITIONS, PartitionInfo, PartitionKind, Period, Policy};

use crate::args::parse_ts;
use crate::db::Url;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// For each table: create every missing period from the oldest kept one
    /// to now + premake, drop periods wholly older than the retention, move
    /// DEFAULT rows into the periods created for them. One transaction per
    /// table, under an advisory lock. The outputs are partitioned by month,
    /// the positions by day.
    Maintain(MaintainOpts),
    /// Every partition with its range and a row estimate.
    List(ListOpts),
}

/// Which partitioned tables a command works on. (Plain comments, not doc
/// comments: documented values would switch clap to its long help.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Table {
    // kcg.detection_model_run_outputs (monthly)
    Outputs,
    // kcg.ais_positions (daily)
    Positions,
    // both
    All,
}

impl Table {
    fn outputs(self) -> bool {
        matches!(self, Table::Outputs | Table::All)
    }
    fn positions(self) -> bool {
        matches!(self, Table::Positions | Table::All)
    }
}

#[derive(Debug, clap::Args)]
struct MaintainOpts {
    /// The table(s) to maintain: outputs (kcg.detection_model_run_outputs,
    /// monthly), positions (kcg.ais_positions, daily) or all.
    #[arg(long, value_enum, default_value_t = Table::All)]
    table: Table,

    /// The instant to plan for, RFC 3339 with any offset (months and days
    /// are UTC), e.g. 2026-01-31T23:30:00-01:00, 1970 to 2199. Defaults to
    /// now.
    #[arg(long, value_name = "TS", value_parser = parse_ts)]
    now: Option<DateTime<Utc>>,

    /// Outputs: months to create ahead of the current one.
    #[arg(long, value_name = "N", default_value_t = partitions::DEFAULT_PREMAKE, allow_negative_numbers = true)]
    premake: i32,

    /// Outputs: months to keep: a month is dropped once its whole range is
    /// older than now minus this many months.
    #[arg(long, value_name = "N", default_value_t = partitions::DEFAULT_RETENTION_MONTHS, allow_negative_numbers = true)]
    retention_months: i32,

    /// Positions: days to create ahead of the current one.
    #[arg(long, value_name = "N", default_value_t = partitions::DEFAULT_POSITIONS_PREMAKE_DAYS, allow_negative_numbers = true)]
    positions_premake: i32,

    /// Positions: days to keep: a day (and its positions) is dropped once
    /// it is wholly older than now minus this many days. Data from before
    /// that (such as the bundled 2022 sample) goes with it: plan with --now
    /// or a longer retention to keep it.
    #[arg(long, value_name = "N", default_value_t = partitions::DEFAULT_POSITIONS_RETENTION_DAYS, allow_negative_numbers = true)]
    positions_retention_days: i32,

    /// Plan under the lock and print what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
struct ListOpts {
    /// The table(s) to list: outputs, positions or all.
    #[arg(long, value_enum, default_value_t = Table::All)]
    table: Table,
}

pub async fn run(url: &Url, args: Args) -> Result<ExitCode> {
    match args.action {
        Action::Maintain(o) => {
            // Both policies are checked before anything is touched.
            let outputs = o
                .table
                .outputs()
                .then(|| Policy::new(&OUTPUTS, o.premake, o.retention_months))
                .transpose()?;
            let positions = o
                .table
                .positions()
                .then(|| Policy::new(&POSITIONS, o.positions_premake, o.positions_retention_days))
                .transpose()?;
            let mut client = url.connect().await?;
            let now = o.now.unwrap_or_else(Utc::now);
            let mut reports = Vec::new();
            if let Some(policy) = outputs {
                let r = partitions::maintain(&mut client, &OUTPUTS, now, policy, o.dry_run).await?;
                reports.push(r.to_string());
            }
            if let Some(policy) = positions {
                let r =
                    partitions::maintain(&mut client, &POSITIONS, now, policy, o.dry_run).await?;
                reports.push(r.to_string());
            }
            println!("{}", reports.join("\n\n"));
            Ok(ExitCode::SUCCESS)
        }
        Action::List(o) => {
            let client = url.connect().await?;
            let mut out = Vec::new();
            if o.table.outputs() {
                out.push(render_list::<Month>(
                    &partitions::list(&client, &OUTPUTS).await?,
                ));
            }
            if o.table.positions() {
                out.push(render_list::<Day>(
                    &partitions::list(&client, &POSITIONS).await?,
                ));
            }
            print!("{}", out.join("\n"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn render_list<P: Period>(list: &[PartitionInfo<P>]) -> String {
    let ts = |t: Option<DateTime<Utc>>| {
        t.map_or_else(String::new, |t| {
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        })
    };
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|p| {
            let range = match p.kind {
                PartitionKind::Default => "DEFAULT".to_owned(),
                PartitionKind::Period(_) => format!("[{}, {})", ts(p.from), ts(p.to)),
                PartitionKind::Other => format!("{} (not a {} partition)", p.bound, P::UNIT),
            };
            let kind = match p.kind {
                PartitionKind::Period(m) => m.to_string(),
                PartitionKind::Default => "default".into(),
                PartitionKind::Other => "other".into(),
            };
            [p.name.clone(), kind, range, p.row_estimate.to_string()]
        })
        .collect();
    let header = ["partition", P::UNIT, "range", "rows (estimate)"].map(String::from);
    let mut width = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no partitions)\n");
    }
    out
}
