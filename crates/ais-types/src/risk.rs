//! The artifact of `risk`: one fused score per vessel.

/// One vessel's fused risk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VesselRisk {
    /// The MMSI.
    pub mmsi: i64,
    /// The fused score, 0 to 1.
    pub score: f64,
    /// Its spoofing score (0 if it has none).
    pub spoofing: f64,
    /// Its collision score (0 if it has no collision).
    pub collision: f64,
}

/// The artifact of `risk`: every vessel scored by either input, by ascending MMSI.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskScores {
    vessels: Vec<VesselRisk>,
}

impl RiskScores {
    /// The risks of `vessels`, in any order (sorted here by MMSI; of two
    /// entries for one MMSI the first given is kept).
    pub fn new(vessels: Vec<VesselRisk>) -> Self {
        Self {
            vessels: crate::by_mmsi(vessels, |v| v.mmsi),
        }
    }

    /// All vessels, by ascending MMSI.
    pub fn vessels(&self) -> &[VesselRisk] {
        &self.vessels
    }

    /// One vessel's risk.
    pub fn get(&self, mmsi: i64) -> Option<&VesselRisk> {
        self.vessels
            .binary_search_by_key(&mmsi, |v| v.mmsi)
            .ok()
            .map(|i| &self.vessels[i])
    }
}
