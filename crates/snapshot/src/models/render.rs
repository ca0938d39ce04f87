//! The section as aligned text.

use model_api::Role;

use crate::compare::render::opt_number;
use crate::text;

use super::Models;

impl Models {
    pub(crate) fn write_text(&self, out: &mut String) {
        text::heading(out, "3. detection models", self.alarm);
        text::notes(out, &self.notes);
        let r = &self.runs;
        text::pairs(
            out,
            &[
                (
                    "runs",
                    format!(
                        "{} (OK {}, FAILED {}, TIMEOUT {}, SKIPPED {})",
                        r.total, r.ok, r.failed, r.timeout, r.skipped
                    ),
                ),
                ("failure rate", text::ratio(self.failure_rate)),
                (
                    "duration p50/p95 ms",
                    format!("{} / {}", text::ms(self.p50_ms), text::ms(self.p95_ms)),
                ),
                ("outputs per run", text::ms(self.outputs_per_run)),
                ("dropped metrics", self.dropped_metrics.to_string()),
            ],
        );

        text::line(out, "ACTIVE versions:");
        if self.active_versions.is_empty() {
            text::line(out, "(none)");
        } else {
            let mut t = text::table(&[
                ("model", false),
                ("role", false),
                ("version", false),
                ("id", true),
                ("enabled", false),
            ]);
            for v in &self.active_versions {
                t.row(vec![
                    v.model_id.clone(),
                    v.role.as_str().to_owned(),
                    v.version.clone(),
                    v.version_id.to_string(),
                    if v.enabled { "yes" } else { "no" }.to_owned(),
                ]);
            }
            t.write(out);
        }

        if !self.versions.is_empty() {
            text::line(out, "runs per version:");
            let mut t = text::table(&[
                ("model", false),
                ("version", false),
                ("role", false),
                ("runs", true),
                ("ok", true),
                ("failed", true),
                ("timeout", true),
                ("skipped", true),
                ("fail_rate", true),
                ("p50_ms", true),
                ("p95_ms", true),
                ("outputs/run", true),
                ("metrics", true),
                ("dropped", true),
                ("backtest", true),
            ]);
            for v in &self.versions {
                t.row(vec![
                    v.model_id.clone(),
                    text::opt(v.version.as_deref()),
                    text::opt(v.role.map(Role::as_str)),
                    v.runs.total.to_string(),
                    v.runs.ok.to_string(),
                    v.runs.failed.to_string(),
                    v.runs.timeout.to_string(),
                    v.runs.skipped.to_string(),
                    text::ratio(v.failure_rate),
                    text::ms(v.p50_ms),
                    text::ms(v.p95_ms),
                    text::ms(v.outputs_per_run),
                    v.metrics_stored.to_string(),
                    v.dropped_metrics.to_string(),
                    v.runs.backtest.to_string(),
                ]);
            }
            t.write(out);
        }

        if !self.skipped.is_empty() {
            text::line(out, "skipped:");
            let mut t = text::table(&[
                ("model", false),
                ("version", false),
                ("role", false),
                ("runs", true),
                ("last_cycle_ts", false),
                ("reason", false),
            ]);
            for s in &self.skipped {
                t.row(vec![
                    s.model_id.clone(),
                    text::opt(s.version.as_deref()),
                    text::opt(s.role.map(Role::as_str)),
                    s.runs.to_string(),
                    text::ts(s.last_cycle_ts),
                    s.reason.clone(),
                ]);
            }
            t.write(out);
        }

        if !self.comparisons.is_empty() {
            let threshold = self.comparisons[0].threshold;
            text::line(
                out,
                &format!(
                    "candidates against PRIMARY (cycles both ran OK; a missing score is 0; flags at {threshold}):"
                ),
            );
            let mut t = text::table(&[
                ("model", false),
                ("version", false),
                ("role", false),
                ("vs", false),
                ("cycles", true),
                ("entities", true),
                ("both", true),
                ("only_primary", true),
                ("only_candidate", true),
                ("neither", true),
                ("agree", true),
                ("mean_abs_diff", true),
            ]);
            for c in &self.comparisons {
                t.row(vec![
                    c.model_id.clone(),
                    c.candidate.version.clone(),
                    c.candidate.role.as_str().to_owned(),
                    c.baseline.version.clone(),
                    c.cycles.to_string(),
                    c.entities.to_string(),
                    c.flags.both.to_string(),
                    c.flags.only_baseline.to_string(),
                    c.flags.only_candidate.to_string(),
                    c.flags.neither.to_string(),
                    opt_number(c.agreement),
                    opt_number(c.mean_abs_diff),
                ]);
            }
            t.write(out);
            if self.failed_runs.is_some() {
                for c in &self.comparisons {
                    c.write_top(out, &format!("most divergent entities, {}:", c.title()));
                }
            }
        }

        if let Some(failed) = &self.failed_runs {
            text::line(out, "FAILED/TIMEOUT runs:");
            if failed.is_empty() {
                text::line(out, "(none)");
            } else {
                let mut t = text::table(&[
                    ("cycle_ts", false),
                    ("model", false),
                    ("version", false),
                    ("role", false),
                    ("status", false),
                    ("ms", true),
                    ("error", false),
                ]);
                for f in failed {
                    t.row(vec![
                        text::ts(f.cycle_ts),
                        f.model_id.clone(),
                        text::opt(f.version.as_deref()),
                        text::opt(f.role.map(Role::as_str)),
                        f.status.clone(),
                        text::ms(Some(f.duration_ms)),
                        text::opt(f.error.as_deref()),
                    ]);
                }
                t.write(out);
            }
        }
    }
}
