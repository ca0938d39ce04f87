//! The report as one self-contained HTML page: inline CSS and SVG, no
//! script, no external reference (a Content-Security-Policy of
//! `default-src 'none'` says so to the browser too). The markup is
//! polyglot: well-formed XML as well as HTML, so tests parse it strictly.
//!
//! At the top, the five sections and their verdicts in colour (green
//! healthy, red in alarm, grey without input) and the alarms; then one part
//! per section with its key figures and its plots:
//!
//! 1. spoofing: the histogram of vessels by highest score, the 0.3, 0.5
//!    and 0.7 bands shaded;
//! 2. collisions: collisions by severity, OPEN and RESOLVED stacked;
//! 3. models: runs by status per version and cycle (a grid), the
//!    section's comparisons ([`crate::compare`]: each SHADOW and
//!    CHALLENGER against each PRIMARY it ran beside) as a table, their
//!    agreement per compared cycle, and per comparison a scatter of the
//!    candidate's scores against the PRIMARY's;
//! 4. timing: stage durations per cycle, stacked, with the budget;
//! 5. drift: new episodes per hour and category in `prediction_events`,
//!    with `prediction_stats_hourly`'s count marked on each bar (red where
//!    they differ).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use charts::{escape, palette};
use chrono::{DateTime, Utc};
use model_api::Role;

use crate::compare::Comparison;
use crate::series::{ComparisonSeries, Series};
use crate::{Report, Verdict, text};

const OK: &str = "#2e7d32";
const ALARM: &str = "#c62828";
const IDLE: &str = "#757575";
const WARN: &str = "#ef6c00";

const STYLE: &str = "
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.window{color:#555;margin:0 0 16px}
.verdicts{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 12px;padding:0;list-style:none}
.verdicts li{padding:8px 12px;border-radius:4px;color:#fff;min-width:150px}
.verdicts li a{color:#fff;text-decoration:none}
.verdicts .key{display:block;font-size:12px;opacity:.85}
.verdicts .value{display:block;font-weight:bold}
.ok{background:#2e7d32}.alarm{background:#c62828}.idle{background:#757575}
ul.alarms li{color:#c62828}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
td.n{text-align:right}
.note{color:#666;font-size:13px}
figure{margin:12px 0}
figcaption{color:#555;font-size:13px}
";

/// Renders `report` with the plots drawn from `series` (which must cover
/// the report's window).
pub(crate) fn render(report: &Report, series: &Series) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!(
        "kcg snapshot {} [{}, {})",
        report.kind.as_str(),
        text::ts(report.window_start),
        text::ts(report.window_end)
    );
    h.push_str("<!DOCTYPE html>\n");
    h.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n");
    h.push_str("<meta charset=\"utf-8\"/>\n");
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n",
    );
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    let _ = writeln!(h, "<title>{}</title>", escape(&title));
    let _ = writeln!(h, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(h, "<h1>kcg snapshot: {}</h1>", report.kind.as_str());
    let _ = writeln!(
        h,
        "<p class=\"window\">window [{}, {})</p>",
        escape(&text::ts(report.window_start)),
        escape(&text::ts(report.window_end))
    );
    verdicts(&mut h, report);
    if report.alarms.is_empty() {
        h.push_str("<p>alarms: none</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p>alarms: {}</p>\n<ul class=\"alarms\">",
            report.alarms.len()
        );
        for a in &report.alarms {
            let _ = writeln!(h, "<li>{}</li>", escape(a));
        }
        h.push_str("</ul>\n");
    }
    spoofing(&mut h, report, series);
    collisions(&mut h, report);
    models(&mut h, report, series);
    timing(&mut h, report, series);
    drift(&mut h, report);
    h.push_str("</body>\n</html>\n");
    h
}

/// `(key, title, class, verdict)` of each section, in report order.
fn verdict_cards(r: &Report) -> [(&'static str, &'static str, &'static str, String); 5] {
    let class = |alarm: bool, idle: bool| {
        if alarm {
            "alarm"
        } else if idle {
            "idle"
        } else {
            "ok"
        }
    };
    let s = &r.spoofing;
    let c = &r.collisions;
    let m = &r.models;
    let t = &r.timing;
    let d = &r.drift;
    [
        (
            "spoofing",
            "1. spoofing scores",
            class(s.alarm, s.verdict == Verdict::NoInput),
            s.verdict.as_str().to_owned(),
        ),
        (
            "collisions",
            "2. identity collisions",
            class(c.alarm, c.total == 0),
            if c.alarm {
                format!("{} CRITICAL OPEN", c.critical_open)
            } else {
                format!("OK ({} in window)", c.total)
            },
        ),
        (
            "models",
            "3. detection models",
            class(m.alarm, m.runs.total == 0),
            if m.alarm {
                format!("ALARM ({})", m.alarms().len())
            } else if m.runs.total == 0 {
                "NO RUNS".to_owned()
            } else {
                format!("OK ({} runs)", m.runs.total)
            },
        ),
        (
            "timing",
            "4. stage timing",
            class(t.alarm, t.cycles == 0),
            if t.alarm {
                format!(
                    "{} over budget, {} failed",
                    t.cycles_over_budget, t.failed_stages
                )
            } else if t.cycles == 0 {
                "NO CYCLES".to_owned()
            } else {
                format!("OK ({} cycles)", t.cycles)
            },
        ),
        (
            "drift",
            "5. category drift",
            class(d.alarm, d.compared == 0),
            if d.alarm {
                format!("{} MISMATCHES", d.mismatches)
            } else {
                format!("OK ({} compared)", d.compared)
            },
        ),
    ]
}

fn verdicts(h: &mut String, r: &Report) {
    h.push_str("<ul class=\"verdicts\">\n");
    for (key, title, class, verdict) in verdict_cards(r) {
        let _ = writeln!(
            h,
            "<li class=\"{class}\" id=\"verdict-{key}\"><a href=\"#{key}\"><span class=\"key\">{}</span><span class=\"value\">{}</span></a></li>",
            escape(title),
            escape(&verdict)
        );
    }
    h.push_str("</ul>\n");
}

fn section_open(h: &mut String, key: &str, title: &str, alarm: bool, notes: &[String]) {
    let _ = writeln!(h, "<section id=\"{key}\">");
    let _ = writeln!(
        h,
        "<h2>{}{}</h2>",
        escape(title),
        if alarm {
            " <span style=\"color:#c62828\">ALARM</span>"
        } else {
            ""
        }
    );
    for n in notes {
        let _ = writeln!(h, "<p class=\"note\">note: {}</p>", escape(n));
    }
}

fn figures(h: &mut String, rows: &[(&str, String)]) {
    h.push_str("<table class=\"figures\">\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    h.push_str("</table>\n");
}

fn figure(h: &mut String, svg: &str, caption: &str) {
    let _ = writeln!(
        h,
        "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
        escape(caption)
    );
}

/// A table with a header row; cells escaped, numeric ones right-aligned.
fn table(h: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    h.push_str("<table>\n<tr>");
    for hd in headers {
        let _ = write!(h, "<th>{}</th>", escape(hd));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for cell in row {
            let numeric = cell.parse::<f64>().is_ok();
            let _ = write!(
                h,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                escape(cell)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// Cycle labels: `HH:MM` when the window's cycles fall on one date, else
/// `DD HH:MM`.
fn cycle_labels(cycles: &[DateTime<Utc>]) -> Vec<String> {
    let dates: BTreeSet<_> = cycles.iter().map(DateTime::date_naive).collect();
    let format = if dates.len() > 1 { "%d %H:%M" } else { "%H:%M" };
    cycles
        .iter()
        .map(|c| c.format(format).to_string())
        .collect()
}

fn spoofing(h: &mut String, r: &Report, series: &Series) {
    let s = &r.spoofing;
    section_open(
        h,
        "spoofing",
        &format!("1. spoofing scores: {}", s.verdict.as_str()),
        s.alarm,
        &s.notes,
    );
    let zero = s.vessels - s.bands.gt_0;
    figures(
        h,
        &[
            (
                "vessels analysed",
                format!("{} ({} rows over {} cycles)", s.vessels, s.rows, s.cycles),
            ),
            ("rows exactly 0", s.zero_rows.to_string()),
            (
                "score > 0 / > 0.3 / > 0.5 / > 0.7",
                format!(
                    "{} / {} / {} / {}",
                    s.bands.gt_0, s.bands.gt_0_3, s.bands.gt_0_5, s.bands.gt_0_7
                ),
            ),
            (
                "max score",
                s.max_score
                    .map_or_else(|| "-".to_owned(), |v| v.to_string()),
            ),
        ],
    );
    let band = |from: f64, label: &str, colour: &str| charts::Band {
        from,
        to: 1.0,
        label: label.to_owned(),
        colour: colour.to_owned(),
    };
    let chart = charts::Histogram {
        title: "vessels by highest spoofing score".into(),
        x_label: "highest score in window".into(),
        y_label: "vessels".into(),
        bins: series
            .score_bins
            .iter()
            .map(|b| (b.lower, b.upper, b.vessels as f64))
            .collect(),
        bands: vec![
            charts::Band {
                to: 0.5,
                ..band(0.3, "> 0.3", "#f9a825")
            },
            charts::Band {
                to: 0.7,
                ..band(0.5, "> 0.5 (signal)", WARN)
            },
            band(0.7, "> 0.7", ALARM),
        ],
        x_range: (0.0, 1.0),
        colour: palette(0).into(),
    };
    figure(
        h,
        &chart.render(),
        &format!(
            "{} vessels, {zero} of them scored exactly 0 in every cycle (not drawn); bins of 0.05",
            s.vessels
        ),
    );
    if let Some(top) = &s.top_vessels
        && !top.is_empty()
    {
        let rows: Vec<Vec<String>> = top
            .iter()
            .map(|v| {
                vec![
                    crate::spoofing::mmsi_text(v.mmsi),
                    v.max_score.to_string(),
                    v.rows.to_string(),
                    text::ts(v.last_cycle_ts),
                    text::opt(v.vessel_name.as_deref()),
                ]
            })
            .collect();
        table(
            h,
            &["mmsi", "max score", "rows", "last cycle", "name"],
            &rows,
        );
    }
    h.push_str("</section>\n");
}

fn collisions(h: &mut String, r: &Report) {
    let c = &r.collisions;
    section_open(h, "collisions", "2. identity collisions", c.alarm, &c.notes);
    figures(
        h,
        &[
            ("collisions in window", c.total.to_string()),
            ("CRITICAL OPEN", c.critical_open.to_string()),
        ],
    );
    let categories: Vec<String> = c.by_severity.iter().map(|s| s.severity.clone()).collect();
    let chart = charts::Bars {
        title: "identity collisions by severity".into(),
        y_label: "collisions".into(),
        x_label: "severity".into(),
        categories,
        series: vec![
            charts::Series::new(
                "OPEN",
                ALARM,
                c.by_severity.iter().map(|s| s.open as f64).collect(),
            ),
            charts::Series::new(
                "RESOLVED",
                IDLE,
                c.by_severity.iter().map(|s| s.resolved as f64).collect(),
            ),
        ],
        stacked: true,
        lines: vec![],
    };
    figure(
        h,
        &chart.render(),
        "collisions seen in the window, by severity and status",
    );
    h.push_str("</section>\n");
}

/// Colour of a run status.
fn status_colour(status: &str) -> &'static str {
    match status {
        "OK" => OK,
        "FAILED" => ALARM,
        "TIMEOUT" => WARN,
        _ => "#bdbdbd",
    }
}

fn version_label(model: &str, version: Option<&str>, role: Option<Role>, id: i64) -> String {
    format!(
        "{model} {} {} ({id})",
        version.unwrap_or("?"),
        role.map_or("?", Role::as_str)
    )
}

fn models(h: &mut String, r: &Report, series: &Series) {
    let m = &r.models;
    section_open(h, "models", "3. detection models", m.alarm, &m.notes);
    figures(
        h,
        &[
            (
                "runs",
                format!(
                    "{} (OK {}, FAILED {}, TIMEOUT {}, SKIPPED {})",
                    m.runs.total, m.runs.ok, m.runs.failed, m.runs.timeout, m.runs.skipped
                ),
            ),
            ("failure rate", text::ratio(m.failure_rate)),
            (
                "duration p50 / p95 ms",
                format!("{} / {}", text::ms(m.p50_ms), text::ms(m.p95_ms)),
            ),
            ("dropped metrics", m.dropped_metrics.to_string()),
        ],
    );
    let mut alarms = m.alarms();
    if !alarms.is_empty() {
        h.push_str("<ul class=\"alarms\">\n");
        for a in alarms.drain(..) {
            let _ = writeln!(h, "<li>{}</li>", escape(&a));
        }
        h.push_str("</ul>\n");
    }

    // Runs by status: one row per version, one column per cycle.
    let cycles: Vec<DateTime<Utc>> = series
        .runs
        .iter()
        .map(|p| p.cycle_ts)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let column: BTreeMap<DateTime<Utc>, usize> =
        cycles.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    // Versions in the section's order (model, role, id), then any other.
    let mut order: Vec<i64> = m.versions.iter().map(|v| v.version_id).collect();
    for p in &series.runs {
        if !order.contains(&p.version_id) {
            order.push(p.version_id);
        }
    }
    let mut rows = Vec::new();
    let mut cells: Vec<Vec<Option<charts::Cell>>> = Vec::new();
    let labels = cycle_labels(&cycles);
    for id in &order {
        let mut row = vec![None; cycles.len()];
        let mut label = None;
        for p in series.runs.iter().filter(|p| p.version_id == *id) {
            let l = version_label(&p.model_id, p.version.as_deref(), p.role, p.version_id);
            if let Some(&c) = column.get(&p.cycle_ts) {
                row[c] = Some(charts::Cell {
                    colour: status_colour(&p.status).to_owned(),
                    tooltip: format!("{l} at {}: {}", labels[c], p.status),
                });
            }
            label.get_or_insert(l);
        }
        if let Some(label) = label {
            rows.push(label);
            cells.push(row);
        }
    }
    let grid = charts::Grid {
        title: "runs by status per version and cycle".into(),
        x_label: "cycle".into(),
        rows,
        columns: labels,
        cells,
        legend: ["OK", "FAILED", "TIMEOUT", "SKIPPED"]
            .iter()
            .map(|s| ((*s).to_owned(), status_colour(s).to_owned()))
            .collect(),
    };
    figure(
        h,
        &grid.render(),
        "one cell per run of kcg.detection_model_runs; hover a cell for its status",
    );

    if !m.versions.is_empty() {
        let rows: Vec<Vec<String>> = m
            .versions
            .iter()
            .map(|v| {
                vec![
                    v.model_id.clone(),
                    text::opt(v.version.as_deref()),
                    text::opt(v.role.map(Role::as_str)),
                    v.runs.total.to_string(),
                    v.runs.ok.to_string(),
                    v.runs.failed.to_string(),
                    v.runs.timeout.to_string(),
                    v.runs.skipped.to_string(),
                    text::ms(v.p95_ms),
                    text::ms(v.outputs_per_run),
                    v.dropped_metrics.to_string(),
                ]
            })
            .collect();
        table(
            h,
            &[
                "model",
                "version",
                "role",
                "runs",
                "ok",
                "failed",
                "timeout",
                "skipped",
                "p95 ms",
                "outputs/run",
                "dropped",
            ],
            &rows,
        );
    }

    comparisons(h, r, series);
    h.push_str("</section>\n");
}

/// The section's comparisons with their series, as the plots name them.
fn compared<'a>(
    r: &'a Report,
    series: &'a Series,
) -> Vec<(&'a Comparison, Option<&'a ComparisonSeries>, String)> {
    r.models
        .comparisons
        .iter()
        .map(|c| {
            let s = series.comparisons.iter().find(|s| {
                s.candidate_id == c.candidate.version_id && s.baseline_id == c.baseline.version_id
            });
            let label = format!(
                "{} vs {} {} ({})",
                version_label(
                    &c.model_id,
                    Some(&c.candidate.version),
                    Some(c.candidate.role),
                    c.candidate.version_id
                ),
                c.baseline_name(),
                c.baseline.version,
                c.baseline.version_id
            );
            (c, s, label)
        })
        .collect()
}

fn comparisons(h: &mut String, r: &Report, series: &Series) {
    let compared = compared(r, series);
    if compared.is_empty() {
        h.push_str(
            "<p class=\"note\">no SHADOW or CHALLENGER ran beside a PRIMARY in the window</p>\n",
        );
        return;
    }
    let rows: Vec<Vec<String>> = compared
        .iter()
        .map(|(c, _, label)| {
            vec![
                label.clone(),
                c.cycles.to_string(),
                c.entities.to_string(),
                c.flags.both.to_string(),
                c.flags.only_baseline.to_string(),
                c.flags.only_candidate.to_string(),
                c.flags.neither.to_string(),
                text::opt(c.agreement.map(|a| a.to_string()).as_deref()),
                text::opt(c.mean_abs_diff.map(|d| d.to_string()).as_deref()),
            ]
        })
        .collect();
    table(
        h,
        &[
            "candidate vs PRIMARY",
            "cycles",
            "entities",
            "both flag",
            "only PRIMARY",
            "only candidate",
            "neither",
            "agreement",
            "mean |diff|",
        ],
        &rows,
    );
    let threshold = compared[0].0.threshold;
    let cycles: Vec<DateTime<Utc>> = compared
        .iter()
        .filter_map(|(_, s, _)| *s)
        .flat_map(|s| s.cycles.iter().map(|p| p.cycle_ts))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let column: BTreeMap<DateTime<Utc>, usize> =
        cycles.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    // One line per comparison, a gap where a cycle was not compared.
    let lines = compared
        .iter()
        .enumerate()
        .map(|(i, (_, s, label))| {
            let mut values = vec![None; cycles.len()];
            for p in s.iter().flat_map(|s| &s.cycles) {
                if let Some(&c) = column.get(&p.cycle_ts) {
                    values[c] = Some(p.agreement);
                }
            }
            charts::Line {
                name: label.clone(),
                colour: palette(i).to_owned(),
                values,
            }
        })
        .collect();
    let chart = charts::Lines {
        title: format!("SHADOW/CHALLENGER agreement with PRIMARY at {threshold}, per cycle"),
        y_label: "agreement".into(),
        x_label: "cycle".into(),
        categories: cycle_labels(&cycles),
        lines,
        y_range: Some((0.0, 1.0)),
    };
    figure(
        h,
        &chart.render(),
        &format!(
            "the comparison of the table above, one compared cycle (both ran OK) at a time: the fraction of the entities either version scored non-zero that both put on the same side of {threshold} (a missing score is 0; 1 when there is none)"
        ),
    );
    for (i, (c, s, label)) in compared.iter().enumerate() {
        let pairs = s.map_or(&[][..], |s| &s.score_pairs[..]);
        let points: Vec<charts::Point> = pairs
            .iter()
            .map(|p| charts::Point {
                x: p.baseline_score,
                y: p.candidate_score,
                weight: p.count as f64,
                tooltip: format!(
                    "PRIMARY {:.2}, candidate {:.2}: {} entity-cycles",
                    p.baseline_score, p.candidate_score, p.count
                ),
            })
            .collect();
        let shown: i64 = pairs.iter().map(|p| p.count).sum();
        let name = if shown == c.entities {
            format!("{} entity-cycles", c.entities)
        } else {
            format!("{shown} of {} entity-cycles", c.entities)
        };
        let chart = charts::Scatter {
            title: format!("{label}: scores"),
            x_label: "PRIMARY score".into(),
            y_label: "candidate score".into(),
            range: (0.0, 1.0),
            groups: vec![charts::Points {
                name,
                colour: palette(i).to_owned(),
                points,
            }],
            diagonal: true,
        };
        figure(
            h,
            &chart.render(),
            &format!(
                "the comparison's entities (either version scored non-zero, a missing score is 0) on the {} cycles both ran OK; scores rounded to 0.01, a larger circle for more entity-cycles; on the diagonal they agree",
                c.cycles
            ),
        );
    }
}

fn timing(h: &mut String, r: &Report, series: &Series) {
    let t = &r.timing;
    section_open(h, "timing", "4. stage timing", t.alarm, &t.notes);
    let total = |f: fn(&crate::timing::Spread) -> f64| text::ms(t.cycle_total.as_ref().map(f));
    figures(
        h,
        &[
            ("cycles", t.cycles.to_string()),
            (
                "cycle total p50 / p95 / max ms",
                format!(
                    "{} / {} / {}",
                    total(|s| s.p50_ms),
                    total(|s| s.p95_ms),
                    total(|s| s.max_ms)
                ),
            ),
            ("budget ms", t.budget_ms.to_string()),
            ("cycles over budget", t.cycles_over_budget.to_string()),
            ("failed stages", t.failed_stages.to_string()),
            ("slowest stage (p95)", text::opt(t.slowest_stage.as_deref())),
        ],
    );
    let cycles: Vec<DateTime<Utc>> = series
        .stages
        .iter()
        .map(|p| p.cycle_ts)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let column: BTreeMap<DateTime<Utc>, usize> =
        cycles.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let stages: BTreeMap<i16, String> = series
        .stages
        .iter()
        .map(|p| (p.stage_no, p.stage_name.clone()))
        .collect();
    let stacks: Vec<charts::Series> = stages
        .iter()
        .enumerate()
        .map(|(k, (no, name))| {
            let mut values = vec![0.0; cycles.len()];
            for p in series.stages.iter().filter(|p| p.stage_no == *no) {
                if let Some(&c) = column.get(&p.cycle_ts) {
                    values[c] += p.duration_ms;
                }
            }
            charts::Series::new(format!("{no} {name}"), palette(k), values)
        })
        .collect();
    let chart = charts::Bars {
        title: "stage durations per cycle".into(),
        y_label: "ms".into(),
        x_label: "cycle".into(),
        categories: cycle_labels(&cycles),
        series: stacks,
        stacked: true,
        lines: vec![charts::RefLine {
            value: t.budget_ms as f64,
            label: format!("budget {} ms", t.budget_ms),
        }],
    };
    figure(
        h,
        &chart.render(),
        "each bar is one cycle, its stages stacked (kcg.prediction_stage_timings); hover a segment for its duration",
    );
    h.push_str("</section>\n");
}

fn drift(h: &mut String, r: &Report) {
    let d = &r.drift;
    section_open(h, "drift", "5. category drift", d.alarm, &d.notes);
    figures(
        h,
        &[
            (
                "hours",
                format!("[{}, {})", text::ts(d.hours_start), text::ts(d.hours_end)),
            ),
            ("compared", d.compared.to_string()),
            ("mismatches", d.mismatches.to_string()),
        ],
    );
    let hours: Vec<DateTime<Utc>> = d
        .rows
        .iter()
        .map(|r| r.hour)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let column: BTreeMap<DateTime<Utc>, usize> =
        hours.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let categories: BTreeSet<&str> = d.rows.iter().map(|r| r.category.as_str()).collect();
    let series: Vec<charts::Series> = categories
        .iter()
        .enumerate()
        .map(|(k, cat)| {
            let mut s = charts::Series::new(*cat, palette(k), vec![0.0; hours.len()]);
            s.marks = vec![None; hours.len()];
            for row in d.rows.iter().filter(|r| r.category == *cat) {
                if let Some(&c) = column.get(&row.hour) {
                    s.values[c] = row.events_count as f64;
                    s.marks[c] = Some(row.stats_count.unwrap_or(0) as f64);
                }
            }
            s
        })
        .collect();
    let chart = charts::Bars {
        title: "new episodes per hour and category".into(),
        y_label: "episodes".into(),
        x_label: "hour (UTC)".into(),
        categories: cycle_labels(&hours),
        series,
        stacked: false,
        lines: vec![],
    };
    figure(
        h,
        &chart.render(),
        "bars: kcg.prediction_events; the line across each bar: kcg.prediction_stats_hourly (red where the two differ)",
    );
    if !d.mismatch_rows.is_empty() {
        let rows: Vec<Vec<String>> = d
            .mismatch_rows
            .iter()
            .map(|m| {
                vec![
                    text::ts(m.hour),
                    m.category.clone(),
                    m.stats_count
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    m.events_count.to_string(),
                    format!("{:+}", m.delta),
                ]
            })
            .collect();
        table(h, &["hour", "category", "stats", "events", "delta"], &rows);
    }
    h.push_str("</section>\n");
}
