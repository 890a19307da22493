//! Proof Key for Code Exchange (RFC 7636): the shapes of verifiers and challenges. The S256
//! transformation itself needs SHA-256 and lives with each crate's crypto backend.

/// The only challenge method Portcullis accepts; `plain` offers no protection against a stolen
/// authorization request (RFC 9700 §2.1.1).
pub const S256: &str = "S256";

/// RFC 7636 §4.1: 43 to 128 characters from `[A-Z a-z 0-9 - . _ ~]`.
///
/// ```
/// use portcullis_core::pkce::is_valid_verifier;
/// assert!(is_valid_verifier(&"a".repeat(43)));
/// assert!(!is_valid_verifier("short"));
/// assert!(!is_valid_verifier(&"a+".repeat(30)));
/// ```
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// An S256 challenge is the base64url encoding of a SHA-256 digest: exactly 43 characters.
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}
