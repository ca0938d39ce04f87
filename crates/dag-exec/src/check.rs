//! Turning what a model returned into what can be stored, before anything
//! is published or persisted: a result the database would refuse must fail
//! its own version, never the cycle's transaction.

use std::collections::HashSet;
use std::fmt;

use model_api::{MetricKey, ModelOutput, OutputPolicy, OutputRow, Role};

/// JSON nested deeper than this is refused: serializing it during the COPY
/// would recurse that deep on the persisting task's stack.
pub(crate) const MAX_PAYLOAD_DEPTH: usize = 128;

/// An `entity_key` longer than this (in bytes) is refused. It is what
/// readers join and sort on, and no real entity needs more; it also keeps
/// any B-tree over it possible (PostgreSQL refuses an entry over 2704
/// bytes, `index row size exceeds btree version 4 maximum`, which would
/// abort the COPY and with it the whole cycle's transaction; the unique
/// key that had one is gone since V056).
pub(crate) const MAX_ENTITY_KEY_BYTES: usize = 2048;

/// Which version a message is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VersionLabel<'a> {
    pub(crate) model: &'a str,
    pub(crate) version: &'a str,
    pub(crate) version_id: i64,
    pub(crate) role: Role,
}

impl fmt::Display for VersionLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} version {} (id {}, {})",
            self.model, self.version, self.version_id, self.role
        )
    }
}

/// What checking an output found, besides refusing it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutputCheck {
    /// Indices into `ModelOutput::metrics()` that are not stored, ascending.
    pub(crate) dropped_metrics: Vec<usize>,
    /// Rows whose score is stored as NULL.
    pub(crate) null_scores: usize,
    /// Which rows are stored (the version's output policy).
    pub(crate) policy: OutputPolicy,
    /// Rows the policy leaves out.
    pub(crate) omitted: usize,
}

impl Default for OutputCheck {
    fn default() -> Self {
        OutputCheck {
            dropped_metrics: Vec::new(),
            null_scores: 0,
            policy: OutputPolicy::All,
            omitted: 0,
        }
    }
}

impl OutputCheck {
    /// The rows to store, in the model's order.
    pub(crate) fn kept_rows<'o>(
        &self,
        output: &'o ModelOutput,
    ) -> impl Iterator<Item = &'o OutputRow> + 'o {
        let policy = self.policy;
        output.rows().iter().filter(move |r| policy.keeps(r))
    }

    /// The metrics to store, with their (finite) values.
    pub(crate) fn kept_metrics<'o>(
        &'o self,
        output: &'o ModelOutput,
    ) -> impl Iterator<Item = (&'o str, f64)> + 'o {
        let mut dropped = self.dropped_metrics.iter().copied().peekable();
        output
            .metrics()
            .iter()
            .enumerate()
            .filter_map(move |(i, (key, value))| {
                if dropped.peek() == Some(&i) {
                    dropped.next();
                    None
                } else {
                    Some((key.as_str(), *value))
                }
            })
    }
}

/// Checks rows (refusing the whole output when one cannot be stored, even
/// one `policy` would leave out: the model's result is refused as a whole)
/// and metrics (dropping, with a warning, each one that cannot be stored),
/// and counts the rows `policy` leaves out.
pub(crate) fn check_output(
    output: &ModelOutput,
    label: &VersionLabel<'_>,
    policy: OutputPolicy,
) -> Result<OutputCheck, String> {
    let rows = output.rows();
    let mut check = OutputCheck {
        policy,
        ..OutputCheck::default()
    };
    for (i, row) in rows.iter().enumerate() {
        if !policy.keeps(row) {
            check.omitted += 1;
        }
        if row.entity_key.len() > MAX_ENTITY_KEY_BYTES {
            return Err(format!(
                "row {i}: entity_key is {} bytes long, over {MAX_ENTITY_KEY_BYTES}",
                row.entity_key.len()
            ));
        }
        if row.entity_key.as_bytes().contains(&0) {
            return Err(format!(
                "row {i}: entity_key {:?} contains a NUL character",
                row.entity_key
            ));
        }
        if let Some(payload) = &row.payload {
            check_payload(payload)
                .map_err(|e| format!("row {i} ({:?}): payload {e}", row.entity_key))?;
        }
        if !row.score.is_finite() {
            check.null_scores += 1;
        }
    }
    // The output table has no unique key (V056): this is what keeps
    // (cycle_ts, version_id, entity_key) unique.
    if rows.len() > 1 {
        let mut seen = HashSet::with_capacity(rows.len());
        for row in rows {
            if !seen.insert(row.entity_key.as_str()) {
                return Err(format!(
                    "entity_key {:?} appears more than once",
                    row.entity_key
                ));
            }
        }
    }
    if check.null_scores > 0 {
        tracing::warn!(
            model = %label.model,
            version = %label.version,
            version_id = label.version_id,
            rows = check.null_scores,
            "non-finite scores (NaN or infinite) are stored as NULL"
        );
    }
    check.dropped_metrics = check_metrics(output.metrics(), label);
    Ok(check)
}

/// The indices of metrics that are not stored, ascending. The last value
/// reported for a key wins; earlier ones are dropped.
fn check_metrics(metrics: &[(String, f64)], label: &VersionLabel<'_>) -> Vec<usize> {
    let mut dropped = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, (key, value)) in metrics.iter().enumerate().rev() {
        let why = if let Err(e) = MetricKey::new(key.as_str()) {
            Some(e.to_string())
        } else if key.as_bytes().contains(&0) {
            Some("metric key contains a NUL character".to_owned())
        } else if !value.is_finite() {
            Some(format!("value {value} is not finite"))
        } else if metrics.len() > 1 && !seen.insert(key.as_str()) {
            Some("a later value was reported for the same key".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            tracing::warn!(
                model = %label.model,
                version = %label.version,
                version_id = label.version_id,
                key = %key,
                reason = %why,
                "metric dropped"
            );
            dropped.push(i);
        }
    }
    dropped.reverse();
    dropped
}

/// PostgreSQL's JSONB refuses `\u0000` in strings and keys.
fn check_payload(payload: &serde_json::Value) -> Result<(), String> {
    // Iterative: a model may build arbitrarily deep values.
    let mut stack = vec![(payload, 1_usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_PAYLOAD_DEPTH {
            return Err(format!("is nested deeper than {MAX_PAYLOAD_DEPTH} levels"));
        }
        match value {
            serde_json::Value::String(s) if s.contains('\0') => {
                return Err("contains a NUL character in a string".to_owned());
            }
            serde_json::Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k.contains('\0') {
                        return Err("contains a NUL character in a key".to_owned());
                    }
                    stack.push((v, depth + 1));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_api::OutputRow;
    use serde_json::json;

    fn label() -> VersionLabel<'static> {
        VersionLabel {
            model: "m",
            version: "v1",
            version_id: 1,
            role: Role::Primary,
        }
    }

    #[test]
    fn rows_the_database_would_refuse_fail_the_output() {
        let mut dup = ModelOutput::new();
        dup.push(OutputRow::new("a", 1.0));
        dup.push(OutputRow::new("b", 1.0));
        dup.push(OutputRow::new("a", 2.0));
        assert!(
            check_output(&dup, &label(), OutputPolicy::All)
                .unwrap_err()
                .contains("\"a\" appears more than once")
        );

        let mut nul = ModelOutput::new();
        nul.push(OutputRow::new("a\0b", 1.0));
        assert!(
            check_output(&nul, &label(), OutputPolicy::All)
                .unwrap_err()
                .contains("NUL")
        );

        let mut payload = ModelOutput::new();
        payload.push(OutputRow::new("a", 1.0).with_payload(json!({"x": ["ok", "bad\u{0}"]})));
        assert!(
            check_output(&payload, &label(), OutputPolicy::All)
                .unwrap_err()
                .contains("NUL")
        );

        let mut long = ModelOutput::new();
        long.push(OutputRow::new("k".repeat(MAX_ENTITY_KEY_BYTES), 1.0));
        assert!(check_output(&long, &label(), OutputPolicy::All).is_ok());
        long.push(OutputRow::new(
            "é".repeat(MAX_ENTITY_KEY_BYTES / 2 + 1),
            1.0,
        ));
        assert!(
            check_output(&long, &label(), OutputPolicy::All)
                .unwrap_err()
                .contains("row 1: entity_key is 2050 bytes long")
        );

        let mut key = ModelOutput::new();
        key.push(OutputRow::new("a", 1.0).with_payload(json!({"k\u{0}": 1})));
        assert!(
            check_output(&key, &label(), OutputPolicy::All)
                .unwrap_err()
                .contains("key")
        );

        let mut deep = json!(1);
        for _ in 0..MAX_PAYLOAD_DEPTH {
            deep = json!([deep]);
        }
        let mut too_deep = ModelOutput::new();
        too_deep.push(OutputRow::new("a", 1.0).with_payload(deep));
        assert!(
            check_output(&too_deep, &label(), OutputPolicy::All)
                .unwrap_err()
                .contains("deeper")
        );
    }

    #[test]
    fn non_finite_scores_are_counted_not_refused() {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("a", f64::NAN));
        out.push(OutputRow::new("b", f64::INFINITY));
        out.push(OutputRow::new("c", f64::NEG_INFINITY));
        out.push(OutputRow::new("d", 0.5).with_payload(json!({"nested": {"ok": [1, 2]}})));
        let check = check_output(&out, &label(), OutputPolicy::All).unwrap();
        assert_eq!(check.null_scores, 3);
        assert!(check.dropped_metrics.is_empty());
        // Unscorable rows are kept by every policy.
        let check = check_output(&out, &label(), OutputPolicy::AtLeast(0.9)).unwrap();
        assert_eq!((check.omitted, check.kept_rows(&out).count()), (1, 3));
    }

    #[test]
    fn the_policy_counts_and_leaves_out_rows_without_information() {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("zero", 0.0));
        out.push(OutputRow::new("low", 0.2));
        out.push(OutputRow::new("why", 0.0).with_payload(json!({"k": 1})));
        out.push(OutputRow::new("high", 0.9));
        let keys = |policy| {
            let check = check_output(&out, &label(), policy).unwrap();
            let kept: Vec<&str> = check
                .kept_rows(&out)
                .map(|r| r.entity_key.as_str())
                .collect();
            assert_eq!(check.omitted + kept.len(), 4);
            kept
        };
        assert_eq!(keys(OutputPolicy::All), ["zero", "low", "why", "high"]);
        assert_eq!(keys(OutputPolicy::NonZeroOrPayload), ["low", "why", "high"]);
        assert_eq!(keys(OutputPolicy::AtLeast(0.5)), ["high"]);
        // A row the policy leaves out must still be storable.
        let mut bad = ModelOutput::new();
        bad.push(OutputRow::new("a\0", 0.0));
        assert!(check_output(&bad, &label(), OutputPolicy::NonZeroOrPayload).is_err());
    }

    #[test]
    fn metrics_that_cannot_be_stored_are_dropped_one_by_one() {
        let mut out = ModelOutput::new();
        out.metric("ok", 1.0);
        out.metric("k".repeat(65), 2.0);
        out.metric("", 3.0);
        out.metric("nan", f64::NAN);
        out.metric("inf", f64::INFINITY);
        out.metric("nul\0", 4.0);
        out.metric("twice", 5.0);
        out.metric("twice", 6.0);
        out.metric("é".repeat(64), 7.0);
        let check = check_output(&out, &label(), OutputPolicy::All).unwrap();
        assert_eq!(check.dropped_metrics, vec![1, 2, 3, 4, 5, 6]);
        let kept: Vec<_> = check
            .kept_metrics(&out)
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("ok".to_owned(), 1.0),
                ("twice".to_owned(), 6.0),
                ("é".repeat(64), 7.0)
            ]
        );
    }
}
