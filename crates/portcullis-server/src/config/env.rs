//! `PORTCULLIS_*` variables laid over the file: `A__B` names key `a.b`, every value is a string, and
//! lists may be written as commas or a JSON array.

use serde::{Deserialize, Deserializer};

/// The prefix of every environment variable that overrides a key.
pub const ENV_PREFIX: &str = "PORTCULLIS_";

/// Variables with the prefix that are not configuration keys. (`PORTCULLIS_MASTER_KEY` *is* one:
/// it sets `master_key`, the usual way to give it.)
pub(super) const ENV_NOT_KEYS: &[&str] = &["PORTCULLIS_CONFIG", "PORTCULLIS_LOG"];

/// Variables of the test suite (`PORTCULLIS_TEST_POSTGRES`, `PORTCULLIS_TEST_DATABASE`), which a
/// developer may well have exported in the shell they also run `portcullis` in.
pub(super) const ENV_TEST_PREFIX: &str = "PORTCULLIS_TEST_";

/// A list, written as a TOML array of strings, or (as every environment variable is a string) as
/// one string: a JSON array (`["a", "b"]`) or comma-separated values (`a, b`). An empty string is
/// an empty list. Each item is parsed into `T`; the first that does not parse is the error.
pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let items = strings(d)?;
    items
        .iter()
        .map(|item| item.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a list of strings"))? {
        Raw::List(items) => Ok(items),
        Raw::Text(text) if text.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<String>>(&text).map_err(|e| {
                serde::de::Error::custom(format!("'{text}' is not a JSON array of strings: {e}"))
            })
        }
        Raw::Text(text) => Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()),
    }
}

pub(super) fn insert_path(
    table: &mut toml::Table,
    path: &[String],
    value: String,
) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("'{part}' is not a table")),
        };
    }
    // Values stay strings: every non-string key also accepts its string spelling.
    current.insert(last.clone(), toml::Value::String(value));
    Ok(())
}
