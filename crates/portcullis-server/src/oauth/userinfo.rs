//! The UserInfo endpoint's decision (OpenID Connect Core §5.3): which claims a bearer access token
//! may read, or which RFC 6750 error it earns.

use super::Issuer;
use super::error::BearerError;
use super::grant::user_tokens::profile_claims;
use portcullis_core::FormParams;
use serde_json::{Map, Value, json};

/// The bearer token of a request (RFC 6750 §2): from `Authorization: Bearer` or from a POSTed
/// form's `access_token`, and from only one of them (§2: "MUST NOT use more than one method").
pub fn bearer_token(
    authorization: Option<&str>,
    form: Option<&FormParams>,
) -> Result<String, BearerError> {
    let from_header = authorization
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let from_body = form.and_then(|f| f.get("access_token").ok().flatten().map(str::to_owned));
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("send the token once".into())),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing("a bearer token is required".into())),
    }
}

/// The claims about the user that `token` may read: `sub`, and the profile claims its scope
/// allows. The token must be ours, live, not revoked, and carry `openid`.
pub async fn userinfo(issuer: &Issuer, token: &str) -> Result<Map<String, Value>, BearerError> {
    let snapshot = issuer.registry.snapshot();
    let invalid = |d: &str| Err(BearerError::InvalidToken(d.into()));
    let Some(verified) = issuer.verify_access_token(token, &snapshot) else {
        return invalid("the access token is invalid or expired");
    };
    let scope = verified.scope();
    if !scope.contains("openid") {
        return Err(BearerError::InsufficientScope(
            "the openid scope is required".into(),
        ));
    }
    if snapshot.is_denied(verified.jti()) {
        return invalid("the access token has been revoked");
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
