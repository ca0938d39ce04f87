//! What several of this crate's tests set up the same way: the bundled
//! real sample ingested with the reference models registered, a registry
//! pipeline, versions added as psql would add them.

#![allow(dead_code)] // each test file uses its part

use std::path::Path;

use chrono::{DateTime, Utc};
use pipeline::{Pipeline, PipelineConfig};
use test_support::TestDb;
use tokio_postgres::Client;

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A fresh pipeline with stage 10 on: its params cache reads the registry
/// as it is now.
pub fn registry_pipeline() -> Pipeline {
    Pipeline::new(
        PipelineConfig {
            use_registry: true,
            ..PipelineConfig::default()
        },
        registry::Catalog::from_entries(detectors::catalog()).unwrap(),
    )
}

/// A connection to `db` holding the bundled sample and the reference
/// models (PRIMARY 1.0.0 each).
pub async fn sample_with_reference_models(db: &TestDb) -> Client {
    let mut client = db.client().await;
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .unwrap();
    pipeline::register_reference_models(&mut client)
        .await
        .unwrap();
    client
}

/// An ACTIVE version of `model` inserted directly, as in psql.
pub async fn insert_version(
    client: &Client,
    model: &str,
    version: &str,
    role: &str,
    params: &serde_json::Value,
) {
    client
        .execute(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
             VALUES ($1, $2, $3, 'ACTIVE', $4)",
            &[&model, &version, &role, params],
        )
        .await
        .unwrap();
}
