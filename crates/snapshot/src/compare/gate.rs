//! The promotion gate: what a comparison must show before a candidate
//! replaces its PRIMARY (`runner versions promote --gate`). Pure: it judges
//! a [`Comparison`] already computed.

use serde::Serialize;

use super::Comparison;
use super::render::number;

/// The figures a candidate needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Gate {
    /// At least this many compared cycles (both versions `OK`).
    pub min_cycles: i64,
    /// At least this agreement at the comparison's threshold.
    pub min_agreement: f64,
}

impl Default for Gate {
    /// An hour of 5-minute cycles, 95 % agreement.
    fn default() -> Gate {
        Gate {
            min_cycles: 12,
            min_agreement: 0.95,
        }
    }
}

/// One requirement, what was found, and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateCheck {
    /// The requirement, e.g. `compared cycles >= 12`.
    pub required: String,
    /// What the comparison shows, e.g. `5`.
    pub found: String,
    /// Whether it holds.
    pub passed: bool,
}

/// Every requirement of a [`Gate`] on one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    /// The gate.
    pub gate: Gate,
    /// Its requirements, in a fixed order.
    pub checks: Vec<GateCheck>,
}

impl GateReport {
    /// Whether every requirement holds.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The requirements that do not hold, as `required (found)`.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{} (found {})", c.required, c.found))
            .collect()
    }
}

impl Gate {
    /// Judges `c`: enough compared cycles, enough agreement over them, and
    /// no `FAILED` or `TIMEOUT` run of the candidate in the window (a
    /// version that fails now and then would fail as the PRIMARY, and its
    /// failures skip every dependent).
    pub fn judge(&self, c: &Comparison) -> GateReport {
        let failures = c.candidate_runs.failed + c.candidate_runs.timeout;
        let agreement = c.agreement;
        GateReport {
            gate: *self,
            checks: vec![
                GateCheck {
                    required: format!("compared cycles >= {}", self.min_cycles),
                    found: c.cycles.to_string(),
                    passed: c.cycles >= self.min_cycles,
                },
                GateCheck {
                    required: format!("agreement@{} >= {}", c.threshold, self.min_agreement),
                    found: agreement.map_or_else(|| "-".to_owned(), number),
                    passed: agreement.is_some_and(|a| a >= self.min_agreement),
                },
                GateCheck {
                    required: "no FAILED or TIMEOUT run of the candidate".to_owned(),
                    found: format!(
                        "{} FAILED, {} TIMEOUT",
                        c.candidate_runs.failed, c.candidate_runs.timeout
                    ),
                    passed: failures == 0,
                },
            ],
        }
    }
}

impl GateReport {
    /// The checks as aligned text, ending with the verdict.
    pub fn render_text(&self) -> String {
        let mut t = crate::table::Table::new(&[("gate", false), ("found", true), ("", false)]);
        for c in &self.checks {
            t.row(vec![
                c.required.clone(),
                c.found.clone(),
                if c.passed { "ok" } else { "REFUSED" }.to_owned(),
            ]);
        }
        let mut out = t.render();
        out.push_str(if self.passed() {
            "gate: passed\n"
        } else {
            "gate: refused\n"
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use model_api::Role;

    use super::*;
    use crate::compare::{Flags, StoredRows, VersionInfo};
    use crate::models::RunCounts;

    fn comparison(cycles: i64, agreement: Option<f64>, failed: i64) -> Comparison {
        let v = |id, role| VersionInfo {
            version_id: id,
            version: format!("v{id}"),
            role,
            status: "ACTIVE".into(),
        };
        Comparison {
            model_id: "m".into(),
            candidate: v(2, Role::Shadow),
            baseline: v(1, Role::Primary),
            threshold: 0.5,
            cycles,
            candidate_runs: RunCounts {
                total: cycles + failed,
                ok: cycles,
                failed,
                ..RunCounts::default()
            },
            baseline_runs: RunCounts::default(),
            rows: StoredRows::default(),
            entities: 0,
            population: 0,
            flags: Flags::default(),
            agreement,
            mean_abs_diff: agreement.map(|_| 0.0),
            top_divergent: Vec::new(),
        }
    }

    #[test]
    fn every_requirement_must_hold() {
        let gate = Gate {
            min_cycles: 5,
            min_agreement: 0.9,
        };
        let pass = gate.judge(&comparison(5, Some(0.9), 0));
        assert!(pass.passed(), "{pass:?}");
        assert!(pass.failures().is_empty());

        let few = gate.judge(&comparison(4, Some(1.0), 0));
        assert_eq!(few.failures(), vec!["compared cycles >= 5 (found 4)"]);

        let none = gate.judge(&comparison(0, None, 0));
        assert_eq!(
            none.failures(),
            vec![
                "compared cycles >= 5 (found 0)",
                "agreement@0.5 >= 0.9 (found -)"
            ]
        );

        let bad = gate.judge(&comparison(9, Some(0.8999), 1));
        assert_eq!(
            bad.failures(),
            vec![
                "agreement@0.5 >= 0.9 (found 0.8999)",
                "no FAILED or TIMEOUT run of the candidate (found 1 FAILED, 0 TIMEOUT)"
            ]
        );
        assert!(bad.render_text().ends_with("gate: refused\n"));
    }
}
