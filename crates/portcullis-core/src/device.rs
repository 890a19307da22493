//! User codes of the Device Authorization Grant (RFC 8628 §6.1): eight characters a person reads
//! off a television and types on a phone, shown as `XXXX-XXXX`.
//!
//! The alphabet is RFC 8628's example: twenty consonants, with no vowels (so no words are spelled)
//! and no digits (so nothing is mistaken for `0`/`O` or `1`/`I`/`L`). Eight of them are 20^8, about
//! 2^34.6 codes; with a code living 10 minutes and guesses limited per address, guessing a live
//! one is out of reach.

/// The characters of a user code.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters in a user code, without the dash.
pub const USER_CODE_LENGTH: usize = 8;

/// A user code from eight random bytes: each byte picks a character. 256 is not a multiple of 20,
/// so the caller gives bytes below 240 only (see [`usable_byte`]), which keeps every character
/// equally likely.
///
/// ```
/// use portcullis_core::device::{user_code_from, normalize_user_code};
/// let code = user_code_from(&[0, 1, 2, 3, 4, 5, 6, 19]);
/// assert_eq!(code, "BCDF-GHJZ");
/// assert_eq!(normalize_user_code(" bcdf ghjz "), Some("BCDFGHJZ".to_owned()));
/// ```
pub fn user_code_from(bytes: &[u8; USER_CODE_LENGTH]) -> String {
    let mut out = String::with_capacity(USER_CODE_LENGTH + 1);
    for (i, b) in bytes.iter().enumerate() {
        if i == USER_CODE_LENGTH / 2 {
            out.push('-');
        }
        out.push(USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()] as char);
    }
    out
}

/// Whether a random byte may pick a character without bias (bytes 240 and up are drawn again).
pub fn usable_byte(b: u8) -> bool {
    usize::from(b) < 256 / USER_CODE_ALPHABET.len() * USER_CODE_ALPHABET.len()
}

/// A user code as typed, in its one stored form: upper case, without dashes or spaces. `None`
/// when it cannot be a user code (wrong length, or a character outside the alphabet), so such
/// input is refused without a lookup.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// A normalized user code shown as `XXXX-XXXX`.
pub fn display_user_code(normalized: &str) -> String {
    if normalized.len() == USER_CODE_LENGTH && normalized.is_ascii() {
        format!(
            "{}-{}",
            &normalized[..USER_CODE_LENGTH / 2],
            &normalized[USER_CODE_LENGTH / 2..]
        )
    } else {
        normalized.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_and_wrong_lengths_are_not_codes() {
        assert_eq!(
            normalize_user_code("BCDF-GHJK").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDFGHJK")
        );
        assert!(normalize_user_code("BCDF-GHJ0").is_none(), "a digit");
        assert!(normalize_user_code("BCDF-GHJA").is_none(), "a vowel");
        assert!(normalize_user_code("BCDF-GHJ").is_none(), "too short");
        assert!(normalize_user_code("BCDF-GHJKL").is_none(), "too long");
        assert!(normalize_user_code("BCDF-GHJÉ").is_none());
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn every_usable_byte_maps_evenly() {
        let usable = (0..=255u8).filter(|b| usable_byte(*b)).count();
        assert_eq!(usable % USER_CODE_ALPHABET.len(), 0);
        assert_eq!(usable, 240);
    }
}
