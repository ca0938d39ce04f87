//! The artifact of `identity`: the class of each MMSI per ITU-R M.585, its
//! MID and its name.
//!
//! MMSIs are stored as integers, so the leading zeros of coast stations
//! (`00` + MID) and groups (`0` + MID) are lost in the database: an integer
//! from 0 to 999,999,999 is read back as the nine-digit MMSI with its
//! leading zeros ([`nine_digits`]); anything else is not nine digits.

use std::fmt;

use chrono::{DateTime, Utc};

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

/// The MMSI as shown and classified: nine digits with the leading zeros the
/// integer column lost, for `0..=999_999_999`; other values as they are.
///
/// ```
/// assert_eq!(ais_types::nine_digits(3_669_881), "003669881");
/// assert_eq!(ais_types::nine_digits(211_002_010), "211002010");
/// assert_eq!(ais_types::nine_digits(1_072_211_352), "1072211352");
/// ```
pub fn nine_digits(mmsi: i64) -> String {
    if (0..1_000_000_000).contains(&mmsi) {
        format!("{mmsi:09}")
    } else {
        mmsi.to_string()
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
    /// The identities of `vessels`, in any order (sorted here by MMSI;
    /// of two entries for one MMSI the first given is kept).
    ///
    /// ```
    /// use ais_types::{Identities, IdentityClass, VesselIdentity};
    /// let at = chrono::Utc::now();
    /// let v = |mmsi, class| VesselIdentity { mmsi, class, mid: None, problem: None, name: None, last_ts: at };
    /// let ids = Identities::new(vec![v(366_999_712, IdentityClass::Ship), v(12_345_678, IdentityClass::Invalid)]);
    /// assert_eq!(ids.vessels()[0].mmsi, 12_345_678);
    /// assert_eq!(ids.invalid().count(), 1);
    /// ```
    pub fn new(vessels: Vec<VesselIdentity>) -> Self {
        Self {
            vessels: crate::by_mmsi(vessels, |v| v.mmsi),
        }
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
