//! Randomness and digests, in one place: the identifiers, secrets and one-time values the server
//! makes (from the system CSPRNG through aws-lc-rs), and the SHA-256 digest under which codes,
//! sessions and refresh tokens are stored instead of their values.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::Secret;

/// SHA-256 of a code, session or refresh token: what the database keeps instead of the value.
pub fn token_hash(value: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, value.as_bytes())
        .as_ref()
        .to_vec()
}

/// The key under which a value that may be used once is recorded (`used_once`): the SHA-256 of
/// what it is (`kind`), whose it is, and the value, in hex.
pub fn once_key(kind: &str, owner: &str, value: &str) -> String {
    hex(&token_hash(&format!("{kind}\0{owner}\0{value}")))
}

/// 32 random bytes, base64url: codes, refresh tokens, session cookies, CSRF tokens.
pub fn random_token() -> Result<String, RandomUnavailable> {
    Ok(B64.encode(random_bytes::<32>()?))
}

/// A user code of the Device Authorization Grant, normalized (`portcullis_core::device`): each
/// character from a random byte, bytes that would favour some characters drawn again.
pub fn random_user_code() -> Result<String, RandomUnavailable> {
    use portcullis_core::device::{USER_CODE_LENGTH, usable_byte, user_code_from};
    let mut picked = [0u8; USER_CODE_LENGTH];
    let mut filled = 0;
    while filled < USER_CODE_LENGTH {
        for b in random_bytes::<16>()? {
            if filled < USER_CODE_LENGTH && usable_byte(b) {
                picked[filled] = b;
                filled += 1;
            }
        }
    }
    Ok(user_code_from(&picked).replace('-', ""))
}

/// 16 random bytes in lowercase hex: client, user and grant ids.
pub fn random_id() -> Result<String, RandomUnavailable> {
    Ok(hex(&random_bytes::<16>()?))
}

/// `bytes` in lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        push_hex(&mut out, u64::from(*byte), 2);
    }
    out
}

/// Appends `n` in lower-case hex, at least `width` digits (request ids are written on every
/// request, so without the `fmt` machinery).
pub(crate) fn push_hex(out: &mut String, n: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (16 - n.leading_zeros() as usize / 4).clamp(width.min(16), 16);
    for shift in (0..digits).rev() {
        out.push(char::from(DIGITS[((n >> (shift * 4)) & 0xf) as usize]));
    }
}

/// A new secret: 32 bytes from the system CSPRNG, base64url (43 characters).
pub fn generate_secret() -> Result<Secret, RandomUnavailable> {
    Ok(Secret::new(B64.encode(random_bytes::<32>()?)))
}

/// A new client identifier: 16 random bytes in lowercase hex (32 characters). Hex rather than
/// base64url so that an identifier never starts with `-` and reads as a flag on a command line.
pub fn generate_client_id() -> Result<String, RandomUnavailable> {
    random_id()
}

/// The system's random number generator failed; nothing that needs randomness can go on.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomUnavailable;

/// Random bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomUnavailable)?;
    Ok(bytes)
}
