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
        // "Ed25519" (RFC 9864) is EdDSA over an Ed25519 key by its other name: the EdDSA vectors
        // stand for it, and the test below checks them under both names.
        let name = if alg == JwsAlgorithm::Ed25519 {
            "EdDSA"
        } else {
            alg.as_str()
        };
        assert!(
            vectors.iter().any(|v| v.valid && v.alg == name),
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
            let alias = |a: JwsAlgorithm| {
                matches!(
                    (alg, a),
                    (JwsAlgorithm::EdDSA, JwsAlgorithm::Ed25519)
                        | (JwsAlgorithm::Ed25519, JwsAlgorithm::EdDSA)
                )
            };
            for other in JwsAlgorithm::ALL.into_iter().filter(|&a| a != alg) {
                assert_eq!(
                    key.verify_with(backend, other, message, &signature),
                    alias(other),
                    "{label}: as {other:?}"
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

fn vector(alg: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.valid && v.alg == alg)
        .unwrap()
}

/// Key material in a shape one backend would read differently from the other is refused before
/// either sees it: an RSA modulus or exponent that is empty or starts with a zero byte (Java's
/// `BigInteger.toByteArray()` makes those), and an Ed25519 `x` that is not 32 bytes (aws-lc-rs
/// would read 44 bytes as an X.509 key).
#[test]
fn keys_in_a_non_minimal_shape_are_refused() {
    let rsa = vector("RS256");
    let n = B64.decode(rsa.jwk.n.as_deref().unwrap()).unwrap();
    let with = |change: &dyn Fn(&mut Jwk)| {
        let mut jwk = rsa.jwk.clone();
        change(&mut jwk);
        VerifyingKey::from_jwk(&jwk)
    };
    let mut padded = vec![0u8];
    padded.extend_from_slice(&n);
    assert!(with(&|j| j.n = Some(B64.encode(&padded))).is_none());
    assert!(with(&|j| j.n = Some(String::new())).is_none());
    assert!(with(&|j| j.e = Some(String::new())).is_none());
    assert!(with(&|j| j.e = Some("AAEAAQ".into())).is_none());
    assert!(with(&|_| ()).is_some(), "the unchanged key is fine");

    let ed = vector("EdDSA");
    let x = B64.decode(ed.jwk.x.as_deref().unwrap()).unwrap();
    let mut spki = hex("302a300506032b6570032100");
    spki.extend_from_slice(&x);
    let mut jwk = ed.jwk.clone();
    jwk.x = Some(B64.encode(&spki));
    assert!(VerifyingKey::from_jwk(&jwk).is_none());
}

/// The Ed25519 keys of small order, with which anyone can forge (aws-lc-rs accepts R = the
/// identity and S = 0 for any message under the identity key), are refused when the key is read,
/// whatever the backend; with RustCrypto compiled in, each refused encoding is checked to be weak
/// by ed25519-dalek.
#[test]
fn an_ed25519_key_of_small_order_is_refused() {
    let listed = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    let jwk = vector("EdDSA").jwk;
    let with_x = |x: &[u8]| {
        let mut jwk = jwk.clone();
        jwk.x = Some(B64.encode(x));
        VerifyingKey::from_jwk(&jwk)
    };
    for encoding in listed {
        for sign in [0u8, 0x80] {
            let mut x = hex(encoding);
            x[31] |= sign;
            assert!(with_x(&x).is_none(), "{encoding} sign {sign}");
            #[cfg(feature = "rust-crypto")]
            if let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&x.clone().try_into().unwrap())
            {
                assert!(
                    key.is_weak(),
                    "{encoding} sign {sign} is not of small order"
                );
            }
        }
    }
    assert!(with_x(&B64.decode(jwk.x.as_deref().unwrap()).unwrap()).is_some());
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
