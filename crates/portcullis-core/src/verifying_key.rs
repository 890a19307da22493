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
            // 32 bytes exactly: aws-lc-rs would also read a longer `x` as an X.509 key.
            ("OKP", Some("Ed25519")) => {
                Material::Ed25519(decode(&jwk.x).filter(|x| x.len() == 32 && !small_order(x))?)
            }
            // Minimal big-endian integers (RFC 7518 §2, §6.3.1): no empty value and no leading
            // zero byte, which aws-lc-rs refuses and RustCrypto would accept (and pay for).
            ("RSA", _) => {
                let minimal = |v: Vec<u8>| (v.first().is_some_and(|&b| b != 0)).then_some(v);
                Material::Rsa {
                    n: minimal(decode(&jwk.n)?)?,
                    e: minimal(decode(&jwk.e)?)?,
                }
            }
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
        use JwsAlgorithm as A;
        // "EdDSA" and "Ed25519" (RFC 9864) name the same signatures over an Ed25519 key.
        let ed = |a: JwsAlgorithm| matches!(a, A::EdDSA | A::Ed25519);
        if self
            .alg
            .is_some_and(|own| own != alg && !(ed(own) && ed(alg)))
        {
            return false;
        }
        matches!(
            (&self.material, alg),
            (Material::P256(_), A::ES256)
                | (Material::P384(_), A::ES384)
                | (Material::Ed25519(_), A::EdDSA | A::Ed25519)
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

/// Whether a 32-byte Ed25519 public key is one of the eight points of small order, under which
/// anyone can forge a signature that aws-lc-rs's (cofactorless, non-strict) check accepts. The
/// list is libsodium's: the y coordinates 0, 1, p-1, the two of the order-8 points, and the
/// non-canonical p and p+1, compared without the sign bit. Together they encode all eight points
/// (`an_ed25519_key_of_small_order_is_refused` checks each against ed25519-dalek).
fn small_order(x: &[u8]) -> bool {
    const SMALL_ORDER: [[u8; 32]; 7] = [
        [0; 32],
        [
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ],
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
        p_plus(-1),
        p_plus(0),
        p_plus(1),
    ];
    /// The little-endian encoding of p + `k` for p = 2^255 - 19.
    const fn p_plus(k: i8) -> [u8; 32] {
        let mut out = [0xff; 32];
        out[0] = (0xed_i16 + k as i16) as u8;
        out[31] = 0x7f;
        out
    }
    SMALL_ORDER
        .iter()
        .any(|bad| x[..31] == bad[..31] && x[31] & 0x7f == bad[31])
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
