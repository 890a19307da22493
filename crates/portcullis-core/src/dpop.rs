//! DPoP proofs (RFC 9449 §4): a JWT a client signs with a key of its own for each request, showing
//! that whoever sends a token also holds the key the token is bound to. This module checks one
//! proof as §4.3 lists the checks, with no I/O: whether its `jti` was seen before, and which nonces
//! are current, are the caller's to know (the server keeps them in its store, a resource server in
//! memory).

use crate::jose::{Jwk, JwsAlgorithm};
use crate::jws::CompactJws;
use crate::verifying_key::VerifyingKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;

/// The `typ` of a proof.
pub const PROOF_TYPE: &str = "dpop+jwt";

/// The algorithms a proof may be signed with (`dpop_signing_alg_values_supported`).
pub const ALGORITHMS: [JwsAlgorithm; 5] = [
    JwsAlgorithm::ES256,
    JwsAlgorithm::RS256,
    JwsAlgorithm::PS256,
    JwsAlgorithm::EdDSA,
    JwsAlgorithm::Ed25519,
];

/// How old a proof's `iat` may be, in seconds: a proof is made for one request, just before it.
pub const MAX_AGE: i64 = 300;

/// How far ahead of our clock a proof's `iat` may be.
pub const LEEWAY: i64 = 30;

/// Members a public JWK must not have: the private parts of RSA, EC and OKP keys, and a symmetric
/// key (RFC 9449 §4.3 point 7).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// What the proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method, e.g. `POST`.
    pub htm: &'a str,
    /// The request's URI; compared without query and fragment (RFC 9449 §4.3 point 9).
    pub htu: &'a str,
    /// The access token sent with the proof, whose hash must be in `ath`; none at the token
    /// endpoint.
    pub access_token: Option<&'a str>,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// A proof whose signature and claims are right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key: what a token is bound to (`cnf.jkt`).
    pub jkt: String,
    /// The proof's identifier, to be accepted once.
    pub jti: String,
    /// The `nonce` it carries, if any, for the caller to check.
    pub nonce: Option<String>,
    /// Until when the `jti` must be remembered: after that the proof is too old anyway.
    pub remember_until: i64,
}

/// Why a proof is refused. The text says what is wrong; only the proof's maker can see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

/// Checks a proof against what it must match. The `jti` and the nonce are left to the caller.
pub fn check_proof(proof: &str, expected: &Expected<'_>) -> Result<CheckedProof, ProofError> {
    let bad = |m: &str| Err(ProofError(m.to_owned()));
    let jws = CompactJws::parse(proof)
        .map_err(|e| ProofError(format!("the DPoP proof is not a signed JWT: {e}")))?;
    if jws.header_str("typ") != Some(PROOF_TYPE) {
        return bad("the DPoP proof's typ must be dpop+jwt");
    }
    let Some(alg) = jws
        .header_str("alg")
        .and_then(|a| a.parse::<JwsAlgorithm>().ok())
        .filter(|a| ALGORITHMS.contains(a))
    else {
        return Err(ProofError(format!(
            "the DPoP proof must be signed with one of {}",
            ALGORITHMS.map(JwsAlgorithm::as_str).join(", ")
        )));
    };
    let Some(Value::Object(raw_jwk)) = jws.header.get("jwk") else {
        return bad("the DPoP proof has no jwk header");
    };
    if PRIVATE_MEMBERS.iter().any(|m| raw_jwk.contains_key(*m)) {
        return bad("the DPoP proof's jwk holds a private key");
    }
    let jwk: Jwk = serde_json::from_value(Value::Object(raw_jwk.clone()))
        .map_err(|_| ProofError("the DPoP proof's jwk is not a JWK".into()))?;
    let key = VerifyingKey::from_jwk(&jwk)
        .filter(|k| k.admits(alg))
        .ok_or_else(|| ProofError("the DPoP proof's jwk is not a usable key for its alg".into()))?;
    if !key.verify(alg, jws.signing_input, &jws.signature) {
        return bad("the DPoP proof's signature does not verify with its jwk");
    }
    let jkt = jwk
        .thumbprint()
        .ok_or_else(|| ProofError("the DPoP proof's jwk has no thumbprint".into()))?;
    let claims = jws
        .claims()
        .map_err(|_| ProofError("the DPoP proof's claims are unreadable".into()))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = match text("jti") {
        Some(j) if !j.is_empty() && j.len() <= 256 => j.to_owned(),
        _ => return bad("the DPoP proof needs a jti of 1 to 256 characters"),
    };
    if text("htm") != Some(expected.htm) {
        return Err(ProofError(format!(
            "the DPoP proof's htm must be {}",
            expected.htm
        )));
    }
    match text("htu").map(normalize_htu) {
        Some(Some(htu)) if Some(&htu) == normalize_htu(expected.htu).as_ref() => {}
        _ => {
            return Err(ProofError(format!(
                "the DPoP proof's htu must be {}",
                expected.htu.split(['?', '#']).next().unwrap_or_default()
            )));
        }
    }
    let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
        return bad("the DPoP proof needs iat, in seconds");
    };
    if iat > expected.now + LEEWAY {
        return bad("the DPoP proof was made in the future (iat)");
    }
    if iat < expected.now - MAX_AGE {
        return bad("the DPoP proof is too old (iat); make a new one for each request");
    }
    match (expected.access_token, text("ath")) {
        (None, _) => {}
        (Some(token), Some(ath)) if ath == access_token_hash(token) => {}
        (Some(_), Some(_)) => {
            return bad("the DPoP proof's ath is not the hash of the access token");
        }
        (Some(_), None) => return bad("the DPoP proof needs ath, the hash of the access token"),
    }
    Ok(CheckedProof {
        jkt,
        jti,
        nonce: text("nonce").map(str::to_owned),
        remember_until: iat + MAX_AGE + LEEWAY,
    })
}

/// `ath`: base64url of the SHA-256 of the access token (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    B64.encode(crate::hash::sha256(token.as_bytes()))
}

/// An `htu` as compared: without query and fragment, scheme and host in lower case, without the
/// scheme's default port (RFC 3986 §6.2.2, §6.2.3). `None` for what is not an http(s) URI.
///
/// ```
/// use portcullis_core::dpop::normalize_htu;
/// assert_eq!(
///     normalize_htu("HTTPS://Server.Example:443/token?x=1").as_deref(),
///     Some("https://server.example/token")
/// );
/// assert_eq!(normalize_htu("http://a.example:8080").as_deref(), Some("http://a.example:8080/"));
/// assert_eq!(normalize_htu("urn:x"), None);
/// ```
pub fn normalize_htu(uri: &str) -> Option<String> {
    let uri = uri.split(['?', '#']).next()?;
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}{path}"))
}

/// How long one server nonce is handed out (RFC 9449 §8, §9); it is accepted for twice that.
pub const NONCE_WINDOW: i64 = 300;

/// Server nonces with nothing stored: the HMAC-SHA-256 of the five-minute window's number under a
/// secret, shortened. Whoever holds the secret (every instance of a server or an API) makes and
/// accepts the same nonces; a nonce is accepted in its window and the next.
///
/// ```
/// use portcullis_core::dpop::NonceKey;
/// let key = NonceKey::new(b"a secret every instance shares");
/// let nonce = key.current(1_000_000);
/// assert!(key.is_valid(&nonce, 1_000_000 + 299));
/// assert!(!key.is_valid(&nonce, 1_000_000 + 900));
/// assert!(!NonceKey::new(b"another secret").is_valid(&nonce, 1_000_000));
/// ```
#[derive(Clone)]
pub struct NonceKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey([redacted])")
    }
}

impl NonceKey {
    /// Nonces under `secret`.
    pub fn new(secret: &[u8]) -> Self {
        NonceKey {
            secret: secret.to_vec(),
        }
    }

    fn for_window(&self, window: i64) -> String {
        B64.encode(&hmac_sha256(&self.secret, &window.to_be_bytes())[..18])
    }

    /// The nonce to give out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.for_window(now.div_euclid(NONCE_WINDOW))
    }

    /// Whether `nonce` is the one of `now`'s window or of the window before.
    pub fn is_valid(&self, nonce: &str, now: i64) -> bool {
        let window = now.div_euclid(NONCE_WINDOW);
        [window, window - 1].iter().any(|w| {
            crate::secret::constant_time_eq(self.for_window(*w).as_bytes(), nonce.as_bytes())
        })
    }
}

/// HMAC-SHA-256 (RFC 2104) over [`crate::hash::sha256`], so that either crypto backend serves.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&crate::hash::sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = pad(0x36);
    inner.extend_from_slice(message);
    let mut outer = pad(0x5c);
    outer.extend_from_slice(&crate::hash::sha256(&inner));
    crate::hash::sha256(&outer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = super::hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
