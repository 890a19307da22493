//! Nothing internal reaches the wire: a storage failure is `server_error` with a fixed message and
//! the request id to quote, and the cause goes to the log only.

use crate::helpers::spawn_app;
use crate::sign_in::flow::{party, tokens};

#[tokio::test]
async fn a_storage_failure_is_a_fixed_server_error_with_the_request_id() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    tokens(&app, &p).await;
    // Break the database behind the server's back: the refresh token table disappears. (A JWT
    // access token is introspected from memory; an opaque token is looked up in this table.)
    crate::databases::execute(&app.database, "DROP TABLE refresh_tokens").await;
    let access = "an-opaque-token-that-needs-the-database";
    let answer = app
        .send(
            app.http
                .post(format!("{}/introspect", app.base))
                .header("x-request-id", "req-internal-1")
                .basic_auth(&p.client_id, p.client_secret.as_deref())
                .form(&[("token", access)]),
        )
        .await;
    answer.assert_error(500, "server_error");
    let description = answer.body["error_description"].as_str().unwrap();
    assert!(
        description.contains("req-internal-1"),
        "the request id to quote: {description}"
    );
    for leak in [
        "storage",
        "database",
        "refresh_tokens",
        "no such",
        "relation",
    ] {
        assert!(
            !description.to_lowercase().contains(leak),
            "{leak:?} in {description:?}"
        );
    }
}

#[tokio::test]
async fn a_storage_failure_on_a_page_is_a_fixed_500_with_the_request_id() {
    let app = spawn_app().await;
    let p = party(&app, |_| {}).await;
    let mut browser = crate::sign_in::flow::Browser::new(&app);
    crate::sign_in::flow::obtain_code(&app, &mut browser, &p, &[]).await;
    crate::databases::execute(&app.database, "DROP TABLE sessions").await;
    let page = browser
        .http
        .get(format!(
            "{}{}",
            app.base,
            crate::sign_in::flow::authorize_url(&p, &[])
        ))
        .header("cookie", browser.cookie_header())
        .header("x-request-id", "req-internal-2")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 500);
    let body = page.text().await.unwrap();
    assert!(body.contains("Something went wrong"), "{body}");
    assert!(body.contains("req-internal-2"), "{body}");
    for leak in ["sessions", "no such", "relation", "database", "sqlx"] {
        assert!(!body.to_lowercase().contains(leak), "{leak:?} in {body}");
    }
}
