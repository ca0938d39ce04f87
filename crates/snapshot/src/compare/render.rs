//! The comparison as aligned text, and its number format.

use crate::{SnapshotError, text};

use super::{CompareReport, Comparison, WindowBasis};

/// `v` with 4 significant digits (`0.0001007`, `0.4667`, `1.000`, `36587`),
/// `0` for zero: a small difference never prints as nothing.
pub(crate) fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = usize::try_from(3 - magnitude).unwrap_or(0);
    format!("{v:.decimals$}")
}

/// A nullable figure, `-` when absent.
pub(crate) fn opt_number(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), number)
}

impl Comparison {
    /// `role version (id)` of both, as the heading names them.
    pub(crate) fn title(&self) -> String {
        format!(
            "model {}: {} against {}",
            self.model_id, self.candidate, self.baseline
        )
    }

    /// The figures, the confusion table and the divergent entities,
    /// indented as a report section.
    pub(crate) fn write_text(&self, out: &mut String) {
        let base = self.baseline_name();
        let runs = |r: &crate::models::RunCounts| {
            format!(
                "{} (OK {}, FAILED {}, TIMEOUT {}, SKIPPED {}; {} of them backtest)",
                r.total, r.ok, r.failed, r.timeout, r.skipped, r.backtest
            )
        };
        text::pairs(
            out,
            &[
                ("compared cycles", format!("{} (both OK)", self.cycles)),
                ("candidate runs", runs(&self.candidate_runs)),
                (&format!("{base} runs"), runs(&self.baseline_runs)),
                (
                    "rows stored",
                    format!(
                        "{base} {}, candidate {}, both {}",
                        self.rows.baseline, self.rows.candidate, self.rows.shared
                    ),
                ),
                (
                    "entities",
                    format!(
                        "{} scored non-zero by either, of a population of {}",
                        self.entities, self.population
                    ),
                ),
                (
                    &format!("agreement@{}", self.threshold),
                    opt_number(self.agreement),
                ),
                ("mean abs diff", opt_number(self.mean_abs_diff)),
            ],
        );
        text::line(out, &format!("flags (score >= {}):", self.threshold));
        let f = &self.flags;
        let mut t = text::table(&[
            ("", false),
            ("candidate flags", true),
            ("candidate does not", true),
        ]);
        t.row(vec![
            format!("{base} flags"),
            format!("{} both", f.both),
            format!("{} only {base}", f.only_baseline),
        ]);
        t.row(vec![
            format!("{base} does not"),
            format!("{} only candidate", f.only_candidate),
            format!("{} neither", f.neither),
        ]);
        t.write(out);
        self.write_top(out, "top divergent entities:");
    }

    /// The divergent entities under `heading`, `(none)` when the two agree
    /// everywhere.
    pub(crate) fn write_top(&self, out: &mut String, heading: &str) {
        text::line(out, heading);
        if self.top_divergent.is_empty() {
            text::line(out, "(none)");
            return;
        }
        let mut t = text::table(&[
            ("entity_key", false),
            ("cycle_ts", false),
            (self.baseline_name(), true),
            ("candidate", true),
            ("abs_diff", true),
            ("cycles", true),
        ]);
        for d in &self.top_divergent {
            t.row(vec![
                d.entity_key.clone(),
                text::ts(d.cycle_ts),
                number(d.baseline_score),
                number(d.candidate_score),
                number(d.abs_diff),
                d.diverging_cycles.to_string(),
            ]);
        }
        t.write(out);
    }
}

impl CompareReport {
    /// The report as aligned text, ending with a newline.
    pub fn render_text(&self) -> String {
        let w = &self.window;
        let why = match w.basis {
            WindowBasis::Given => "as given".to_owned(),
            WindowBasis::LastDay { now } => format!("the 24 hours up to now, {}", text::ts(now)),
            WindowBasis::NewestCycle { now } => format!(
                "the 24 hours up to the candidate's newest cycle: it has no run in the 24 hours up to now, {}",
                text::ts(now)
            ),
        };
        let mut out = format!(
            "{}\ncycles {} to {} ({why})\n",
            self.comparison.title(),
            text::ts(w.from),
            text::ts(w.to)
        );
        self.comparison.write_text(&mut out);
        out
    }

    /// The report as pretty-printed JSON (see the module docs).
    pub fn render_json(&self) -> Result<String, SnapshotError> {
        Ok(serde_json::to_string_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(number(0.000_100_726_85), "0.0001007");
        assert_eq!(number(0.466_666), "0.4667");
        assert_eq!(number(1.0), "1.000");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(36587.0), "36587");
        assert_eq!(number(-0.25), "-0.2500");
        assert_eq!(opt_number(None), "-");
    }
}
