//! `migrate` and `check-schema`.

use std::process::ExitCode;

use anyhow::Result;

use crate::db::Url;

pub async fn migrate(url: &Url) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let report = schema::migrate(&mut client).await?;
    if report.is_noop() {
        println!(
            "schema up to date: {} migrations already applied, nothing changed",
            report.known
        );
    } else {
        for m in &report.applied {
            println!("applied {m}");
        }
        println!(
            "applied {} of {} migrations",
            report.applied.len(),
            report.known
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn check_schema(url: &Url) -> Result<ExitCode> {
    let client = url.connect().await?;
    match schema::check_schema(&client).await {
        Ok(report) => {
            println!("schema OK: {report}");
            for note in &report.not_valid {
                println!("note: {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(schema::SchemaError::Mismatch(list)) => {
            eprintln!("schema check FAILED: {} mismatch(es)", list.len());
            for m in &list {
                eprintln!("  {m}");
            }
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
