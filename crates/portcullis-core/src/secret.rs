//! A string that must never be printed: client secrets, signing keys, tokens in transit.

/// A secret value. `Debug` prints `[redacted]`, there is no `Display`, and equality is only
/// available in constant time through [`Secret::ct_eq`].
///
/// ```
/// use portcullis_core::Secret;
/// let s = Secret::new("hunter2-hunter2-hunter2-hunter2-x");
/// assert_eq!(format!("{s:?}"), "Secret([redacted])");
/// assert!(s.ct_eq(&Secret::new("hunter2-hunter2-hunter2-hunter2-x")));
/// ```
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the few places that must send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares two secrets in time that depends only on their lengths.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Compares two byte strings without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
