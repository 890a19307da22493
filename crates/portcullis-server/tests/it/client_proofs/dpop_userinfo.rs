//! DPoP at `/userinfo` (RFC 9449 §7): a bound token only as `Authorization: DPoP` with a proof by
//! its key, carrying `ath`; `DPoP` challenges and nonces on the way.

use super::dpop::{ath, code_form, now, proof, public_party, token, token_with_nonce};
use super::es256_key;
use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, obtain_code};
use serde_json::json;

#[tokio::test]
async fn userinfo_takes_a_bound_token_only_with_its_proof() {
    let app = spawn_app().await;
    let p = public_party(&app).await;
    let key = es256_key();
    let params = obtain_code(&app, &mut Browser::new(&app), &p, &[]).await;
    let ok = token_with_nonce(&app, &key, &code_form(&p, &params["code"])).await;
    let at = ok.body["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}/userinfo", app.base);
    let htu = format!("{}/userinfo", app.issuer);
    let get = |scheme: &str, dpop: Option<String>| {
        let mut r = app
            .http
            .get(&url)
            .header("authorization", format!("{scheme} {at}"));
        if let Some(d) = dpop {
            r = r.header("dpop", d);
        }
        r
    };
    // As a bearer token: refused.
    let bearer = app.send(get("Bearer", None)).await;
    bearer.assert_error(401, "invalid_token");
    // DPoP scheme without a proof, and with proofs that are wrong.
    let none = app.send(get("DPoP", None)).await;
    none.assert_error(401, "invalid_dpop_proof");
    let challenge = none.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("DPoP algs=\"ES256"), "{challenge}");
    // A proof without the nonce: use_dpop_nonce, with it.
    let first = app
        .send(get(
            "DPoP",
            Some(proof(
                &key,
                "GET",
                &htu,
                now(&app),
                json!({ "ath": ath(&at) }),
            )),
        ))
        .await;
    first.assert_error(401, "use_dpop_nonce");
    assert!(
        first
            .header("www-authenticate")
            .unwrap()
            .contains("use_dpop_nonce"),
        "{:?}",
        first.headers
    );
    let nonce = first.header("dpop-nonce").unwrap().to_owned();
    let other = es256_key();
    for (case, p) in [
        (
            "no ath",
            proof(&key, "GET", &htu, now(&app), json!({ "nonce": nonce })),
        ),
        (
            "ath of another token",
            proof(
                &key,
                "GET",
                &htu,
                now(&app),
                json!({ "nonce": nonce, "ath": ath("x") }),
            ),
        ),
        (
            "another key",
            proof(
                &other,
                "GET",
                &htu,
                now(&app),
                json!({ "nonce": nonce, "ath": ath(&at) }),
            ),
        ),
        (
            "POST proof for a GET",
            proof(
                &key,
                "POST",
                &htu,
                now(&app),
                json!({ "nonce": nonce, "ath": ath(&at) }),
            ),
        ),
    ] {
        let answer = app.send(get("DPoP", Some(p))).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(answer.body["error"], "invalid_dpop_proof", "{case}");
    }
    let good = proof(
        &key,
        "GET",
        &htu,
        now(&app),
        json!({ "nonce": nonce, "ath": ath(&at) }),
    );
    let info = app.send(get("DPoP", Some(good.clone()))).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["sub"], p.user_id);
    // The same proof again: a replay.
    app.send(get("DPoP", Some(good)))
        .await
        .assert_error(401, "invalid_dpop_proof");
    // A plain bearer token may not dress up as a DPoP one.
    let (id, secret) = app.service_client("").await;
    let plain = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ],
        &[],
    )
    .await;
    let pt = plain.body["access_token"].as_str().unwrap();
    let answer = app
        .send(
            app.http
                .get(&url)
                .header("authorization", format!("DPoP {pt}")),
        )
        .await;
    answer.assert_error(401, "invalid_token");
}
