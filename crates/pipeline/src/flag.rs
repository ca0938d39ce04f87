//! `PREDICTION_USE_MODEL_REGISTRY`: parsed strictly, at start-up.

/// The environment variable that switches stage 10 on.
pub const REGISTRY_FLAG: &str = "PREDICTION_USE_MODEL_REGISTRY";

/// The flag's value could not be understood. Never defaulted silently: a
/// typo in a deployment must stop the runner, not quietly turn a feature off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{REGISTRY_FLAG}={value:?} is not a boolean; use 1/0, true/false, on/off or yes/no")]
pub struct FlagError {
    /// The value found.
    pub value: String,
}

/// Parses the flag's value: 1/0, true/false, on/off, yes/no (any case,
/// surrounding blanks ignored). Unset or empty means off.
pub fn parse_registry_flag(value: Option<&str>) -> Result<bool, FlagError> {
    let Some(raw) = value else { return Ok(false) };
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "off" | "no" => Ok(false),
        "1" | "true" | "on" | "yes" => Ok(true),
        _ => Err(FlagError {
            value: raw.to_owned(),
        }),
    }
}

/// Reads and parses the flag from the process environment.
pub fn registry_flag_from_env() -> Result<bool, FlagError> {
    match std::env::var(REGISTRY_FLAG) {
        Ok(v) => parse_registry_flag(Some(&v)),
        Err(std::env::VarError::NotPresent) => Ok(false),
        Err(std::env::VarError::NotUnicode(v)) => Err(FlagError {
            value: v.to_string_lossy().into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_spellings_only() {
        for on in ["1", "true", "TRUE", "On", "yes", " yes "] {
            assert_eq!(parse_registry_flag(Some(on)), Ok(true), "{on}");
        }
        for off in ["0", "false", "off", "NO", ""] {
            assert_eq!(parse_registry_flag(Some(off)), Ok(false), "{off}");
        }
        assert_eq!(parse_registry_flag(None), Ok(false));
        for bad in ["maybe", "2", "enabled", "y"] {
            let err = parse_registry_flag(Some(bad)).unwrap_err();
            assert!(
                err.to_string().contains("PREDICTION_USE_MODEL_REGISTRY"),
                "{err}"
            );
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
