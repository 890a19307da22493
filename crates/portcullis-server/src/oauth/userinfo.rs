//! The UserInfo endpoint's decision (OpenID Connect Core §5.3): which claims a bearer access token
//! may read, or which RFC 6750 error it earns.

use super::Issuer;
use super::bearer::verify_access_token;
use super::error::BearerError;
use super::grant::user_tokens::profile_claims;
use serde_json::{Map, Value, json};

/// The claims about the user that `token` may read: `sub`, and the profile claims its scope
/// allows. The token must be ours, live, not revoked, and carry `openid`.
pub async fn userinfo(issuer: &Issuer, token: &str) -> Result<Map<String, Value>, BearerError> {
    let now = issuer.clock.now();
    let snapshot = issuer.registry.snapshot();
    let invalid = |d: &str| Err(BearerError::InvalidToken(d.into()));
    let Some(verified) = verify_access_token(
        token,
        &snapshot.keys,
        issuer.issuer(),
        now,
        issuer.max_token_lifetime(),
    ) else {
        return invalid("the access token is invalid or expired");
    };
    let scope = verified.scope();
    if !scope.contains("openid") {
        return Err(BearerError::InsufficientScope(
            "the openid scope is required".into(),
        ));
    }
    match issuer.store.access_token_revoked(verified.jti()).await {
        Ok(false) => {}
        Ok(true) => return invalid("the access token has been revoked"),
        Err(error) => {
            tracing::error!(%error, "userinfo: cannot check revocation");
            return Err(BearerError::Unavailable);
        }
    }
    let user = match issuer.store.user_by_id(verified.sub()).await {
        Ok(Some(user)) => user,
        Ok(None) => return invalid("the user no longer exists"),
        Err(error) => {
            tracing::error!(%error, "userinfo: cannot read the user");
            return Err(BearerError::Unavailable);
        }
    };
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.user_id));
    profile_claims(&user, &scope, &mut out);
    Ok(out)
}
