//! Signature checks with aws-lc-rs (feature `aws-lc-rs`, the default).

use super::Material;
use crate::jose::JwsAlgorithm;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

pub(super) fn verify(
    material: &Material,
    alg: JwsAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use JwsAlgorithm as A;
    match material {
        Material::P256(point) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(message, signature)
            .is_ok(),
        Material::P384(point) => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
            .verify(message, signature)
            .is_ok(),
        Material::Ed25519(key) => UnparsedPublicKey::new(&signature::ED25519, key)
            .verify(message, signature)
            .is_ok(),
        Material::Rsa { n, e } => {
            let parameters: &signature::RsaParameters = match alg {
                A::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                A::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                A::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                A::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                A::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                A::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                _ => return false,
            };
            RsaPublicKeyComponents { n, e }
                .verify(parameters, message, signature)
                .is_ok()
        }
    }
}
