//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens whose order carries no meaning.

use std::fmt;

/// Why a scope string is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A token contains a character outside %x21 / %x23-5B / %x5D-7E.
    #[error("scope contains a character that RFC 6749 section 3.3 does not allow")]
    InvalidCharacter,
}

/// A set of scope tokens, kept in the order first given, without duplicates.
///
/// ```
/// use portcullis_core::Scope;
/// let allowed = Scope::parse("read write admin").unwrap();
/// let asked = Scope::parse("write  read read").unwrap();
/// assert!(asked.is_subset_of(&allowed));
/// assert_eq!(asked.to_string(), "write read");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a space-delimited scope string. Runs of spaces are tolerated; an empty string is the
    /// empty scope.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut tokens: Vec<String> = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            if !token.bytes().all(is_scope_char) {
                return Err(ScopeError::InvalidCharacter);
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
        }
        Ok(Scope(tokens))
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

fn is_scope_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_forbidden_characters() {
        assert_eq!(Scope::parse("a\"b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("a\\b"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("caf\u{e9}"), Err(ScopeError::InvalidCharacter));
        assert_eq!(Scope::parse("a\tb"), Err(ScopeError::InvalidCharacter));
    }

    #[test]
    fn empty_is_subset_of_anything() {
        let empty = Scope::parse("  ").unwrap();
        assert!(empty.is_empty());
        assert!(empty.is_subset_of(&Scope::default()));
        assert!(!Scope::parse("x").unwrap().is_subset_of(&empty));
    }
}
