//! Signed-in tokens kept in a file store, refreshed when they expire.

use crate::fake::{json, start};
use portcullis_client::{FileTokenStore, StoredTokens, TokenStore, access_token};
use portcullis_core::{ManualClock, UnixTime};

#[tokio::test]
async fn expired_tokens_are_refreshed_and_saved() {
    let fake = start(vec![json(
        200,
        r#"{"access_token":"second","refresh_token":"r2","expires_in":600}"#,
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = FileTokenStore::new(dir.path().join("nested/tokens.json"));
    let clock = ManualClock::new(UnixTime(10_000));
    let mut first = StoredTokens::default();
    first.issuer = "https://id.example.com".into();
    first.token_endpoint = fake.url.clone();
    first.client_id = "cli".into();
    first.access_token = "first".into();
    first.expires_at = Some(10_600);
    first.refresh_token = Some("r1".into());
    first.scope = Some("openid".into());
    store.save("default", &first).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(
        access_token(&store, "default", None, &clock)
            .await
            .unwrap()
            .access_token,
        "first"
    );
    assert_eq!(fake.hits(), 0, "still valid: no request");
    clock.advance(600);
    let refreshed = access_token(&store, "default", None, &clock).await.unwrap();
    assert_eq!(refreshed.access_token, "second");
    assert_eq!(refreshed.refresh_token.as_deref(), Some("r2"));
    assert_eq!(refreshed.expires_at, Some(11_200));
    assert_eq!(store.load("default").unwrap().unwrap(), refreshed, "saved");
    assert_eq!(fake.hits(), 1);
    assert!(
        access_token(&store, "other", None, &clock)
            .await
            .unwrap_err()
            .to_string()
            .contains("portcullis login")
    );
}
