//! `identity`: the class of each MMSI per ITU-R M.585 (ship, group, coast
//! station, SAR aircraft, handheld, craft of a parent ship, aid to
//! navigation, AIS-SART / MOB / EPIRB, or invalid), its MID, and its name.
//!
//! MMSIs are stored as integers, so the leading zeros of coast stations
//! (`00` + MID) and groups (`0` + MID) are lost in the database: an integer
//! from 0 to 999,999,999 is read back as the nine-digit MMSI with its
//! leading zeros ([`nine_digits`]); anything else is not nine digits.

use model_api::{Context, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem};
use serde::{Deserialize, Serialize};
use serde_json::json;

use ais_types::{AisWindow, Identities, IdentityClass, IdentityProblem, VesselIdentity};

use crate::mid::mid;
use crate::params::ModelParams;

/// Options of [`IdentityModel`].
///
/// Default, as JSON: `{"unassigned_mid_invalid": true, "craft_mid_required": false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityParams {
    /// Whether a ship, group, coast station, SAR aircraft, handheld or aid
    /// to navigation whose MID is not assigned (see [`crate::mid`]) is
    /// INVALID. On by default: `386168180` is no ship of any administration.
    pub unassigned_mid_invalid: bool,
    /// Whether a craft associated with a parent ship (`98` + MID + 4) needs
    /// an assigned MID too. Off by default: administrations number such
    /// craft on schemes of their own (the sample's US auxiliary craft
    /// `985226000` and `985346207` carry no assigned MID), and they are not
    /// vessel identities that could be spoofed into a score anyway.
    pub craft_mid_required: bool,
}

impl Default for IdentityParams {
    fn default() -> Self {
        Self {
            unassigned_mid_invalid: true,
            craft_mid_required: false,
        }
    }
}

impl ModelParams for IdentityParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        Ok(())
    }
}

/// An MMSI's class, MID and, when INVALID, the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    /// The class.
    pub class: IdentityClass,
    /// The MID when the format has one and it is assigned.
    pub mid: Option<u16>,
    /// Why it is INVALID; `None` for every other class.
    pub problem: Option<IdentityProblem>,
}

/// Classifies one MMSI per ITU-R M.585.
///
/// ```
/// use detectors::{classify_mmsi, IdentityClass, IdentityParams, IdentityProblem};
/// let p = IdentityParams::default();
/// assert_eq!(classify_mmsi(211_002_010, &p).class, IdentityClass::Ship);
/// assert_eq!(classify_mmsi(3_669_881, &p).class, IdentityClass::CoastStation);
/// assert_eq!(classify_mmsi(972_971_214, &p).class, IdentityClass::ManOverboard);
/// let bad = classify_mmsi(386_168_180, &p);
/// assert_eq!((bad.class, bad.problem), (IdentityClass::Invalid, Some(IdentityProblem::UnassignedMid(386))));
/// ```
pub fn classify_mmsi(mmsi: i64, params: &IdentityParams) -> Classification {
    let invalid = |problem| Classification {
        class: IdentityClass::Invalid,
        mid: None,
        problem: Some(problem),
    };
    if !(0..1_000_000_000).contains(&mmsi) {
        return invalid(IdentityProblem::NotNineDigits);
    }
    // The nine digits, leading zeros included (no allocation: this runs
    // for every vessel of every window).
    let mut b = [b'0'; 9];
    let mut rest = mmsi;
    for d in b.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let digits = |from: usize| -> u16 {
        b[from..from + 3]
            .iter()
            .fold(0, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let (class, mid_at, mid_required) = match (b[0], b[1], b[2]) {
        (b'2'..=b'7', _, _) => (IdentityClass::Ship, 0, true),
        (b'0', b'0', _) => (IdentityClass::CoastStation, 2, true),
        (b'0', _, _) => (IdentityClass::Group, 1, true),
        (b'1', b'1', b'1') => (IdentityClass::SarAircraft, 3, true),
        (b'8', _, _) => (IdentityClass::Handheld, 1, true),
        (b'9', b'8', _) => (
            IdentityClass::CraftOfParentShip,
            2,
            params.craft_mid_required,
        ),
        (b'9', b'9', _) => (IdentityClass::AidToNavigation, 2, true),
        (b'9', b'7', b'0') => return fixed(IdentityClass::AisSart),
        (b'9', b'7', b'2') => return fixed(IdentityClass::ManOverboard),
        (b'9', b'7', b'4') => return fixed(IdentityClass::Epirb),
        _ => return invalid(IdentityProblem::NoFormat),
    };
    let code = digits(mid_at);
    let assigned = mid(code).is_some();
    if !assigned && mid_required && params.unassigned_mid_invalid {
        return invalid(IdentityProblem::UnassignedMid(code));
    }
    Classification {
        class,
        mid: assigned.then_some(code),
        problem: None,
    }
}

fn fixed(class: IdentityClass) -> Classification {
    Classification {
        class,
        mid: None,
        problem: None,
    }
}

/// The artifact of `identity`: classifies every vessel of `window`.
pub fn identities(window: &AisWindow, params: &IdentityParams) -> Identities {
    let vessels = window
        .vessels()
        .map(|(mmsi, fixes)| {
            let c = classify_mmsi(mmsi, params);
            let name = fixes
                .iter()
                .rev()
                .filter_map(|f| f.vessel_name.as_deref().map(str::trim))
                .find(|n| !n.is_empty())
                .map(str::to_owned);
            VesselIdentity {
                mmsi,
                class: c.class,
                mid: c.mid,
                problem: c.problem,
                name,
                last_ts: fixes[fixes.len() - 1].ts,
            }
        })
        .collect();
    Identities::new(vessels)
}

/// `identity` (root model, base input [`AisWindow`]).
///
/// Rows: one per identity that is **not a ship station** (entity key the
/// nine-digit MMSI), `score` 1 for INVALID and 0 for the other classes,
/// payload `{"class", "mid", "problem", "name"}`. Metrics: `vessels`,
/// `invalid`, and one `class_<class>` count per class. Artifact:
/// [`Identities`] (every vessel).
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityModel;

impl Model for IdentityModel {
    type Params = IdentityParams;
    type Artifact = Identities;

    fn check(&self, params: &IdentityParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, IdentityParams>) -> Result<Output<Identities>, ModelError> {
        let window: &AisWindow = ctx.base()?;
        let ids = identities(window, ctx.params());
        let mut out = ModelOutput::new();
        for v in ids.vessels().iter().filter(|v| !v.is_ship()) {
            let score = if v.is_valid() { 0.0 } else { 1.0 };
            out.push(OutputRow::new(v.mmsi_text(), score).with_payload(json!({
                "class": v.class.as_str(),
                "mid": v.mid,
                "problem": v.problem.map(IdentityProblem::as_str),
                "name": v.name,
            })));
        }
        out.metric("vessels", ids.vessels().len() as f64);
        out.metric("invalid", ids.invalid().count() as f64);
        for (class, n) in ids.class_counts() {
            out.metric(
                format!("class_{}", class.as_str().to_ascii_lowercase()),
                n as f64,
            );
        }
        Ok(Output::new(out, ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nine_digits;
    use crate::test_fixtures::{fix, window};

    fn class(mmsi: i64) -> (IdentityClass, Option<u16>, Option<IdentityProblem>) {
        let c = classify_mmsi(mmsi, &IdentityParams::default());
        (c.class, c.mid, c.problem)
    }

    #[test]
    fn every_class_of_itu_r_m585() {
        use IdentityClass::*;
        assert_eq!(class(211_002_010), (Ship, Some(211), None));
        assert_eq!(class(775_999_999), (Ship, Some(775), None));
        assert_eq!(class(36_926_403), (Group, Some(369), None));
        assert_eq!(class(3_669_881), (CoastStation, Some(366), None));
        assert_eq!(class(7_751_005), (CoastStation, Some(775), None));
        assert_eq!(class(111_366_123), (SarAircraft, Some(366), None));
        assert_eq!(class(836_612_345), (Handheld, Some(366), None));
        assert_eq!(class(983_105_007), (CraftOfParentShip, Some(310), None));
        assert_eq!(class(985_226_000), (CraftOfParentShip, None, None));
        assert_eq!(class(993_661_234), (AidToNavigation, Some(366), None));
        assert_eq!(class(970_123_456), (AisSart, None, None));
        assert_eq!(class(972_971_214), (ManOverboard, None, None));
        assert_eq!(class(974_000_001), (Epirb, None, None));
    }

    #[test]
    fn invalid_identities_and_their_problems() {
        use IdentityProblem::*;
        let inv = |m| {
            let (c, mid, p) = class(m);
            assert_eq!((c, mid), (IdentityClass::Invalid, None), "{m}");
            p.unwrap()
        };
        assert_eq!(inv(386_168_180), UnassignedMid(386));
        assert_eq!(inv(583_071_265), UnassignedMid(583));
        assert_eq!(
            inv(999_999_999),
            UnassignedMid(999),
            "an AtoN needs its MID"
        );
        assert_eq!(inv(12_345_678), UnassignedMid(123), "group 0 + 123");
        assert_eq!(inv(9_110_192), UnassignedMid(911), "coast 00 + 911");
        assert_eq!(inv(111_999_123), UnassignedMid(999));
        assert_eq!(inv(122_292_919), NoFormat);
        assert_eq!(inv(191_283_710), NoFormat);
        assert_eq!(inv(971_000_000), NoFormat);
        assert_eq!(inv(900_000_000), NoFormat);
        assert_eq!(inv(1_072_211_352), NotNineDigits);
        assert_eq!(inv(1_000_000_000), NotNineDigits);
        assert_eq!(inv(-211_002_010), NotNineDigits);
        assert_eq!(inv(0), UnassignedMid(0), "000000000: coast 00 + 000");
    }

    #[test]
    fn boundaries_and_leading_zeros() {
        use IdentityClass::*;
        // The largest and smallest nine-digit values.
        assert_eq!(class(999_999_999).0, Invalid);
        assert_eq!(class(200_000_000).0, Invalid, "MID 200 is not assigned");
        assert_eq!(class(201_000_000), (Ship, Some(201), None));
        assert_eq!(class(799_999_999).0, Invalid, "MID 799 is not assigned");
        // 99,999,999 is 099999999: a group of MID 999 (unassigned).
        assert_eq!(
            class(99_999_999).2,
            Some(IdentityProblem::UnassignedMid(999))
        );
        assert_eq!(nine_digits(0), "000000000");
        assert_eq!(nine_digits(999_999_999), "999999999");
        assert_eq!(nine_digits(-5), "-5");
        // 110_366_123 is not 111 + MID.
        assert_eq!(class(110_366_123).0, Invalid);
    }

    #[test]
    fn params_relax_the_mid_rule() {
        let lax = IdentityParams {
            unassigned_mid_invalid: false,
            craft_mid_required: false,
        };
        let c = classify_mmsi(386_168_180, &lax);
        assert_eq!((c.class, c.mid), (IdentityClass::Ship, None));
        let strict = IdentityParams {
            craft_mid_required: true,
            ..IdentityParams::default()
        };
        assert_eq!(
            classify_mmsi(985_226_000, &strict).problem,
            Some(IdentityProblem::UnassignedMid(522))
        );
        assert_eq!(
            classify_mmsi(983_105_007, &strict).class,
            IdentityClass::CraftOfParentShip
        );
    }

    #[test]
    fn name_is_the_latest_non_empty_one() {
        let mut a = fix(211_002_010, 0, 1.0, 1.0);
        a.vessel_name = Some("OLD".into());
        let mut b = fix(211_002_010, 10, 1.0, 1.0);
        b.vessel_name = Some("NEW ".into());
        let mut c = fix(211_002_010, 20, 1.0, 1.0);
        c.vessel_name = Some("  ".into());
        let ids = identities(
            &window(vec![
                a,
                b,
                c,
                fix(12_345_678, 5, 1.0, 1.0),
                fix(3_669_881, 5, 1.0, 1.0),
            ]),
            &IdentityParams::default(),
        );
        let v = ids.get(211_002_010).unwrap();
        assert_eq!(
            (v.name.as_deref(), v.is_valid(), v.mid),
            (Some("NEW"), true, Some(211))
        );
        let bad: Vec<i64> = ids.invalid().map(|v| v.mmsi).collect();
        assert_eq!(bad, vec![12_345_678]);
        let coast = ids.get(3_669_881).unwrap();
        assert!(coast.is_valid() && !coast.is_ship());
        assert_eq!(coast.mmsi_text(), "003669881");
        let counts = ids.class_counts();
        assert_eq!(counts.len(), IdentityClass::ALL.len());
        assert!(counts.contains(&(IdentityClass::CoastStation, 1)));
        assert!(counts.contains(&(IdentityClass::Ship, 1)));
        assert!(counts.contains(&(IdentityClass::Invalid, 1)));
    }
}
