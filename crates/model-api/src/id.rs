//! Small validated value types.
//!
//! # The one rule for names
//!
//! A [`ModelId`], [`MetricKey`], [`InputKey`], [`VersionLabel`] or
//! [`ImplementationName`] is text an operator types and reads back in tables
//! and logs, so every one of them is:
//!
//! - **not empty and not blank**: at least one character that is not
//!   whitespace;
//! - **free of surrounding whitespace**: no leading or trailing whitespace
//!   (Unicode `White_Space`, as [`char::is_whitespace`]). It is refused, not
//!   trimmed: the value is stored exactly as given, and a silently trimmed
//!   `" x"` would be registered as `x` while the operator keeps typing
//!   `" x"`. Whitespace inside (`"my model"`) is fine;
//! - **free of control characters** anywhere: the C0 and C1 controls
//!   ([`char::is_control`]: NUL, tab, newline, carriage return, escape,
//!   DEL, U+0080..U+009F) and the Unicode line and paragraph separators
//!   (U+2028, U+2029), which break a table row or a log line in two;
//! - **at most [`MAX_ID_CHARS`] characters** (characters, not bytes, as
//!   PostgreSQL counts them in a `VARCHAR(64)`).
//!
//! The database holds the same rule: every column that stores one of these
//! names has a CHECK constraint calling `kcg.is_valid_name(text)` (migration
//! V052), and a test feeds the same strings to both.

use std::fmt;
use std::str::FromStr;

/// The longest id PostgreSQL accepts in a `VARCHAR(64)` column, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// Why a [`ModelId`], [`MetricKey`], [`InputKey`], [`VersionLabel`] or
/// [`ImplementationName`] could not be built (see
/// [the rule](self#the-one-rule-for-names)). Each message shows the value
/// escaped (`"a\nb"`), so it stays one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id was the empty string.
    #[error("{what} must not be empty")]
    Empty {
        /// What was being built: `"model id"`, `"metric key"`, `"input key"`,
        /// `"version label"` or `"implementation name"`.
        what: &'static str,
    },
    /// The id had more characters than the database column allows.
    #[error("{what} {value:?} has {chars} characters; at most {MAX_ID_CHARS} are allowed")]
    TooLong {
        /// What was being built, as in [`IdError::Empty`].
        what: &'static str,
        /// The offending value.
        value: String,
        /// Its length in characters (not bytes, as PostgreSQL counts).
        chars: usize,
    },
    /// The id was whitespace only.
    #[error("{what} {value:?} is blank; it needs at least one character that is not whitespace")]
    Blank {
        /// What was being built, as in [`IdError::Empty`].
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// The id began or ended with whitespace (refused, not trimmed).
    #[error("{what} {value:?} begins or ends with whitespace; write it without")]
    SurroundingWhitespace {
        /// What was being built, as in [`IdError::Empty`].
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// The id held a control character or a line separator.
    #[error(
        "{what} {value:?} holds the control character {character:?} (U+{:04X}) at character {position}; \
         names are one line of printable text",
        u32::from(*character)
    )]
    ControlCharacter {
        /// What was being built, as in [`IdError::Empty`].
        what: &'static str,
        /// The offending value.
        value: String,
        /// The first offending character.
        character: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
}

/// A character no name may hold: a C0 or C1 control, or a Unicode line or
/// paragraph separator.
fn is_forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The one rule every bounded string of this module follows (see [the
/// module's documentation](self#the-one-rule-for-names)). A stricter rule
/// for all of them changes here, and only here (and in V052's
/// `kcg.is_valid_name`, which a test holds to the same answers).
fn check(what: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    let owned = || value.to_owned();
    if let Some((i, character)) = value.chars().enumerate().find(|(_, c)| is_forbidden(*c)) {
        return Err(IdError::ControlCharacter {
            what,
            value: owned(),
            character,
            position: i + 1,
        });
    }
    if value.chars().all(char::is_whitespace) {
        return Err(IdError::Blank {
            what,
            value: owned(),
        });
    }
    if value.trim() != value {
        return Err(IdError::SurroundingWhitespace {
            what,
            value: owned(),
        });
    }
    let chars = value.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(IdError::TooLong {
            what,
            value: owned(),
            chars,
        });
    }
    Ok(())
}

macro_rules! bounded_string {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Builds one, refusing what [the rule](self#the-one-rule-for-names)
            /// refuses: empty or blank, surrounding whitespace, a control
            /// character, more than [`MAX_ID_CHARS`] characters (characters,
            /// not bytes).
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check($what, &value)?;
                Ok(Self(value))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Compares, orders and hashes as the string does, so maps keyed by
        /// it can be looked up by `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

bounded_string!(
    /// A model's id: 1 to 64 characters of one line of text, as
    /// `kcg.detection_models.model_id` accepts. A model whose id the database
    /// would reject cannot be built.
    ///
    /// ```
    /// use model_api::ModelId;
    /// assert!(ModelId::new("spoofing_score").is_ok());
    /// assert!(ModelId::new("é".repeat(64)).is_ok()); // 64 characters, 128 bytes
    /// assert!(ModelId::new("x".repeat(65)).is_err());
    /// assert!(ModelId::new("").is_err());
    /// assert!(ModelId::new("   ").is_err()); // blank
    /// assert!(ModelId::new(" risk").is_err()); // leading whitespace: refused, not trimmed
    /// assert_eq!(
    ///     ModelId::new("risk\nv2").unwrap_err().to_string(),
    ///     "model id \"risk\\nv2\" holds the control character '\\n' (U+000A) at character 5; \
    ///      names are one line of printable text"
    /// );
    /// ```
    ModelId,
    "model id"
);

bounded_string!(
    /// A metric's key: 1 to 64 characters of one line of text, as
    /// `kcg.detection_model_metrics.metric_key` accepts. Models report metric
    /// keys as plain strings; the executor converts them and drops (with a
    /// warning and a count) the ones that do not fit.
    MetricKey,
    "metric key"
);

bounded_string!(
    /// The key under which a model reads one upstream's PRIMARY result: 1 to
    /// 64 characters of one line of text, as `kcg.detection_model_dependencies.input_key`
    /// accepts.
    ///
    /// ```
    /// use model_api::InputKey;
    /// assert_eq!(InputKey::new("tracks")?.as_str(), "tracks");
    /// assert!(InputKey::new("").is_err());
    /// assert!(InputKey::new("k".repeat(65)).is_err());
    /// assert!(InputKey::new("tracks\t").is_err());
    /// # Ok::<(), model_api::IdError>(())
    /// ```
    InputKey,
    "input key"
);

bounded_string!(
    /// A version's label, e.g. `1.2.0`: 1 to 64 characters of one line of text, as
    /// `kcg.detection_model_versions.version` accepts. Labels are names, not
    /// semver: any text of that length is a label.
    ///
    /// ```
    /// use model_api::VersionLabel;
    /// let label: VersionLabel = "1.2.0".parse()?;
    /// assert_eq!(label.to_string(), "1.2.0");
    /// assert!(VersionLabel::new("").is_err());
    /// assert!(VersionLabel::new("9".repeat(65)).is_err());
    /// assert!(VersionLabel::new("1.0.0 ").is_err());
    /// # Ok::<(), model_api::IdError>(())
    /// ```
    VersionLabel,
    "version label"
);

bounded_string!(
    /// The name of one implementation of a model in a catalog, e.g. `v2`:
    /// one line of 1 to 64 characters by [the rule](self#the-one-rule-for-names),
    /// as `kcg.detection_model_versions.implementation` accepts. A version names the implementation it runs; a version that
    /// names none runs its model's default implementation.
    ///
    /// ```
    /// use model_api::ImplementationName;
    /// assert_eq!(ImplementationName::new("v2")?.as_str(), "v2");
    /// assert!(ImplementationName::new("").is_err());
    /// assert!(ImplementationName::new("i".repeat(65)).is_err());
    /// # Ok::<(), model_api::IdError>(())
    /// ```
    ImplementationName,
    "implementation name"
);

/// The role of a model version.
///
/// Only the PRIMARY version's result feeds downstream models; SHADOW and
/// CHALLENGER versions run on the same inputs and are stored for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The version whose result downstream models consume.
    Primary,
    /// A candidate evaluated silently beside the PRIMARY.
    Shadow,
    /// A candidate competing with the PRIMARY, also never consumed downstream.
    Challenger,
}

impl Role {
    /// The string stored in the database (`PRIMARY`, `SHADOW`, `CHALLENGER`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "PRIMARY",
            Role::Shadow => "SHADOW",
            Role::Challenger => "CHALLENGER",
        }
    }

    /// Position in the canonical load order: PRIMARY, CHALLENGER, SHADOW.
    pub fn load_order(self) -> u8 {
        match self {
            Role::Primary => 0,
            Role::Challenger => 1,
            Role::Shadow => 2,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role string that is not `PRIMARY`, `SHADOW` or `CHALLENGER`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected PRIMARY, SHADOW or CHALLENGER")]
pub struct RoleParseError(pub String);

impl FromStr for Role {
    type Err = RoleParseError;

    /// Parses the database strings; case-insensitive for command-line use.
    fn from_str(s: &str) -> Result<Self, RoleParseError> {
        match s.to_ascii_uppercase().as_str() {
            "PRIMARY" => Ok(Role::Primary),
            "SHADOW" => Ok(Role::Shadow),
            "CHALLENGER" => Ok(Role::Challenger),
            _ => Err(RoleParseError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_id_counts_characters_not_bytes() {
        assert!(ModelId::new("a".repeat(64)).is_ok());
        assert!(ModelId::new("ü".repeat(64)).is_ok());
        let err = ModelId::new("ü".repeat(65)).unwrap_err();
        assert_eq!(
            err,
            IdError::TooLong {
                what: "model id",
                value: "ü".repeat(65),
                chars: 65
            }
        );
        assert_eq!(
            ModelId::new("").unwrap_err(),
            IdError::Empty { what: "model id" }
        );
    }

    #[test]
    fn metric_key_has_the_same_limit() {
        assert!(MetricKey::new("k".repeat(64)).is_ok());
        assert!(MetricKey::new("k".repeat(65)).is_err());
    }

    #[test]
    fn input_keys_and_version_labels_have_the_same_limit_and_name_themselves() {
        assert!(InputKey::new("é".repeat(64)).is_ok());
        assert_eq!(
            InputKey::new("").unwrap_err(),
            IdError::Empty { what: "input key" }
        );
        assert!(VersionLabel::new("v".repeat(64)).is_ok());
        assert_eq!(
            VersionLabel::new("v".repeat(65)).unwrap_err().to_string(),
            format!(
                "version label {:?} has 65 characters; at most 64 are allowed",
                "v".repeat(65)
            )
        );
    }

    /// Every kind of refusal, for every type, with the value escaped in the
    /// message so it stays one line.
    #[test]
    fn blank_surrounding_whitespace_and_control_characters_are_refused() {
        type Expect = fn(&IdError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("   ", |e| matches!(e, IdError::Blank { .. })),
            ("\u{3000}", |e| matches!(e, IdError::Blank { .. })), // ideographic space
            (" x", |e| matches!(e, IdError::SurroundingWhitespace { .. })),
            ("x ", |e| matches!(e, IdError::SurroundingWhitespace { .. })),
            ("x\u{a0}", |e| {
                matches!(e, IdError::SurroundingWhitespace { .. })
            }), // no-break space
            ("a\nb", |e| {
                matches!(
                    e,
                    IdError::ControlCharacter {
                        character: '\n',
                        position: 2,
                        ..
                    }
                )
            }),
            ("\n", |e| {
                matches!(e, IdError::ControlCharacter { position: 1, .. })
            }),
            ("a\tb", |e| {
                matches!(
                    e,
                    IdError::ControlCharacter {
                        character: '\t',
                        ..
                    }
                )
            }),
            ("a\0", |e| {
                matches!(
                    e,
                    IdError::ControlCharacter {
                        character: '\0',
                        position: 2,
                        ..
                    }
                )
            }),
            ("a\rb", |e| matches!(e, IdError::ControlCharacter { .. })),
            ("a\u{1b}[31m", |e| {
                matches!(e, IdError::ControlCharacter { .. })
            }), // escape
            ("a\u{7f}", |e| matches!(e, IdError::ControlCharacter { .. })),
            ("a\u{85}b", |e| {
                matches!(e, IdError::ControlCharacter { .. })
            }), // NEL
            ("a\u{2028}b", |e| {
                matches!(e, IdError::ControlCharacter { .. })
            }),
            ("a\u{2029}b", |e| {
                matches!(e, IdError::ControlCharacter { .. })
            }),
        ];
        for (value, expected) in cases {
            for err in [
                ModelId::new(*value).unwrap_err(),
                MetricKey::new(*value).unwrap_err(),
                InputKey::new(*value).unwrap_err(),
                VersionLabel::new(*value).unwrap_err(),
            ] {
                assert!(expected(&err), "{value:?}: {err:?}");
                let text = err.to_string();
                assert!(!text.chars().any(is_forbidden), "{text:?}");
            }
        }
        for fine in [
            "my model",
            "a.b-c_d/1",
            "é",
            "x\u{a0}y",
            "스푸핑",
            "1.0.0+build.7",
        ] {
            assert!(ModelId::new(fine).is_ok(), "{fine:?}");
            assert!(VersionLabel::new(fine).is_ok(), "{fine:?}");
        }
        assert_eq!(
            ModelId::new("   ").unwrap_err().to_string(),
            "model id \"   \" is blank; it needs at least one character that is not whitespace"
        );
        assert_eq!(
            InputKey::new(" tracks").unwrap_err().to_string(),
            "input key \" tracks\" begins or ends with whitespace; write it without"
        );
    }

    #[test]
    fn role_round_trips_through_database_strings() {
        for role in [Role::Primary, Role::Shadow, Role::Challenger] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!("shadow".parse::<Role>().unwrap(), Role::Shadow);
        assert!("CANARY".parse::<Role>().is_err());
    }
}
