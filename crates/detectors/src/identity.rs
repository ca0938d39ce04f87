//! `identity`: whether each MMSI is a plausible ship identity, and its name.

use std::fmt;

use chrono::{DateTime, Utc};
use model_api::{Context, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::params::ModelParams;
use crate::window::AisWindow;

/// Thresholds of [`IdentityModel`].
///
/// Default (the legacy values), as JSON:
/// `{"min_country_code": 201, "max_country_code": 775}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityParams {
    /// Lowest plausible Maritime Identification Digits (the first three of a
    /// nine-digit ship MMSI; 201 is Albania, the first ship MID).
    pub min_country_code: u16,
    /// Highest plausible MID (775 is Venezuela, the last ship MID).
    pub max_country_code: u16,
}

impl Default for IdentityParams {
    fn default() -> Self {
        Self {
            min_country_code: 201,
            max_country_code: 775,
        }
    }
}

impl ModelParams for IdentityParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        let (lo, hi) = (self.min_country_code, self.max_country_code);
        if (100..=999).contains(&lo) && (100..=999).contains(&hi) && lo <= hi {
            Ok(())
        } else {
            let field = if (100..=999).contains(&lo) {
                "max_country_code"
            } else {
                "min_country_code"
            };
            Err(ParamsProblem::new(
                field,
                format!(
                    "min_country_code ({lo}) and max_country_code ({hi}) must be three-digit codes, min <= max"
                ),
            ))
        }
    }
}

/// Why an MMSI is not a plausible ship identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityProblem {
    /// Not nine digits (e.g. `12345678`, `1072211352`).
    NotNineDigits,
    /// Nine digits, but the MID (first three digits) is outside the
    /// plausible range; the MID is given.
    CountryCode(u16),
}

impl IdentityProblem {
    /// `NOT_NINE_DIGITS` or `COUNTRY_CODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProblem::NotNineDigits => "NOT_NINE_DIGITS",
            IdentityProblem::CountryCode(_) => "COUNTRY_CODE",
        }
    }
}

impl fmt::Display for IdentityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityProblem::NotNineDigits => f.write_str("MMSI is not nine digits"),
            IdentityProblem::CountryCode(mid) => write!(f, "country code {mid} is not a ship's"),
        }
    }
}

/// Judges one MMSI.
///
/// ```
/// use detectors::{check_mmsi, IdentityParams, IdentityProblem};
/// let p = IdentityParams::default();
/// assert_eq!(check_mmsi(211002010, &p), Ok(211));
/// assert_eq!(check_mmsi(12345678, &p), Err(IdentityProblem::NotNineDigits));
/// assert_eq!(check_mmsi(999999999, &p), Err(IdentityProblem::CountryCode(999)));
/// ```
pub fn check_mmsi(mmsi: i64, params: &IdentityParams) -> Result<u16, IdentityProblem> {
    if !(100_000_000..=999_999_999).contains(&mmsi) {
        return Err(IdentityProblem::NotNineDigits);
    }
    let mid = u16::try_from(mmsi / 1_000_000).map_err(|_| IdentityProblem::NotNineDigits)?;
    if (params.min_country_code..=params.max_country_code).contains(&mid) {
        Ok(mid)
    } else {
        Err(IdentityProblem::CountryCode(mid))
    }
}

/// One vessel's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VesselIdentity {
    /// The MMSI.
    pub mmsi: i64,
    /// The MID when the MMSI is valid.
    pub country_code: Option<u16>,
    /// Why it is invalid; `None` when valid.
    pub problem: Option<IdentityProblem>,
    /// The latest non-empty name reported in the window.
    pub name: Option<String>,
    /// Time of the vessel's last fix in the window.
    pub last_ts: DateTime<Utc>,
}

impl VesselIdentity {
    /// Whether the MMSI is a plausible ship identity.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// The artifact of `identity`: every vessel of the window, by ascending MMSI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identities {
    vessels: Vec<VesselIdentity>,
}

impl Identities {
    /// Judges every vessel of `window`.
    pub fn compute(window: &AisWindow, params: &IdentityParams) -> Self {
        let vessels = window
            .vessels()
            .map(|(mmsi, fixes)| {
                let checked = check_mmsi(mmsi, params);
                let name = fixes
                    .iter()
                    .rev()
                    .filter_map(|f| f.vessel_name.as_deref().map(str::trim))
                    .find(|n| !n.is_empty())
                    .map(str::to_owned);
                VesselIdentity {
                    mmsi,
                    country_code: checked.ok(),
                    problem: checked.err(),
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

    /// The vessels whose identity is invalid.
    pub fn invalid(&self) -> impl Iterator<Item = &VesselIdentity> {
        self.vessels.iter().filter(|v| !v.is_valid())
    }
}

/// `identity` (root model, base input [`AisWindow`]).
///
/// Rows: one per **invalid** identity only, `score` 1, payload
/// `{"problem": "NOT_NINE_DIGITS" | "COUNTRY_CODE", "name"}`. Artifact:
/// [`Identities`] (every vessel, valid or not).
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
        let ids = Identities::compute(window, ctx.params());
        let mut out = ModelOutput::new();
        for v in ids.invalid() {
            let problem = v.problem.map(IdentityProblem::as_str);
            out.push(
                OutputRow::new(v.mmsi.to_string(), 1.0)
                    .with_payload(json!({ "problem": problem, "name": v.name })),
            );
        }
        out.metric("vessels", ids.vessels.len() as f64);
        out.metric("invalid", out.rows().len() as f64);
        Ok(Output::new(out, ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{fix, window};

    #[test]
    fn nine_digits_and_country_code_bounds() {
        let p = IdentityParams::default();
        assert_eq!(check_mmsi(201_000_000, &p), Ok(201));
        assert_eq!(check_mmsi(775_999_999, &p), Ok(775));
        assert_eq!(
            check_mmsi(200_999_999, &p),
            Err(IdentityProblem::CountryCode(200))
        );
        assert_eq!(
            check_mmsi(776_000_000, &p),
            Err(IdentityProblem::CountryCode(776))
        );
        assert_eq!(
            check_mmsi(99_999_999, &p),
            Err(IdentityProblem::NotNineDigits)
        );
        assert_eq!(
            check_mmsi(1_000_000_000, &p),
            Err(IdentityProblem::NotNineDigits)
        );
        assert_eq!(check_mmsi(0, &p), Err(IdentityProblem::NotNineDigits));
        assert_eq!(
            check_mmsi(-211_002_010, &p),
            Err(IdentityProblem::NotNineDigits)
        );
        let wide = IdentityParams {
            min_country_code: 100,
            max_country_code: 999,
        };
        assert_eq!(check_mmsi(999_999_999, &wide), Ok(999));
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
            &window(vec![a, b, c, fix(12_345_678, 5, 1.0, 1.0)]),
            &IdentityParams::default(),
        );
        let v = ids.get(211_002_010).unwrap();
        assert_eq!(
            (v.name.as_deref(), v.is_valid(), v.country_code),
            (Some("NEW"), true, Some(211))
        );
        let bad: Vec<i64> = ids.invalid().map(|v| v.mmsi).collect();
        assert_eq!(bad, vec![12_345_678]);
    }
}
