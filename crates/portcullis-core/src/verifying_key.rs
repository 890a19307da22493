//! A public key from a JWK, ready to verify JWS signatures (RFC 7515, RFC 7518, RFC 8037), as
//! identity providers publish them: with or without `alg`, with or without `kid`.
//!
//! A key verifies a token's `alg` only when its key type and curve admit that algorithm (an RSA
//! key RS* and PS*, a P-256 key ES256, a P-384 key ES384, an Ed25519 key EdDSA) and, when the JWK
//! names an `alg`, only that one. The caller also checks the token's `alg` against its allow-list
//! first; `none` and HMAC are not [`JwsAlgorithm`]s at all. Shared by the resource-server
//! validator, the client's ID-token check and `portcullis decode`.

use crate::jose::{Jwk, JwkSet, JwsAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
#[cfg(feature = "rust-crypto")]
mod rust_crypto;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "portcullis-core needs a crypto backend: the `aws-lc-rs` feature (the default) or `rust-crypto`"
);

/// A library that checks signatures, chosen with cargo features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// aws-lc-rs (feature `aws-lc-rs`, the default): fast, and needs a C compiler to build.
    #[cfg(feature = "aws-lc-rs")]
    AwsLc,
    /// RustCrypto's `rsa`, `p256`, `p384` and `ed25519-dalek` (feature `rust-crypto`): pure Rust.
    #[cfg(feature = "rust-crypto")]
    RustCrypto,
}

impl Backend {
    /// The backend [`VerifyingKey::verify`] uses: aws-lc-rs when it is compiled in, else
    /// RustCrypto.
    #[cfg(feature = "aws-lc-rs")]
    pub const DEFAULT: Backend = Backend::AwsLc;
    /// The backend [`VerifyingKey::verify`] uses: aws-lc-rs when it is compiled in, else
    /// RustCrypto.
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    pub const DEFAULT: Backend = Backend::RustCrypto;

    /// Every backend compiled in.
    pub const ALL: &'static [Backend] = &[
        #[cfg(feature = "aws-lc-rs")]
        Backend::AwsLc,
        #[cfg(feature = "rust-crypto")]
        Backend::RustCrypto,
    ];
}

/// One public key, ready to verify.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    kid: String,
    /// The JWK's `alg`, when it names one: then the key is used with that algorithm only.
    alg: Option<JwsAlgorithm>,
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    /// Uncompressed SEC1 point on P-256.
    P256(Vec<u8>),
    /// Uncompressed SEC1 point on P-384.
    P384(Vec<u8>),
    /// The raw Ed25519 public key.
    Ed25519(Vec<u8>),
    /// RSA modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl VerifyingKey {
    /// Reads a JWK; `None` for key types and curves we do not verify with, malformed members, an
    /// `alg` that is not a [`JwsAlgorithm`] or does not fit the key, or a `use` other than `sig`.
    pub fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let decode = |v: &Option<String>| v.as_deref().and_then(|s| B64.decode(s).ok());
        let point = |size: usize| {
            let (x, y) = (decode(&jwk.x)?, decode(&jwk.y)?);
            if x.len() != size || y.len() != size {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4u8);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Some(point)
        };
        let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some("P-256")) => Material::P256(point(32)?),
            ("EC", Some("P-384")) => Material::P384(point(48)?),
            ("OKP", Some("Ed25519")) => Material::Ed25519(decode(&jwk.x)?),
            ("RSA", _) => Material::Rsa {
                n: decode(&jwk.n)?,
                e: decode(&jwk.e)?,
            },
            _ => return None,
        };
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some(name) => Some(name.parse::<JwsAlgorithm>().ok()?),
        };
        let key = VerifyingKey {
            kid: jwk.kid.clone(),
            alg: None,
            material,
        };
        if alg.is_some_and(|a| !key.admits(a)) {
            return None;
        }
        Some(VerifyingKey { alg, ..key })
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        (!self.kid.is_empty()).then_some(self.kid.as_str())
    }

    /// The algorithm the JWK names, if it names one.
    pub fn alg(&self) -> Option<JwsAlgorithm> {
        self.alg
    }

    /// Whether this key may verify a signature made with `alg`.
    pub fn admits(&self, alg: JwsAlgorithm) -> bool {
        if self.alg.is_some_and(|own| own != alg) {
            return false;
        }
        use JwsAlgorithm as A;
        matches!(
            (&self.material, alg),
            (Material::P256(_), A::ES256)
                | (Material::P384(_), A::ES384)
                | (Material::Ed25519(_), A::EdDSA)
                | (
                    Material::Rsa { .. },
                    A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512
                )
        )
    }

    /// Checks `signature` over `message`, made with `alg`; false when the key does not admit
    /// `alg`. Uses [`Backend::DEFAULT`].
    pub fn verify(&self, alg: JwsAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        self.verify_with(Backend::DEFAULT, alg, message, signature)
    }

    /// [`verify`](Self::verify) with a chosen backend; the tests check every compiled backend
    /// against the same signatures.
    pub fn verify_with(
        &self,
        backend: Backend,
        alg: JwsAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        if !self.admits(alg) {
            return false;
        }
        match backend {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLc => aws_lc::verify(&self.material, alg, message, signature),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::verify(&self.material, alg, message, signature),
        }
    }
}

/// The keys of `keys` that may have made a token with `kid` (if it names one) and `alg`, most
/// likely first: those whose `kid` is the token's, then, when none is, those without a `kid` (a
/// provider whose JWKS has no `kid`s, or a token without one, is checked against each key that
/// fits).
pub fn candidates<'a>(
    keys: &'a [VerifyingKey],
    kid: Option<&str>,
    alg: JwsAlgorithm,
) -> impl Iterator<Item = &'a VerifyingKey> {
    let named: Vec<&VerifyingKey> = match kid {
        Some(kid) => keys.iter().filter(|k| k.kid == kid).collect(),
        None => Vec::new(),
    };
    let fallback = named.is_empty();
    named
        .into_iter()
        .chain(
            keys.iter()
                .filter(move |k| fallback && (kid.is_none() || k.kid.is_empty())),
        )
        .filter(move |k| k.admits(alg))
}

/// The keys of `set` that can verify anything: see [`VerifyingKey::from_jwk`] for those left out.
pub fn keys_of(set: &JwkSet) -> Vec<VerifyingKey> {
    set.keys.iter().filter_map(VerifyingKey::from_jwk).collect()
}

/// Whether one of `keys` that may have made a token with `kid` and `alg` ([`candidates`])
/// verifies `signature` over `message`.
pub fn verifies(
    keys: &[VerifyingKey],
    kid: Option<&str>,
    alg: JwsAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    candidates(keys, kid, alg).any(|k| k.verify(alg, message, signature))
}
