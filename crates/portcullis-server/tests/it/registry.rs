//! Admin changes made through the database reach the running server within a second, without any
//! explicit reload.

use crate::helpers::spawn_app;
use portcullis_core::{ClientId, Clock};
use portcullis_server::admin::{ClientAdmin, SecretSource};
use portcullis_server::client::ClientMetadata;
use std::time::{Duration, Instant};

async fn wait_for_status(
    app: &crate::helpers::TestApp,
    form: &[(&str, &str)],
    want: u16,
) -> Duration {
    let start = Instant::now();
    loop {
        let answer = app.post_token(form).await;
        if answer.status.as_u16() == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still {} after 3s",
            answer.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn create_rotate_and_delete_are_seen_within_a_second() {
    let app = spawn_app().await;
    let hasher = app.hasher().await;
    let admin = ClientAdmin::new(app.store.as_ref(), &hasher, app.clock.now());
    let saved = admin
        .create(None, ClientMetadata::default(), SecretSource::Generate)
        .await
        .unwrap();
    let id = saved.client_id.to_string();
    let secret = saved.secret.unwrap().expose().to_owned();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    assert!(wait_for_status(&app, &form, 200).await < Duration::from_secs(1));

    let client_id = ClientId::parse(&id).unwrap();
    let new_secret = admin
        .rotate_secret(&client_id, SecretSource::Generate)
        .await
        .unwrap();
    assert!(wait_for_status(&app, &form, 401).await < Duration::from_secs(1));
    let new_form = [form[0], form[1], ("client_secret", new_secret.expose())];
    assert_eq!(app.post_token(&new_form).await.status, 200);

    admin.delete(&client_id).await.unwrap();
    assert!(wait_for_status(&app, &new_form, 401).await < Duration::from_secs(1));
}
