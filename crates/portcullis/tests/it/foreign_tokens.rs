//! `portcullis decode` against keys published the way other providers publish them: RSA keys with
//! no `alg` and no `kid`, tokens signed RS256 and PS256 with no `kid`, and an HS256 token made with
//! the public key as the secret, which must never verify.

use crate::client_cli::client_command;
use crate::helpers::run;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;

// Several threads: the command runs blocking while this test's runtime serves its keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_verifies_rs256_and_ps256_from_a_jwks_without_alg_or_kid() {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
    let jwk = json!({
        "kty": "RSA", "use": "sig",
        "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
        "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let (metadata, jwks) = (
        json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys"),
               "token_endpoint": format!("{issuer}/token")}),
        json!({"keys": [jwk]}),
    );
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            axum::routing::get(move || async move { axum::Json(metadata) }),
        )
        .route(
            "/keys",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let claims = json!({"iss": issuer, "sub": "someone", "aud": "api",
                        "exp": 4_102_444_800i64, "iat": 1_700_000_000i64});
    let input = |alg: &str| {
        format!(
            "{}.{}",
            B64.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
            B64.encode(claims.to_string())
        )
    };
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sign = |alg: &str, padding: &'static dyn aws_lc_rs::signature::RsaEncoding| {
        let input = input(alg);
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(padding, &rng, input.as_bytes(), &mut signature)
            .unwrap();
        format!("{input}.{}", B64.encode(signature))
    };
    let work = tempfile::tempdir().unwrap();
    for (alg, token) in [
        (
            "RS256",
            sign("RS256", &aws_lc_rs::signature::RSA_PKCS1_SHA256),
        ),
        (
            "PS256",
            sign("PS256", &aws_lc_rs::signature::RSA_PSS_SHA256),
        ),
    ] {
        let (ok, _, err) =
            run(client_command(work.path()).args(["decode", &token, "--issuer", &issuer]));
        assert!(
            ok && err.contains(&format!("signature: valid ({alg}, kid none")),
            "{err}"
        );
    }
    // HS256 keyed with the published key's text: never valid.
    let input = input("HS256");
    let secret = serde_json::to_string(&json!({"kty": "RSA"})).unwrap();
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    let forged = format!("{input}.{}", B64.encode(tag.as_ref()));
    let (ok, _, err) =
        run(client_command(work.path()).args(["decode", &forged, "--issuer", &issuer]));
    assert!(!ok && err.contains("signature: NOT valid"), "{err}");
}
