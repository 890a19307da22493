//! Durations and numbers as people write them: `900`, `"15m"`, and (from the environment, where
//! every value is a string) `"900"`.

use serde::{Deserialize, Deserializer};

/// A duration in whole seconds, written as an integer or as a string such as `"90s"`, `"15m"`,
/// `"1h"` or `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seconds(pub u64);

impl std::str::FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || format!("'{s}' is not a duration: write a number followed by s, m, h or d");
        let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => s.split_at(i),
            None => (s, "s"),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let factor = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        n.checked_mul(factor).map(Seconds).ok_or_else(bad)
    }
}

/// A number as TOML writes it, or as a string (every environment variable is one).
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Int(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a duration such as 900 or \"15m\""))?
        {
            Raw::Int(n) => Ok(Seconds(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

pub(super) fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom("expected a non-negative integer"))?
    {
        Raw::Int(n) => Ok(n),
        Raw::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("'{t}' is not a non-negative integer"))),
    }
}

/// A boolean, or (as every environment variable is a string) `true` or `false` as text.
pub(super) fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given {
        Bool(bool),
        Text(String),
    }
    match Given::deserialize(d).map_err(|_| serde::de::Error::custom("expected true or false"))? {
        Given::Bool(b) => Ok(b),
        Given::Text(t) => match t.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "'{t}' is not true or false"
            ))),
        },
    }
}

pub(super) fn optional_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    number_or_string(d).map(Some)
}
