//! `versions compare` and the figures `versions promote` prints: arguments
//! and output; the comparison and the gate are `snapshot::compare`'s.

use std::process::ExitCode;

use anyhow::{Result, bail};
use chrono::{DateTime, SubsecRound, Utc};
use snapshot::compare::{self, CompareReport, CycleWindow, Request, WindowBasis};
use tokio_postgres::GenericClient;

use super::models::Format;
use crate::args::parse_ts;
use crate::db::Url;

/// Which cycles a comparison looks at.
#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// First cycle compared (RFC 3339, 1970 to 2199); with --to. Default: the 24 hours of
    /// cycles up to now, or up to the candidate's newest cycle when it has
    /// none in them (the output says which).
    #[arg(long, value_name = "TS", value_parser = parse_ts, requires = "to")]
    from: Option<DateTime<Utc>>,
    /// Last cycle compared, included (RFC 3339, 1970 to 2199); with --from.
    #[arg(long, value_name = "TS", value_parser = parse_ts, requires = "from")]
    to: Option<DateTime<Utc>>,
    /// A score at or above it is a flag.
    #[arg(long, default_value_t = compare::DEFAULT_THRESHOLD, value_parser = positive)]
    pub threshold: f64,
}

/// A finite number above 0 (a threshold of 0 would flag every entity
/// nobody scored).
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a finite number above 0")),
        Err(e) => Err(format!("{s:?} is not a number: {e}")),
    }
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The candidate's `detection_model_versions.id`.
    id: i64,
    /// The version to compare it with (default: its model's ACTIVE PRIMARY).
    #[arg(long, value_name = "ID")]
    against: Option<i64>,
    #[command(flatten)]
    window: WindowArgs,
    /// How many of the most divergent entities to list.
    #[arg(long, value_name = "N", default_value_t = compare::DEFAULT_TOP,
          value_parser = clap::value_parser!(i64).range(0..=1000))]
    top: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub async fn run(url: &Url, args: CompareArgs) -> Result<ExitCode> {
    let client = url.connect().await?;
    let request = Request {
        baseline: args.against,
        top: args.top,
        threshold: args.window.threshold,
        ..Request::new(args.id)
    };
    let report = figures(&client, &request, &args.window).await?;
    match args.format {
        Format::Text => print!("{}", report.render_text()),
        Format::Json => println!("{}", report.render_json()?),
    }
    Ok(ExitCode::SUCCESS)
}

/// The comparison `request` asks for over the cycles `window` names (or
/// the default ones).
pub async fn figures(
    client: &impl GenericClient,
    request: &Request,
    window: &WindowArgs,
) -> Result<CompareReport> {
    let window = match (window.from, window.to) {
        (Some(from), Some(to)) => {
            if to < from {
                bail!(
                    "--to {} is before --from {}; nothing was compared",
                    super::cycle::rfc3339(to),
                    super::cycle::rfc3339(from)
                );
            }
            CycleWindow {
                from,
                to,
                basis: WindowBasis::Given,
            }
        }
        _ => {
            let now = Utc::now().trunc_subsecs(0);
            compare::default_window(client, request.candidate, now).await?
        }
    };
    Ok(compare::compare_window(client, request, window).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_must_be_above_zero() {
        assert_eq!(positive("0.5"), Ok(0.5));
        assert!(positive("0").is_err());
        assert!(positive("-1").is_err());
        assert!(positive("NaN").is_err());
        assert!(positive("half").is_err());
    }
}
