//! `identity`: the class of each MMSI per ITU-R M.585 (ship, group, coast
//! station, SAR aircraft, handheld, craft of a parent ship, aid to
//! navigation, AIS-SART / MOB / EPIRB, or invalid), its MID, and its name.
//!
//! MMSIs are stored as integers, so the leading zeros of coast stations
//! (`00` + MID) and groups (`0` + MID) are lost in the database: an integer
//! from 0 to 999,999,999 is read back as the nine-digit MMSI with its
//! leading zeros ([`nine_digits`]); anything else is not nine digits.

use std::fmt;

use chrono::{DateTime, Utc};
use model_api::{Context, Model, ModelError, ModelOutput, OutputRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::mid::mid;
use crate::params::ModelParams;
use crate::window::AisWindow;

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
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The class of an identity per ITU-R M.585.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityClass {
    /// Ship station: MID + 6 digits, MID starting with 2 to 7.
    Ship,
    /// Group of ship stations: `0` + MID + 5.
    Group,
    /// Coast station: `00` + MID + 4.
    CoastStation,
    /// SAR aircraft: `111` + MID + 3.
    SarAircraft,
    /// Handheld VHF transceiver with DSC and GNSS: `8` + MID + 5.
    Handheld,
    /// Craft associated with a parent ship (tender, lifeboat): `98` + MID + 4.
    CraftOfParentShip,
    /// Aid to navigation: `99` + MID + 4.
    AidToNavigation,
    /// AIS-SART (search and rescue transmitter): `970` + 6.
    AisSart,
    /// Man overboard device: `972` + 6.
    ManOverboard,
    /// EPIRB-AIS: `974` + 6.
    Epirb,
    /// Fits no format, or carries an unassigned MID.
    Invalid,
}

impl IdentityClass {
    /// Every class, in the order reports list them.
    pub const ALL: [IdentityClass; 11] = [
        IdentityClass::Ship,
        IdentityClass::Group,
        IdentityClass::CoastStation,
        IdentityClass::SarAircraft,
        IdentityClass::Handheld,
        IdentityClass::CraftOfParentShip,
        IdentityClass::AidToNavigation,
        IdentityClass::AisSart,
        IdentityClass::ManOverboard,
        IdentityClass::Epirb,
        IdentityClass::Invalid,
    ];

    /// `SHIP`, `GROUP`, `COAST_STATION`, `SAR_AIRCRAFT`, `HANDHELD`,
    /// `CRAFT_OF_PARENT_SHIP`, `AID_TO_NAVIGATION`, `AIS_SART`, `MOB`,
    /// `EPIRB` or `INVALID`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityClass::Ship => "SHIP",
            IdentityClass::Group => "GROUP",
            IdentityClass::CoastStation => "COAST_STATION",
            IdentityClass::SarAircraft => "SAR_AIRCRAFT",
            IdentityClass::Handheld => "HANDHELD",
            IdentityClass::CraftOfParentShip => "CRAFT_OF_PARENT_SHIP",
            IdentityClass::AidToNavigation => "AID_TO_NAVIGATION",
            IdentityClass::AisSart => "AIS_SART",
            IdentityClass::ManOverboard => "MOB",
            IdentityClass::Epirb => "EPIRB",
            IdentityClass::Invalid => "INVALID",
        }
    }
}

impl fmt::Display for IdentityClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an MMSI is INVALID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityProblem {
    /// Negative, or ten digits and more (e.g. `1072211352`).
    NotNineDigits,
    /// Nine digits that fit no format of ITU-R M.585 (e.g. `122292919`).
    NoFormat,
    /// The format fits but its MID is not assigned; the MID is given
    /// (e.g. 386 in `386168180`).
    UnassignedMid(u16),
}

impl IdentityProblem {
    /// `NOT_NINE_DIGITS`, `NO_FORMAT` or `UNASSIGNED_MID`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProblem::NotNineDigits => "NOT_NINE_DIGITS",
            IdentityProblem::NoFormat => "NO_FORMAT",
            IdentityProblem::UnassignedMid(_) => "UNASSIGNED_MID",
        }
    }
}

impl fmt::Display for IdentityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityProblem::NotNineDigits => f.write_str("MMSI is not nine digits"),
            IdentityProblem::NoFormat => f.write_str("MMSI fits no ITU-R M.585 format"),
            IdentityProblem::UnassignedMid(m) => write!(f, "MID {m:03} is not assigned"),
        }
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

/// The MMSI as shown and classified: nine digits with the leading zeros the
/// integer column lost, for `0..=999_999_999`; other values as they are.
///
/// ```
/// assert_eq!(detectors::nine_digits(3_669_881), "003669881");
/// assert_eq!(detectors::nine_digits(211_002_010), "211002010");
/// assert_eq!(detectors::nine_digits(1_072_211_352), "1072211352");
/// ```
pub fn nine_digits(mmsi: i64) -> String {
    if (0..1_000_000_000).contains(&mmsi) {
        format!("{mmsi:09}")
    } else {
        mmsi.to_string()
    }
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
    let s = format!("{mmsi:09}");
    let b = s.as_bytes();
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

/// One vessel's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VesselIdentity {
    /// The MMSI as stored.
    pub mmsi: i64,
    /// Its class per ITU-R M.585.
    pub class: IdentityClass,
    /// The assigned MID, when the format has one and it is assigned.
    pub mid: Option<u16>,
    /// Why it is INVALID; `None` for every other class.
    pub problem: Option<IdentityProblem>,
    /// The latest non-empty name reported in the window.
    pub name: Option<String>,
    /// Time of the vessel's last fix in the window.
    pub last_ts: DateTime<Utc>,
}

impl VesselIdentity {
    /// Whether the identity fits a format with an acceptable MID (any class
    /// but [`IdentityClass::Invalid`]).
    pub fn is_valid(&self) -> bool {
        self.class != IdentityClass::Invalid
    }

    /// Whether it is a ship station, the one class a spoofing score is about.
    pub fn is_ship(&self) -> bool {
        self.class == IdentityClass::Ship
    }

    /// The nine-digit form ([`nine_digits`]).
    pub fn mmsi_text(&self) -> String {
        nine_digits(self.mmsi)
    }
}

/// The artifact of `identity`: every vessel of the window, by ascending MMSI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identities {
    vessels: Vec<VesselIdentity>,
}

impl Identities {
    /// Classifies every vessel of `window`.
    pub fn compute(window: &AisWindow, params: &IdentityParams) -> Self {
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
        Self { vessels }
    }

    /// All vessels, by ascending MMSI.
    pub fn vessels(&self) -> &[VesselIdentity] {
        &self.vessels
    }

    /// One vessel's identity.
    pub fn get(&self, mmsi: i64) -> Option<&VesselIdentity> {
        self.vessels
            .binary_search_by_key(&mmsi, |v| v.mmsi)
            .ok()
            .map(|i| &self.vessels[i])
    }

    /// The vessels whose identity is INVALID.
    pub fn invalid(&self) -> impl Iterator<Item = &VesselIdentity> {
        self.vessels.iter().filter(|v| !v.is_valid())
    }

    /// How many vessels of each class, every class listed (zeros included),
    /// in the order of [`IdentityClass::ALL`].
    pub fn class_counts(&self) -> Vec<(IdentityClass, usize)> {
        IdentityClass::ALL
            .iter()
            .map(|&c| (c, self.vessels.iter().filter(|v| v.class == c).count()))
            .collect()
    }
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

    fn run(&self, ctx: &Context<'_, IdentityParams>) -> Result<ModelOutput, ModelError> {
        let window: &AisWindow = ctx.base()?;
        let ids = Identities::compute(window, ctx.params());
        let mut out = ModelOutput::new();
        for v in ids.vessels.iter().filter(|v| !v.is_ship()) {
            let score = if v.is_valid() { 0.0 } else { 1.0 };
            out.push(OutputRow::new(v.mmsi_text(), score).with_payload(json!({
                "class": v.class.as_str(),
                "mid": v.mid,
                "problem": v.problem.map(IdentityProblem::as_str),
                "name": v.name,
            })));
        }
        out.metric("vessels", ids.vessels.len() as f64);
        out.metric("invalid", ids.invalid().count() as f64);
        for (class, n) in ids.class_counts() {
            out.metric(
                format!("class_{}", class.as_str().to_ascii_lowercase()),
                n as f64,
            );
        }
        out.set_artifact(ids);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let ids = Identities::compute(
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
