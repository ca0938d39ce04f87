//! The operations surface (issue 16) on a real replay of the bundled
//! sample, the demo's flow: ingest, the reference models, a SHADOW of
//! spoofing_score and a CHALLENGER of identity_collision, cycles 00:05 to
//! 00:25 every 5 minutes with the registry on. Then the HTML report must be
//! well-formed (parsed strictly as XML) with one plot per section that
//! holds data, and the Prometheus metrics recorded for those cycles must
//! parse and agree with what the database stored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use model_api::{ModelId, Role, VersionLabel};
use pipeline::{CycleOutcome, Pipeline, PipelineConfig};
use quick_xml::Reader;
use quick_xml::events::Event;
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

/// The demo's candidates (`xtask/src/demo.rs`): a more sensitive
/// spoofing_score and an identity_collision that waits for two switches.
const SHADOW_PARAMS: &str = r#"{"speed_floor_factor":0.5,"speed_full_factor":1.0,"min_reported_over_ceiling":2,"reported_min_agreement":0.5,"teleport_km":5.0,"speed_weight":0.6,"reported_speed_weight":0.3,"teleport_weight":0.8,"invalid_identity_weight":0.4}"#;
const CHALLENGER_PARAMS: &str = r#"{"min_distance_km":2.0,"min_switches":2,"medium_speed_factor":3.0,"high_switches":2,"critical_switches":3,"critical_speed_factor":10.0}"#;

async fn demo_flow(client: &mut Client) -> (Pipeline, Vec<CycleOutcome>) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(client, &sample, &ingest::NoProgress)
        .await
        .expect("ingest the sample");
    pipeline::register_reference_models(client)
        .await
        .expect("register the reference models");
    let catalog = || registry::Catalog::from_entries(detectors::catalog()).expect("catalog");
    for (model, version, role, params) in [
        (
            "spoofing_score",
            "1.1.0-sensitive",
            Role::Shadow,
            SHADOW_PARAMS,
        ),
        (
            "identity_collision",
            "2.0.0-two-switches",
            Role::Challenger,
            CHALLENGER_PARAMS,
        ),
    ] {
        let new = registry_store::NewVersion {
            model: ModelId::new(model).expect("id"),
            version: VersionLabel::new(version).expect("label"),
            role,
            params: serde_json::from_str(params).expect("params"),
            activate: true,
            timeout_ms: None,
            implementation: None,
            allow_unknown: false,
        };
        registry_store::add_version(client, &catalog(), &new)
            .await
            .expect("add the candidate");
    }
    let p = Pipeline::new(
        PipelineConfig {
            use_registry: true,
            ..PipelineConfig::default()
        },
        catalog(),
    );
    let mut outcomes = Vec::new();
    let mut t = ts("2022-01-03T00:05:00Z");
    while t <= ts("2022-01-03T00:25:00Z") {
        let outcome = p.run_cycle(client, t).await.expect("cycle");
        assert!(outcome.failed.is_none(), "cycle {t}: {:?}", outcome.failed);
        outcomes.push(outcome);
        t += TimeDelta::minutes(5);
    }
    (p, outcomes)
}

/// Per `<section id>`: the data elements of each chart in it, in order.
/// Panics unless `html` is well-formed XML (every element closed with its
/// own name, attributes and entities valid).
fn plots_by_section(html: &str) -> BTreeMap<String, Vec<usize>> {
    let mut reader = Reader::from_str(html);
    let mut stack: Vec<String> = Vec::new();
    let mut section: Option<String> = None;
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}", reader.buffer_position()));
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name");
                let mut class = String::new();
                let mut id = String::new();
                for a in e.attributes() {
                    let a = a.expect("well-formed attribute");
                    let v = a.unescape_value().expect("attribute entities").into_owned();
                    match a.key.as_ref() {
                        b"class" => class = v,
                        b"id" => id = v,
                        _ => {}
                    }
                }
                if name == "section" {
                    section = Some(id);
                }
                if let Some(s) = &section {
                    if name == "svg" && class.starts_with("chart") {
                        out.entry(s.clone()).or_default().push(0);
                    }
                    if class == "datum" {
                        *out.get_mut(s)
                            .and_then(|v| v.last_mut())
                            .expect("a datum inside a chart") += 1;
                    }
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(name);
                }
            }
            Event::End(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name");
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()));
                if name == "section" {
                    section = None;
                }
            }
            Event::Text(t) => {
                t.decode().expect("text decodes");
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    out
}

#[tokio::test]
async fn html_report_and_metrics_of_a_real_replay() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let (pipeline, outcomes) = demo_flow(&mut client).await;
    assert_eq!(outcomes.len(), 5);

    // The diagnostic report: the replay is well inside its 24 hours.
    let at = ts("2022-01-03T00:25:01Z");
    let (report, html) = snapshot::html_report(
        &client,
        snapshot::Kind::Diagnostic,
        at,
        &snapshot::Options::default(),
    )
    .await
    .expect("html report");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ops_surface_report.html");
    std::fs::write(&out, &html).expect("write the report for a person to look at");

    let plots = plots_by_section(&html);
    let keys: Vec<&str> = plots.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["collisions", "drift", "models", "spoofing", "timing"],
        "one part per section"
    );
    for (section, charts) in &plots {
        assert!(!charts.is_empty(), "{section} has no plot");
        for (i, n) in charts.iter().enumerate() {
            assert!(*n > 0, "{section}'s plot {i} holds no data: {charts:?}");
        }
    }
    // Models: the runs grid, the agreement lines, and a scatter for each of
    // the two candidates.
    assert_eq!(plots["models"].len(), 4, "{plots:?}");
    // The candidate-vs-PRIMARY plots are the section's comparisons
    // (snapshot::compare), cycle by cycle: a point per compared cycle, and
    // per-cycle figures and score pairs that add up to each comparison's.
    let comparisons = &report.models.comparisons;
    assert_eq!(comparisons.len(), 2, "{comparisons:?}");
    let compared: i64 = comparisons.iter().map(|c| c.cycles).sum();
    assert!(compared > 0);
    assert_eq!(plots["models"][1] as i64, compared);
    let series = snapshot::series::load(&client, &report)
        .await
        .expect("series");
    for (c, s) in comparisons.iter().zip(&series.comparisons) {
        assert_eq!(
            (s.candidate_id, s.baseline_id),
            (c.candidate.version_id, c.baseline.version_id)
        );
        assert_eq!(s.cycles.len() as i64, c.cycles);
        assert_eq!(s.cycles.iter().map(|p| p.entities).sum::<i64>(), c.entities);
        assert_eq!(
            s.cycles
                .iter()
                .map(|p| p.only_baseline + p.only_candidate)
                .sum::<i64>(),
            c.flags.only_baseline + c.flags.only_candidate
        );
        assert_eq!(
            s.score_pairs.iter().map(|p| p.count).sum::<i64>(),
            c.entities
        );
    }
    assert_eq!(plots["models"][2], series.comparisons[0].score_pairs.len());
    assert_eq!(plots["models"][3], series.comparisons[1].score_pairs.len());
    // The grid has a cell per run record.
    let runs: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.detection_model_runs WHERE version_id IS NOT NULL",
            &[],
        )
        .await
        .expect("count runs")
        .get(0);
    assert_eq!(plots["models"][0] as i64, runs);
    // The timing bars: one segment per stage row with a duration.
    let stages: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.prediction_stage_timings WHERE round(duration_ms::numeric, 3) > 0",
            &[],
        )
        .await
        .expect("count stages")
        .get(0);
    assert_eq!(plots["timing"][0] as i64, stages);
    for verdict in ["verdict-spoofing", "verdict-models", "verdict-drift"] {
        assert!(html.contains(verdict), "{verdict}");
    }
    assert!(html.contains(report.spoofing.verdict.as_str()));
    assert!(!html.contains("<script"), "no script");
    for url in ["http://", "https://"] {
        let refs: Vec<&str> = html
            .match_indices(url)
            .map(|(i, _)| &html[i..(i + 40).min(html.len())])
            .filter(|r| !r.starts_with("http://www.w3.org/"))
            .collect();
        assert!(refs.is_empty(), "external references: {refs:?}");
    }

    // The metrics serve would expose after these cycles.
    let telemetry = telemetry::Telemetry::new(Duration::from_secs(300), "test");
    for o in &outcomes {
        telemetry.record_cycle(&pipeline, o, Utc::now());
    }
    let text = telemetry.encode();
    let samples = parse_exposition(&text);
    let one = |sql: &str| {
        let client = &client;
        let sql = sql.to_owned();
        async move {
            client
                .query_one(&sql, &[])
                .await
                .expect(&sql)
                .get::<_, i64>(0)
        }
    };
    let cycles = one("SELECT count(DISTINCT cycle_ts) FROM kcg.prediction_stage_timings").await;
    assert_eq!(cycles, 5);
    assert_eq!(
        value(&samples, "kcg_cycles_total", &[("outcome", "ok")]),
        Some(cycles as f64),
        "{text}"
    );
    assert_eq!(
        value(&samples, "kcg_cycle_duration_seconds_count", &[]),
        Some(cycles as f64)
    );
    assert_eq!(
        value(
            &samples,
            "kcg_stage_duration_seconds_count",
            &[("stage", "load_window")]
        ),
        Some(cycles as f64)
    );
    // Runs by model, version, role and status: every group of the run
    // records, and nothing else.
    let runs = client
        .query(
            "SELECT r.model_id, coalesce(v.version, '') AS version, coalesce(r.role, '') AS role,
                    r.status, count(*) AS n
             FROM kcg.detection_model_runs r
             LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
             GROUP BY 1, 2, 3, 4",
            &[],
        )
        .await
        .expect("runs by version");
    assert!(runs.len() >= 7, "{} groups", runs.len());
    for r in &runs {
        let (model, version, role, status): (&str, &str, &str, &str) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert_eq!(
            value(
                &samples,
                "kcg_model_runs_total",
                &[
                    ("model", model),
                    ("version", version),
                    ("role", role),
                    ("status", status)
                ]
            ),
            Some(r.get::<_, i64>(4) as f64),
            "{model} {version} {role} {status}"
        );
    }
    let exposed = samples
        .iter()
        .filter(|s| s.0 == "kcg_model_runs_total")
        .count();
    assert_eq!(exposed, runs.len());
    // Outputs per version are the rows stored.
    let outputs = client
        .query(
            "SELECT o.model_id, v.version, o.role, count(*) AS n
             FROM kcg.detection_model_run_outputs o
             JOIN kcg.detection_model_versions v ON v.id = o.version_id
             GROUP BY 1, 2, 3",
            &[],
        )
        .await
        .expect("outputs by version");
    assert!(!outputs.is_empty());
    for r in &outputs {
        let (model, version, role): (&str, &str, &str) = (r.get(0), r.get(1), r.get(2));
        assert_eq!(
            value(
                &samples,
                "kcg_model_outputs_total",
                &[("model", model), ("version", version), ("role", role)]
            ),
            Some(r.get::<_, i64>(3) as f64),
            "{model} {version} {role}"
        );
    }
    let loads = pipeline.cache().load_count() as f64;
    assert!(loads >= 1.0);
    assert_eq!(
        value(&samples, "kcg_params_cache_loads_total", &[]),
        Some(loads)
    );
    assert_eq!(
        value(&samples, "kcg_model_abandoned_threads", &[]),
        Some(0.0)
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ops_surface_metrics.txt");
    std::fs::write(&out, &text).expect("write the metrics for a person to look at");
}

/// One sample of the exposition: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// Parses the OpenMetrics text format strictly, line by line: `# HELP`,
/// `# TYPE` and `# UNIT` of declared families, samples of declared
/// families only (with the suffixes their type allows), quoted and escaped
/// label values, numeric values, and `# EOF` as the last line. Panics
/// naming the line on anything else.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.last().copied(), Some("# EOF\n"), "ends with # EOF");
    for (no, raw) in lines.iter().enumerate() {
        let line = raw
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("line {no} unterminated"));
        if line == "# EOF" {
            assert_eq!(no, lines.len() - 1, "# EOF only at the end");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let (kw, rest) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("line {no}: {line}"));
            let (name, arg) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("line {no}: {line}"));
            assert!(is_name(name, true), "line {no}: bad family name {name}");
            match kw {
                "TYPE" => {
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "info",
                            "stateset",
                            "summary",
                            "unknown"
                        ]
                        .contains(&arg),
                        "line {no}: type {arg}"
                    );
                    assert!(
                        types.insert(name.to_owned(), arg.to_owned()).is_none(),
                        "line {no}: second TYPE"
                    );
                }
                "HELP" => assert!(!arg.is_empty(), "line {no}: empty HELP"),
                "UNIT" => assert!(
                    name.ends_with(&format!("_{arg}")),
                    "line {no}: unit not in name"
                ),
                other => panic!("line {no}: unknown comment {other}"),
            }
            continue;
        }
        // name{labels} value
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("line {no}: {line}"));
        let name = &line[..name_end];
        assert!(is_name(name, true), "line {no}: bad metric name {name}");
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(body) = rest.strip_prefix('{') {
            let bytes = body.as_bytes();
            let mut i = 0;
            loop {
                if bytes.get(i) == Some(&b'}') {
                    i += 1;
                    break;
                }
                let eq = body[i..]
                    .find('=')
                    .unwrap_or_else(|| panic!("line {no}: label without ="));
                let key = &body[i..i + eq];
                assert!(is_name(key, false), "line {no}: bad label name {key:?}");
                i += eq + 1;
                assert_eq!(bytes.get(i), Some(&b'"'), "line {no}: unquoted label value");
                i += 1;
                let mut value = String::new();
                loop {
                    match bytes
                        .get(i)
                        .unwrap_or_else(|| panic!("line {no}: open quote"))
                    {
                        b'\\' => {
                            match bytes.get(i + 1) {
                                Some(b'\\') => value.push('\\'),
                                Some(b'"') => value.push('"'),
                                Some(b'n') => value.push('\n'),
                                other => panic!("line {no}: bad escape {other:?}"),
                            }
                            i += 2;
                        }
                        b'"' => break,
                        _ => {
                            let c = body[i..].chars().next().expect("a char");
                            value.push(c);
                            i += c.len_utf8();
                        }
                    }
                }
                assert!(
                    labels.insert(key.to_owned(), value).is_none(),
                    "line {no}: label twice"
                );
                i += 1;
                match bytes.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {}
                    other => panic!("line {no}: after a label value {other:?}"),
                }
            }
            rest = &body[i..];
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("line {no}: no value"));
        let mut parts = value.split(' ');
        let v = parts.next().expect("a value");
        let v: f64 = match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("line {no}: value {v:?}")),
        };
        if let Some(ts) = parts.next() {
            ts.parse::<f64>()
                .unwrap_or_else(|_| panic!("line {no}: timestamp {ts:?}"));
        }
        assert!(parts.next().is_none(), "line {no}: trailing text");
        // A sample of a declared family, with a suffix its type allows.
        let family = types
            .iter()
            .find(|(f, t)| {
                let suffixes: &[&str] = match t.as_str() {
                    "counter" => &["_total", "_created"],
                    "histogram" => &["_bucket", "_sum", "_count", "_created"],
                    "info" => &["_info"],
                    _ => &[""],
                };
                suffixes.iter().any(|s| name == format!("{f}{s}"))
            })
            .unwrap_or_else(|| panic!("line {no}: {name} of no declared family"));
        assert!(
            family.0.starts_with("kcg_"),
            "line {no}: {name} lacks the kcg_ prefix"
        );
        samples.push((name.to_owned(), labels, v));
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

#[test]
fn the_exposition_grammar_refuses_what_prometheus_would() {
    let good = "# HELP kcg_x A thing.\n# TYPE kcg_x counter\nkcg_x_total{a=\"q\\\"\"} 3\n# EOF\n";
    assert_eq!(parse_exposition(good)[0].1["a"], "q\"");
    for bad in [
        "# TYPE kcg_x counter\nkcg_x_total 3\n",             // no EOF
        "# TYPE kcg_x counter\nkcg_x 3\n# EOF\n",            // counter without _total
        "# TYPE kcg_x counter\nkcg_x_total{a=q} 3\n# EOF\n", // unquoted
        "# TYPE kcg_x counter\nkcg_x_total{a=\"q\"} three\n# EOF\n", // not a number
        "kcg_y 1\n# EOF\n",                                  // undeclared
        "# TYPE x gauge\nx 1\n# EOF\n",                      // no prefix
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}
