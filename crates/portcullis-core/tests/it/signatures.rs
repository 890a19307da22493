//! Every compiled crypto backend against the same signatures, made by OpenSSL through pyca/cryptography
//! (`vectors/generate.py`): each valid one passes, and nothing else does: not a changed message,
//! not a changed signature, not another algorithm, not a key too short.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_core::verifying_key::{Backend, VerifyingKey};
use portcullis_core::{Jwk, JwsAlgorithm};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    alg: String,
    jwk: Jwk,
    input: String,
    signature: String,
    valid: bool,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str::<Vectors>(include_str!("vectors/jws.json"))
        .unwrap()
        .vectors
}

#[test]
fn the_vectors_cover_every_algorithm() {
    let vectors = vectors();
    for alg in JwsAlgorithm::ALL {
        assert!(
            vectors.iter().any(|v| v.valid && v.alg == alg.as_str()),
            "no vector for {alg:?}"
        );
    }
}

#[test]
fn every_backend_accepts_each_valid_signature_and_nothing_else() {
    eprintln!("backends compiled in: {:?}", Backend::ALL);
    for backend in Backend::ALL.iter().copied() {
        for v in vectors() {
            let alg: JwsAlgorithm = v.alg.parse().unwrap();
            let key = VerifyingKey::from_jwk(&v.jwk).unwrap();
            let message = v.input.as_bytes();
            let signature = B64.decode(&v.signature).unwrap();
            let label = format!("{backend:?} {} kid {}", v.alg, v.jwk.kid);
            assert_eq!(
                key.verify_with(backend, alg, message, &signature),
                v.valid,
                "{label}"
            );
            if !v.valid {
                continue;
            }

            let mut changed = message.to_vec();
            changed[message.len() - 2] ^= 1;
            assert!(
                !key.verify_with(backend, alg, &changed, &signature),
                "{label}: changed message"
            );
            let mut forged = signature.clone();
            forged[signature.len() / 2] ^= 0x80;
            assert!(
                !key.verify_with(backend, alg, message, &forged),
                "{label}: changed signature"
            );
            assert!(
                !key.verify_with(backend, alg, message, &signature[1..]),
                "{label}: short signature"
            );
            for other in JwsAlgorithm::ALL.into_iter().filter(|&a| a != alg) {
                assert!(
                    !key.verify_with(backend, other, message, &signature),
                    "{label}: passed as {other:?}"
                );
            }
        }
    }
}

#[test]
fn the_default_backend_is_the_one_verify_uses() {
    let v = vectors().into_iter().find(|v| v.alg == "ES256").unwrap();
    let key = VerifyingKey::from_jwk(&v.jwk).unwrap();
    let signature = B64.decode(&v.signature).unwrap();
    assert!(key.verify(JwsAlgorithm::ES256, v.input.as_bytes(), &signature));
    assert!(Backend::ALL.contains(&Backend::DEFAULT));
}
