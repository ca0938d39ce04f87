//! Injecting labelled anomalies into real tracks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use detectors::{IdentityClass, IdentityParams, classify_mmsi};

use crate::geo::destination;
use crate::rng::SplitMix64;
use crate::{EvalError, Record};

/// What was injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A second transmitter: another vessel's real track, moved to a given
    /// separation (km) from the victim, sent under the victim's identity.
    SharedIdentity,
    /// The rest of the victim's track moved a given distance (km).
    Teleport,
    /// The rest of the victim's track replaced by a straight run at a given
    /// speed (knots); the reported SOG is left as it was.
    SpeedSpoof,
    /// One fix moved a given distance (km), or one extra report at the same
    /// instant that far away: must NOT be flagged.
    LoneGlitch,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [
        Kind::SharedIdentity,
        Kind::Teleport,
        Kind::SpeedSpoof,
        Kind::LoneGlitch,
    ];

    /// `shared_identity`, `teleport`, `speed_spoof`, `lone_glitch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SharedIdentity => "shared_identity",
            Kind::Teleport => "teleport",
            Kind::SpeedSpoof => "speed_spoof",
            Kind::LoneGlitch => "lone_glitch",
        }
    }

    /// The unit of its magnitude.
    pub fn unit(self) -> &'static str {
        match self {
            Kind::SpeedSpoof => "kn",
            _ => "km",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One injected anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The victim's MMSI.
    pub mmsi: i64,
    /// What was injected.
    pub kind: Kind,
    /// Separation or distance (km), or speed (kn).
    pub magnitude: f64,
    /// When the anomaly starts.
    pub from_ts: DateTime<Utc>,
}

/// What to inject.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The seed.
    pub seed: u64,
    /// Victims per kind.
    pub per_kind: usize,
    /// Separations of shared identities, km (victims cycle through them).
    pub shared_km: Vec<f64>,
    /// Teleport distances, km.
    pub teleport_km: Vec<f64>,
    /// Spoofed speeds, knots.
    pub spoof_kn: Vec<f64>,
    /// Lone glitch distances, km.
    pub glitch_km: Vec<f64>,
    /// Injections happen in `[start, end]`, where the sample is dense.
    pub start: DateTime<Utc>,
    /// See `start`.
    pub end: DateTime<Utc>,
}

impl Default for Plan {
    /// Seed 14, 60 victims per kind, 2022-01-03 00:01 to 00:25.
    fn default() -> Self {
        let at = |m| {
            Utc.with_ymd_and_hms(2022, 1, 3, 0, m, 0)
                .single()
                .unwrap_or_default()
        };
        Self {
            seed: 14,
            per_kind: 60,
            shared_km: vec![20.0, 50.0, 200.0, 1000.0, 3000.0],
            teleport_km: vec![20.0, 100.0, 500.0, 2000.0],
            spoof_kn: vec![100.0, 150.0, 250.0, 400.0],
            glitch_km: vec![3.0, 10.0, 50.0, 500.0, 3000.0],
            start: at(1),
            end: at(25),
        }
    }
}

impl Plan {
    /// Magnitudes at the edge of what physics can tell from noise and from
    /// a fast vessel: shared identities and teleports 5 and 10 km away, speed
    /// spoofs at 70 and 85 kn (the default ceiling is 60), glitches 1 and 2
    /// km off. The sweep measures params on it: the goals are for the
    /// default plan, this one shows where each param starts to cost.
    pub fn boundary() -> Self {
        Self {
            seed: 41,
            shared_km: vec![5.0, 10.0],
            teleport_km: vec![5.0, 10.0],
            spoof_kn: vec![70.0, 85.0],
            glitch_km: vec![1.0, 2.0],
            ..Self::default()
        }
    }
}

/// The labelled records.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// The sample's records with the injections, sorted by `(mmsi, ts)`.
    pub records: Vec<Record>,
    /// One per victim.
    pub labels: Vec<Label>,
    /// Vessels nothing was injected into, known real anomalies excluded.
    pub untouched: BTreeSet<i64>,
    /// The sample's known real anomalies ([`known_real_anomalies`]) present.
    pub known_real: BTreeSet<i64>,
}

/// The sample's documented real anomalies, neither victims nor clean:
/// 211002010 (two transmitters, Gulf of Mexico and California: the data
/// README), 367654040 SEASIDE BLONDE (Florida, then Chesapeake Bay three
/// minutes later) and 367654150 BOBALOU (two boats on one MMSI), both of
/// issue 14.
pub fn known_real_anomalies() -> BTreeSet<i64> {
    BTreeSet::from([211_002_010, 367_654_040, 367_654_150])
}

/// Minimum fixes inside the plan's span for a vessel to be a victim.
const MIN_FIXES: usize = 8;
/// Minimum span of those fixes, seconds.
const MIN_SPAN_S: i64 = 600;

/// Injects `plan` into `records` (the sample, any order).
pub fn inject(records: &[Record], plan: &Plan) -> Result<Labelled, EvalError> {
    let mut rng = SplitMix64::new(plan.seed);
    let known = known_real_anomalies();
    let mut by_vessel: BTreeMap<i64, Vec<Record>> = BTreeMap::new();
    for r in records {
        by_vessel.entry(r.mmsi).or_default().push(r.clone());
    }
    for v in by_vessel.values_mut() {
        v.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.lat.total_cmp(&b.lat)));
    }
    let in_span = |r: &Record| plan.start <= r.ts && r.ts <= plan.end;
    // Fixes the cycles keep (a SOG of 102.3 makes stage 2 drop the report).
    let usable = |r: &Record| in_span(r) && !r.fields()[4].trim().starts_with("102.3");
    let mut eligible: Vec<i64> = by_vessel
        .iter()
        .filter(|(m, v)| {
            let inside: Vec<&Record> = v.iter().filter(|r| usable(r)).collect();
            classify_mmsi(**m, &IdentityParams::default()).class == IdentityClass::Ship
                && !known.contains(m)
                && inside.len() >= MIN_FIXES
                && (inside[inside.len() - 1].ts - inside[0].ts).num_seconds() >= MIN_SPAN_S
        })
        .map(|(m, _)| *m)
        .collect();
    rng.shuffle(&mut eligible);
    // Victims of each kind, then donors for the shared identities.
    let wanted = plan.per_kind * (Kind::ALL.len() + 1);
    if eligible.len() < wanted {
        return Err(EvalError::TooFewVessels {
            kind: "all",
            wanted,
            eligible: eligible.len(),
        });
    }
    let mut labels = Vec::new();
    let mut extra: Vec<Record> = Vec::new();
    let mut next = eligible.into_iter();
    let mut take = || next.next().unwrap_or_default();
    for kind in Kind::ALL {
        let mags = match kind {
            Kind::SharedIdentity => &plan.shared_km,
            Kind::Teleport => &plan.teleport_km,
            Kind::SpeedSpoof => &plan.spoof_kn,
            Kind::LoneGlitch => &plan.glitch_km,
        };
        for i in 0..plan.per_kind {
            let victim = take();
            let magnitude = mags[i % mags.len()];
            let bearing = rng.unit() * 360.0;
            let track = by_vessel
                .get_mut(&victim)
                .map(std::mem::take)
                .unwrap_or_default();
            let inside: Vec<usize> = (0..track.len()).filter(|&k| in_span(&track[k])).collect();
            let mut track = track;
            let from_ts = match kind {
                Kind::SharedIdentity => {
                    let donor_mmsi = take();
                    let donor = by_vessel.get(&donor_mmsi).map_or(&[][..], Vec::as_slice);
                    let anchor = &track[inside[0]];
                    let (lat, lon) = destination(anchor.lat, anchor.lon, bearing, magnitude);
                    let Some(first) = donor.iter().find(|r| in_span(r)).cloned() else {
                        by_vessel.insert(victim, track);
                        continue;
                    };
                    let (dlat, dlon) = (lat - first.lat, lon - first.lon);
                    for d in donor.iter().filter(|r| in_span(r)) {
                        let mut copy = d.clone();
                        copy.take_identity_of(anchor);
                        copy.set_position((d.lat + dlat).clamp(-89.0, 89.0), wrap(d.lon + dlon));
                        extra.push(copy);
                    }
                    first.ts.max(anchor.ts)
                }
                Kind::Teleport => {
                    let split = inside[inside.len() / 2];
                    for r in track.iter_mut().skip(split).filter(|r| in_span(r)) {
                        let (lat, lon) = destination(r.lat, r.lon, bearing, magnitude);
                        r.set_position(lat, lon);
                    }
                    track[split].ts
                }
                Kind::SpeedSpoof => {
                    let split = inside[inside.len() / 3];
                    let (t0, lat0, lon0) = (track[split].ts, track[split].lat, track[split].lon);
                    for r in track.iter_mut().skip(split + 1).filter(|r| in_span(r)) {
                        let hours = (r.ts - t0).num_milliseconds() as f64 / 3_600_000.0;
                        let km = magnitude * detectors::geo::KM_PER_NAUTICAL_MILE * hours;
                        let (lat, lon) = destination(lat0, lon0, bearing, km);
                        r.set_position(lat, lon);
                    }
                    t0
                }
                Kind::LoneGlitch => {
                    let k = inside[inside.len() / 2];
                    let (lat, lon) = destination(track[k].lat, track[k].lon, bearing, magnitude);
                    if i % 2 == 0 {
                        track[k].set_position(lat, lon);
                    } else {
                        let mut dup = track[k].clone();
                        dup.set_position(lat, lon);
                        extra.push(dup);
                    }
                    track[k].ts
                }
            };
            by_vessel.insert(victim, track);
            labels.push(Label {
                mmsi: victim,
                kind,
                magnitude,
                from_ts,
            });
        }
    }
    let victims: BTreeSet<i64> = labels.iter().map(|l| l.mmsi).collect();
    let mut out: Vec<Record> = by_vessel.into_values().flatten().chain(extra).collect();
    out.sort_by(|a, b| {
        (a.mmsi, a.ts)
            .cmp(&(b.mmsi, b.ts))
            .then(a.lat.total_cmp(&b.lat))
            .then(a.lon.total_cmp(&b.lon))
    });
    let all: BTreeSet<i64> = out.iter().map(|r| r.mmsi).collect();
    let known_real: BTreeSet<i64> = all.intersection(&known).copied().collect();
    let untouched = all
        .iter()
        .filter(|m| !victims.contains(m) && !known.contains(m))
        .copied()
        .collect();
    Ok(Labelled {
        records: out,
        labels,
        untouched,
        known_real,
    })
}

fn wrap(lon: f64) -> f64 {
    (lon + 540.0) % 360.0 - 180.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use detectors::geo::haversine_km;

    /// `vessels` synthetic vessels moored 0.1 degree apart, a fix a minute.
    fn sample(vessels: i64) -> Vec<Record> {
        let t0 = Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 30).unwrap();
        let mut out = Vec::new();
        for v in 0..vessels {
            for k in 0..20 {
                let ts = (t0 + TimeDelta::minutes(k)).format("%Y-%m-%dT%H:%M:%S");
                let line = format!(
                    "{},{ts},{:.5},-80.00000,0.0,0.0,511,V{v},,,70,,,,,,A",
                    366_000_000 + v,
                    25.0 + 0.1 * v as f64
                );
                let fields = line.split(',').map(str::to_owned).collect();
                out.push(Record::parse(fields, 2).unwrap());
            }
        }
        out
    }

    fn plan() -> Plan {
        Plan {
            per_kind: 4,
            ..Plan::default()
        }
    }

    #[test]
    fn injection_is_deterministic_and_labels_every_victim() {
        let s = sample(40);
        let a = inject(&s, &plan()).unwrap();
        let b = inject(&s, &plan()).unwrap();
        assert_eq!(a, b);
        let c = inject(&s, &Plan { seed: 15, ..plan() }).unwrap();
        assert_ne!(a.labels, c.labels, "another seed, other victims");
        assert_eq!(a.labels.len(), 16);
        for kind in Kind::ALL {
            assert_eq!(a.labels.iter().filter(|l| l.kind == kind).count(), 4);
        }
        let victims: BTreeSet<i64> = a.labels.iter().map(|l| l.mmsi).collect();
        assert_eq!(victims.len(), 16, "one anomaly per victim");
        assert_eq!(a.untouched.len(), 40 - 16);
        assert!(a.untouched.is_disjoint(&victims));
        // Untouched vessels are exactly as they were.
        for m in &a.untouched {
            let before: Vec<&Record> = s.iter().filter(|r| r.mmsi == *m).collect();
            let after: Vec<&Record> = a.records.iter().filter(|r| r.mmsi == *m).collect();
            assert_eq!(before, after);
        }
    }

    #[test]
    fn each_kind_is_what_its_label_says() {
        let s = sample(40);
        let l = inject(&s, &plan()).unwrap();
        let track = |m: i64| -> Vec<&Record> { l.records.iter().filter(|r| r.mmsi == m).collect() };
        let orig = |m: i64| -> Vec<&Record> { s.iter().filter(|r| r.mmsi == m).collect() };
        for label in &l.labels {
            let (now, before) = (track(label.mmsi), orig(label.mmsi));
            match label.kind {
                Kind::SharedIdentity => {
                    assert!(now.len() > before.len());
                    let far = now
                        .iter()
                        .filter(|r| {
                            haversine_km(r.lat, r.lon, before[0].lat, before[0].lon)
                                > label.magnitude * 0.5
                        })
                        .count();
                    assert!(far >= 8, "{label:?}: {far}");
                    assert!(
                        now.iter()
                            .all(|r| r.vessel_name() == before[0].vessel_name())
                    );
                }
                Kind::Teleport => {
                    assert_eq!(now.len(), before.len());
                    let last = (now[now.len() - 2], before[before.len() - 2]);
                    let km = haversine_km(last.0.lat, last.0.lon, last.1.lat, last.1.lon);
                    assert!(
                        (km - label.magnitude).abs() < 0.01 * label.magnitude,
                        "{km}"
                    );
                }
                Kind::SpeedSpoof => {
                    let (a, b) = (now[10], now[18]);
                    let km = haversine_km(a.lat, a.lon, b.lat, b.lon);
                    let kn = km / 1.852 / ((b.ts - a.ts).num_seconds() as f64 / 3600.0);
                    assert!(
                        (kn - label.magnitude).abs() < 0.02 * label.magnitude,
                        "{kn}"
                    );
                }
                Kind::LoneGlitch => {
                    let moved: Vec<&&Record> = now
                        .iter()
                        .filter(|r| haversine_km(r.lat, r.lon, before[0].lat, before[0].lon) > 1.0)
                        .collect();
                    assert_eq!(moved.len(), 1, "{label:?}");
                    assert!(now.len() == before.len() || now.len() == before.len() + 1);
                }
            }
        }
    }

    #[test]
    fn too_small_a_sample_is_an_error_not_a_panic() {
        let err = inject(&sample(5), &plan()).unwrap_err();
        assert!(err.to_string().contains("only 5 fit"), "{err}");
    }
}
