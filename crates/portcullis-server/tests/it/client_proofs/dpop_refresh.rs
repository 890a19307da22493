//! A public client's refresh tokens and DPoP (RFC 9449 §5): a grant that starts without DPoP is
//! bound by the first refresh that brings a proof, and a rotated token shown with another key is
//! the reuse it looks like.

use super::dpop::{code_form, public_party, token, token_with_nonce};
use super::es256_key;
use crate::helpers::spawn_app;
use crate::sign_in::flow::{Browser, obtain_code};

#[tokio::test]
async fn the_first_refresh_with_a_proof_binds_the_grant() {
    let app = spawn_app().await;
    let p = public_party(&app).await;
    let key = es256_key();
    let other = es256_key();
    let params = obtain_code(&app, &mut Browser::new(&app), &p, &[]).await;
    let plain = token(&app, &code_form(&p, &params["code"]), &[]).await;
    assert_eq!(plain.body["token_type"], "Bearer", "{}", plain.body);
    let refresh = |t: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", t.to_owned()),
            ("client_id", p.client_id.clone()),
        ]
    };
    let first = refresh(plain.body["refresh_token"].as_str().unwrap());
    let bound = token_with_nonce(&app, &key, &as_refs(&first)).await;
    assert_eq!(bound.status, 200, "{}", bound.body);
    assert_eq!(bound.body["token_type"], "DPoP");
    // From now on the grant's refresh tokens need the key.
    let second = refresh(bound.body["refresh_token"].as_str().unwrap());
    token(&app, &as_refs(&second), &[])
        .await
        .assert_error(400, "invalid_dpop_proof");
    let again = token_with_nonce(&app, &key, &as_refs(&second)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    // The token just rotated, shown with another key: someone else has it, and the grant ends.
    token_with_nonce(&app, &other, &as_refs(&second))
        .await
        .assert_error(400, "invalid_grant");
    let third = refresh(again.body["refresh_token"].as_str().unwrap());
    token_with_nonce(&app, &key, &as_refs(&third))
        .await
        .assert_error(400, "invalid_grant");
}

fn as_refs<'a>(f: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    f.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
