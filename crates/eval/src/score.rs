//! Scoring what was flagged against the labels.

use std::collections::{BTreeMap, BTreeSet};

use detectors::IdentityClass;

use crate::{Kind, Labelled};

/// What the cycles flagged, as analysts read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// Vessels with a spoofing score of at least 0.5 in some cycle
    /// (`vessel_analysis`; a SPOOFING event).
    pub spoofing: BTreeSet<i64>,
    /// Vessels with a SPEED_ANOMALY event.
    pub speed: BTreeSet<i64>,
    /// Vessels with an identity collision (`gear_identity_collisions`).
    pub collision: BTreeSet<i64>,
    /// The identity class of every vessel analysed.
    pub classes: BTreeMap<i64, IdentityClass>,
}

impl Flags {
    /// Whether `mmsi` was flagged at all.
    pub fn any(&self, mmsi: i64) -> bool {
        self.spoofing.contains(&mmsi)
            || self.speed.contains(&mmsi)
            || self.collision.contains(&mmsi)
    }

    /// Whether an anomaly of `kind` on `mmsi` was caught: a shared identity
    /// by a collision; a teleport by a collision or a spoofing score; a
    /// speed spoof by a SPEED_ANOMALY or a spoofing score. A lone glitch is
    /// "caught" when it is flagged at all (which it must not be).
    pub fn caught(&self, kind: Kind, mmsi: i64) -> bool {
        match kind {
            Kind::SharedIdentity => self.collision.contains(&mmsi),
            Kind::Teleport => self.collision.contains(&mmsi) || self.spoofing.contains(&mmsi),
            Kind::SpeedSpoof => self.speed.contains(&mmsi) || self.spoofing.contains(&mmsi),
            Kind::LoneGlitch => self.any(mmsi),
        }
    }
}

/// The figures of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// `(kind, caught, injected)`, every kind.
    pub per_kind: Vec<(Kind, usize, usize)>,
    /// `(kind, magnitude, caught, injected)`.
    pub per_magnitude: Vec<(Kind, f64, usize, usize)>,
    /// Untouched vessels (known real anomalies excluded).
    pub clean: usize,
    /// Untouched vessels flagged, by MMSI.
    pub false_alarms: Vec<i64>,
    /// Known real anomalies flagged, and present.
    pub real: (usize, usize),
    /// Vessels per identity class.
    pub classes: Vec<(IdentityClass, usize)>,
}

impl Scores {
    /// Recall of the injected anomalies (lone glitches excluded), pooled.
    pub fn recall(&self) -> f64 {
        let (c, n) = self
            .per_kind
            .iter()
            .filter(|(k, _, _)| *k != Kind::LoneGlitch)
            .fold((0, 0), |(c, n), (_, ci, ni)| (c + ci, n + ni));
        ratio(c, n)
    }

    /// Recall of one kind (for [`Kind::LoneGlitch`]: the share flagged).
    pub fn recall_of(&self, kind: Kind) -> f64 {
        self.per_kind
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map_or(0.0, |(_, c, n)| ratio(*c, *n))
    }

    /// False alarms over clean vessels.
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.false_alarms.len(), self.clean)
    }

    /// Whether the goals of issue 14 hold: recall >= 0.98 for every injected
    /// kind, no lone glitch flagged beyond 2%, false alarms <= 0.1%.
    pub fn meets_goals(&self) -> bool {
        [Kind::SharedIdentity, Kind::Teleport, Kind::SpeedSpoof]
            .iter()
            .all(|k| self.recall_of(*k) >= 0.98)
            && self.recall_of(Kind::LoneGlitch) <= 0.02
            && self.false_alarm_rate() <= 0.001
    }

    /// The figures as `name: value` lines.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, c, n) in &self.per_kind {
            if *kind == Kind::LoneGlitch {
                out.push(format!("lone_glitches_injected: {n}"));
                out.push(format!("lone_glitches_flagged: {c}"));
            } else {
                out.push(format!("recall_{kind}: {:.3} ({c} of {n})", ratio(*c, *n)));
            }
        }
        for (kind, m, c, n) in &self.per_magnitude {
            let name = if *kind == Kind::LoneGlitch {
                "flagged"
            } else {
                "recall"
            };
            out.push(format!("{name}_{kind}_{m}{}: {c} of {n}", kind.unit()));
        }
        out.push(format!("recall_injected: {:.3}", self.recall()));
        out.push(format!("clean_vessels: {}", self.clean));
        out.push(format!("false_alarms: {}", self.false_alarms.len()));
        out.push(format!("false_alarm_rate: {:.5}", self.false_alarm_rate()));
        if !self.false_alarms.is_empty() {
            let list: Vec<String> = self
                .false_alarms
                .iter()
                .map(|m| detectors::nine_digits(*m))
                .collect();
            out.push(format!("false_alarm_mmsis: {}", list.join(" ")));
        }
        out.push(format!(
            "real_anomalies_flagged: {} of {}",
            self.real.0, self.real.1
        ));
        for (class, n) in &self.classes {
            out.push(format!(
                "identity_class_{}: {n}",
                class.as_str().to_ascii_lowercase()
            ));
        }
        out.push(format!("goals_met: {}", self.meets_goals()));
        out
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Scores `flags` against `labelled`.
pub fn score(labelled: &Labelled, flags: &Flags) -> Scores {
    let per_kind = Kind::ALL
        .iter()
        .map(|&kind| {
            let of: Vec<_> = labelled.labels.iter().filter(|l| l.kind == kind).collect();
            let caught = of.iter().filter(|l| flags.caught(kind, l.mmsi)).count();
            (kind, caught, of.len())
        })
        .collect();
    let mut mags: Vec<(Kind, f64)> = labelled
        .labels
        .iter()
        .map(|l| (l.kind, l.magnitude))
        .collect();
    mags.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    mags.dedup();
    let per_magnitude = mags
        .into_iter()
        .map(|(kind, m)| {
            let of: Vec<_> = labelled
                .labels
                .iter()
                .filter(|l| l.kind == kind && l.magnitude == m)
                .collect();
            let caught = of.iter().filter(|l| flags.caught(kind, l.mmsi)).count();
            (kind, m, caught, of.len())
        })
        .collect();
    let false_alarms = labelled
        .untouched
        .iter()
        .copied()
        .filter(|m| flags.any(*m))
        .collect();
    let real = (
        labelled
            .known_real
            .iter()
            .filter(|m| flags.any(**m))
            .count(),
        labelled.known_real.len(),
    );
    let classes = IdentityClass::ALL
        .iter()
        .map(|c| (*c, flags.classes.values().filter(|v| *v == c).count()))
        .collect();
    Scores {
        per_kind,
        per_magnitude,
        clean: labelled.untouched.len(),
        false_alarms,
        real,
        classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;
    use chrono::{TimeZone, Utc};

    fn label(mmsi: i64, kind: Kind, magnitude: f64) -> Label {
        Label {
            mmsi,
            kind,
            magnitude,
            from_ts: Utc.with_ymd_and_hms(2022, 1, 3, 0, 5, 0).unwrap(),
        }
    }

    #[test]
    fn recall_false_alarms_and_lines() {
        let labelled = Labelled {
            records: Vec::new(),
            labels: vec![
                label(1, Kind::SharedIdentity, 20.0),
                label(2, Kind::SharedIdentity, 50.0),
                label(3, Kind::Teleport, 20.0),
                label(4, Kind::SpeedSpoof, 100.0),
                label(5, Kind::LoneGlitch, 3.0),
            ],
            untouched: (100..1100).collect(),
            known_real: BTreeSet::from([211_002_010]),
        };
        let mut flags = Flags::default();
        flags.collision.extend([1, 211_002_010]);
        flags.spoofing.extend([2, 3, 100]); // 2 is a spoof score, not a collision
        flags.speed.insert(4);
        flags.classes.insert(1, IdentityClass::Ship);
        flags.classes.insert(100, IdentityClass::CoastStation);
        let s = score(&labelled, &flags);
        assert_eq!(s.recall_of(Kind::SharedIdentity), 0.5);
        assert_eq!(
            (s.recall_of(Kind::Teleport), s.recall_of(Kind::SpeedSpoof)),
            (1.0, 1.0)
        );
        assert_eq!(s.recall_of(Kind::LoneGlitch), 0.0);
        assert_eq!(s.recall(), 0.75);
        assert_eq!(
            (s.clean, s.false_alarms.clone(), s.real),
            (1000, vec![100], (1, 1))
        );
        assert!((s.false_alarm_rate() - 0.001).abs() < 1e-12);
        assert!(!s.meets_goals(), "a shared identity was missed");
        let lines = s.lines();
        for want in [
            "recall_shared_identity: 0.500 (1 of 2)",
            "recall_shared_identity_20km: 1 of 1",
            "recall_shared_identity_50km: 0 of 1",
            "lone_glitches_flagged: 0",
            "false_alarms: 1",
            "false_alarm_mmsis: 000000100",
            "real_anomalies_flagged: 1 of 1",
            "identity_class_coast_station: 1",
            "goals_met: false",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} not in {lines:#?}");
        }
        assert!(lines.iter().all(|l| l.contains(": ")));
        flags.collision.insert(2);
        flags.spoofing.remove(&100);
        assert!(score(&labelled, &flags).meets_goals());
        flags.speed.insert(5);
        assert!(
            !score(&labelled, &flags).meets_goals(),
            "a glitch was flagged"
        );
    }
}
