//! `partitions maintain|list`: the monthly partitions of the model run
//! outputs (see the `partitions` crate).

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::args::parse_ts;
use crate::db::Url;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create every missing month from the oldest kept one to now + premake,
    /// drop months wholly older than the retention, move DEFAULT rows into
    /// the months created for them. One transaction, under an advisory lock.
    Maintain(MaintainOpts),
    /// Every partition with its range and a row estimate.
    List,
}

#[derive(Debug, clap::Args)]
struct MaintainOpts {
    /// The instant to plan for, RFC 3339 with any offset (months are UTC),
    /// e.g. 2026-01-31T23:30:00-01:00. Defaults to now.
    #[arg(long, value_name = "TS", value_parser = parse_ts)]
    now: Option<DateTime<Utc>>,

    /// Months to create ahead of the current one.
    #[arg(long, value_name = "N", default_value_t = partitions::DEFAULT_PREMAKE, allow_negative_numbers = true)]
    premake: i32,

    /// Months to keep: a month is dropped once its whole range is older than
    /// now minus this many months.
    #[arg(long, value_name = "N", default_value_t = partitions::DEFAULT_RETENTION_MONTHS, allow_negative_numbers = true)]
    retention_months: i32,

    /// Plan under the lock and print what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(url: &Url, args: Args) -> Result<ExitCode> {
    match args.action {
        Action::Maintain(o) => {
            let mut client = url.connect().await?;
            let now = o.now.unwrap_or_else(Utc::now);
            let report =
                partitions::maintain(&mut client, now, o.premake, o.retention_months, o.dry_run)
                    .await?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Action::List => {
            let client = url.connect().await?;
            let list = partitions::list(&client).await?;
            print!("{}", render_list(&list));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn render_list(list: &[partitions::PartitionInfo]) -> String {
    let ts = |t: Option<DateTime<Utc>>| {
        t.map_or_else(String::new, |t| {
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        })
    };
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|p| {
            let range = match p.kind {
                partitions::PartitionKind::Default => "DEFAULT".to_owned(),
                partitions::PartitionKind::Month(_) => format!("[{}, {})", ts(p.from), ts(p.to)),
                partitions::PartitionKind::Other => format!("{} (not a month partition)", p.bound),
            };
            let kind = match p.kind {
                partitions::PartitionKind::Month(m) => m.to_string(),
                partitions::PartitionKind::Default => "default".into(),
                partitions::PartitionKind::Other => "other".into(),
            };
            [p.name.clone(), kind, range, p.row_estimate.to_string()]
        })
        .collect();
    let header = ["partition", "month", "range", "rows (estimate)"].map(String::from);
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
