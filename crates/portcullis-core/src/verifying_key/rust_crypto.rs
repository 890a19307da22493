//! Signature checks with the RustCrypto crates (feature `rust-crypto`): pure Rust, so a
//! resource server can be built without a C compiler.
//!
//! The rules match the aws-lc-rs backend, so that the choice of backend does not change which
//! tokens pass: RSA moduli of 2048 to 8192 bits (their encoding is checked when the JWK is read);
//! PSS with MGF1 over the same hash and a salt as long as the hash (RFC 7518 §3.5); ECDSA
//! signatures as the fixed-size `r || s` of RFC 7518 §3.4. Ed25519 is checked strictly (RFC 8032
//! §5.1.7), which also refuses a small-order `R` that aws-lc-rs accepts: only the key's owner
//! could make one. Only public keys are handled here, so the timing attacks on RSA decryption that
//! concern the `rsa` crate do not apply.

use super::Material;
use crate::jose::JwsAlgorithm;
use rsa::signature::Verifier;
use rsa::{BoxedUint, PublicKey};
use sha2::{Sha256, Sha384, Sha512};

pub(super) fn verify(
    material: &Material,
    alg: JwsAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use JwsAlgorithm as A;
    match material {
        Material::P256(point) => {
            let (Ok(key), Ok(signature)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p256::ecdsa::Signature::from_slice(signature),
            ) else {
                return false;
            };
            key.verify(message, &signature).is_ok()
        }
        Material::P384(point) => {
            let (Ok(key), Ok(signature)) = (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p384::ecdsa::Signature::from_slice(signature),
            ) else {
                return false;
            };
            key.verify(message, &signature).is_ok()
        }
        Material::Ed25519(key) => {
            let (Ok(key), Ok(signature)) = (
                <[u8; 32]>::try_from(key.as_slice()),
                ed25519_dalek::Signature::from_slice(signature),
            ) else {
                return false;
            };
            ed25519_dalek::VerifyingKey::from_bytes(&key)
                .is_ok_and(|key| key.verify_strict(message, &signature).is_ok())
        }
        Material::Rsa { n, e } => {
            let Some(key) = rsa_key(n, e) else {
                return false;
            };
            match alg {
                A::RS256 => pkcs1::<Sha256>(key, message, signature),
                A::RS384 => pkcs1::<Sha384>(key, message, signature),
                A::RS512 => pkcs1::<Sha512>(key, message, signature),
                A::PS256 => pss::<Sha256>(key, message, signature),
                A::PS384 => pss::<Sha384>(key, message, signature),
                A::PS512 => pss::<Sha512>(key, message, signature),
                _ => false,
            }
        }
    }
}

/// The key, when its modulus has 2048 to 8192 bits (the range aws-lc-rs's `*_2048_8192`
/// parameters accept) and its exponent is one the `rsa` crate allows.
fn rsa_key(n: &[u8], e: &[u8]) -> Option<PublicKey> {
    let n = BoxedUint::from_be_slice_vartime(n);
    let e = BoxedUint::from_be_slice_vartime(e);
    PublicKey::new_with_size_limits(n, e, 2048..=8192).ok()
}

fn pkcs1<D>(key: PublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::const_oid::AssociatedOid,
    rsa::pkcs1v15::VerifyingKey<D>: Verifier<rsa::pkcs1v15::Signature>,
{
    let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<D>::new(key)
        .verify(message, &signature)
        .is_ok()
}

fn pss<D>(key: PublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest,
    rsa::pss::VerifyingKey<D>: Verifier<rsa::pss::Signature>,
{
    let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
        return false;
    };
    // `new` fixes the salt length to the hash's output size, as RFC 7518 §3.5 requires.
    rsa::pss::VerifyingKey::<D>::new(key)
        .verify(message, &signature)
        .is_ok()
}
