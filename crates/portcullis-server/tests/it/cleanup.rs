//! The background clean-up: rows of every kind that traffic leaves behind are deleted once nothing
//! can use them, on whichever backend the suite runs, by moving the injected clock.

use crate::helpers::spawn_with;
use crate::sign_in::flow::{party, tokens};
use portcullis_server::config::Seconds;
use portcullis_server::store::TrafficRows;
use std::time::{Duration, Instant};

#[tokio::test]
async fn expired_rows_of_every_kind_are_deleted_in_the_background() {
    let app = spawn_with(|c| c.cleanup.interval = Seconds(1)).await;
    let web = party(&app, |_| {}).await;
    for _ in 0..3 {
        tokens(&app, &web).await;
    }
    let service = app.service_client("read").await;
    let token = app.client_credentials(&service.0, &service.1).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .http
        .post(format!("{}/revoke", app.base))
        .basic_auth(&service.0, Some(&service.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    let rows = app.store.traffic_rows().await.unwrap();
    assert!(
        rows.codes >= 3 && rows.sessions >= 1 && rows.grants >= 3,
        "{rows:?}"
    );
    assert!(
        rows.refresh_tokens >= 3 && rows.grant_access_tokens >= 3,
        "{rows:?}"
    );
    assert_eq!(rows.revoked_access_tokens, 1);
    let tv = crate::device::tv(&app).await;
    crate::device::start(&app, &tv.client_id, "openid").await;
    assert_eq!(app.store.traffic_rows().await.unwrap().device_codes, 1);
    let rows = app.store.traffic_rows().await.unwrap();

    // A tick with nothing expired deletes nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.store.traffic_rows().await.unwrap(), rows);

    // A year on, nothing can use any of it.
    app.clock.advance(366 * 86_400);
    let start = Instant::now();
    loop {
        let now = app.store.traffic_rows().await.unwrap();
        if now == TrafficRows::default() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The server carries on: a new sign-in works after the clean-up.
    tokens(&app, &web).await;
}
