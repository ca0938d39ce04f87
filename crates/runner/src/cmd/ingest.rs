//! `ingest --csv FILE`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::db::Url;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// MarineCadastre-format AIS CSV, plain or gzip-compressed. A bad row is
    /// skipped and reported with its line; a row already stored (same
    /// mmsi, ts, lat, lon, from any file) is not stored again; a broken
    /// gzip stream writes nothing.
    #[arg(long, value_name = "FILE")]
    csv: PathBuf,
}

struct Bar(ProgressBar);

impl ingest::Progress for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, read: u64) {
        self.0.set_position(read);
    }
}

pub async fn run(url: &Url, args: Args) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let report = ingest::ingest_file(&mut client, &args.csv, &Bar(bar.clone())).await;
    bar.finish_and_clear();
    let report = report?;
    let secs = start.elapsed().as_secs_f64();
    for bad in &report.bad_rows {
        eprintln!("skipped {bad}");
    }
    if report.rows_skipped > report.bad_rows.len() as u64 {
        eprintln!(
            "... and {} more skipped rows",
            report.rows_skipped - report.bad_rows.len() as u64
        );
    }
    println!(
        "file:            {} (sha256 {})",
        args.csv.display(),
        report.sha256
    );
    if report.seen_before {
        println!("                 ingested before (same SHA-256): not read again");
    }
    println!("rows read:       {}", report.rows_read);
    println!("rows loaded:     {}", report.rows_loaded);
    println!("rows skipped:    {} (bad rows)", report.rows_skipped);
    println!(
        "already present: {} (duplicates: same mmsi, ts, lat, lon stored before)",
        report.rows_already_present
    );
    if !report.partitions_created.is_empty() {
        println!("partitions made: {}", report.partitions_created.join(", "));
    }
    if report.rows_loaded > 0 {
        println!(
            "time:            {secs:.2}s ({:.0} rows/s)",
            report.rows_loaded as f64 / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}
