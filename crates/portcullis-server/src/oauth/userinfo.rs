//! The UserInfo endpoint's decision (OpenID Connect Core §5.3): which claims a bearer access token
//! may read, or which RFC 6750 error it earns.

use super::Issuer;
use super::error::BearerError;
use super::grant::user_tokens::profile_claims;
use portcullis_core::FormParams;
use serde_json::{Map, Value, json};

/// An access token as the request presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// The token.
    pub token: String,
    /// Sent as `Authorization: DPoP` (RFC 9449 §7.1) rather than as a bearer token.
    pub dpop: bool,
}

/// The access token of a request (RFC 6750 §2, RFC 9449 §7.1): from `Authorization: Bearer` or
/// `Authorization: DPoP`, or from a POSTed form's `access_token`, and from only one of them (§2:
/// "MUST NOT use more than one method").
pub fn bearer_token(
    authorization: Option<&str>,
    form: Option<&FormParams>,
) -> Result<Presented, BearerError> {
    let from_header = authorization
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, token)| {
            let dpop = scheme.eq_ignore_ascii_case("dpop");
            (dpop || scheme.eq_ignore_ascii_case("bearer")).then(|| Presented {
                token: token.trim().to_owned(),
                dpop,
            })
        });
    let from_body = form
        .and_then(|f| f.get("access_token").ok().flatten())
        .map(|t| Presented {
            token: t.to_owned(),
            dpop: false,
        });
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("send the token once".into())),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing("a bearer token is required".into())),
    }
}

/// How the request came: its method and `DPoP` header, for a DPoP-bound token.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The `DPoP` header, if any.
    pub dpop: Option<&'a str>,
}

/// The claims about the user that `presented` may read: `sub`, and the profile claims its scope
/// allows. The token must be ours, live, not revoked, and carry `openid`; a token bound to a DPoP
/// key must come as `Authorization: DPoP` with a proof by that key.
pub async fn userinfo(
    issuer: &Issuer,
    presented: &Presented,
    request: Request<'_>,
) -> Result<Map<String, Value>, BearerError> {
    let snapshot = issuer.registry.snapshot();
    let invalid = |d: &str| Err(BearerError::InvalidToken(d.into()));
    let token = presented.token.as_str();
    let Some(verified) = issuer.verify_access_token(token, &snapshot) else {
        return invalid("the access token is invalid or expired");
    };
    let bound = verified
        .claims()
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str);
    match (bound, presented.dpop) {
        (Some(_), false) => {
            return invalid(
                "the access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof",
            );
        }
        (None, true) => {
            return invalid(
                "the access token is not bound to a key: send it as Authorization: Bearer",
            );
        }
        (None, false) => {}
        (Some(jkt), true) => {
            let proof = super::dpop::check(
                issuer,
                request.dpop,
                request.method,
                "/userinfo",
                Some(token),
            )
            .await
            .map_err(|e| match e {
                super::dpop::DpopError::Invalid(d) => BearerError::DpopProof(d),
                super::dpop::DpopError::UseNonce(n) => BearerError::DpopNonce(n),
                super::dpop::DpopError::Store(error) => {
                    tracing::error!(%error, "userinfo: cannot record a DPoP proof");
                    BearerError::Unavailable
                }
            })?
            .ok_or_else(|| BearerError::DpopProof("a DPoP proof is required".into()))?;
            if proof.jkt != jkt {
                return Err(BearerError::DpopProof(
                    "the DPoP proof is not made with the key the access token is bound to".into(),
                ));
            }
        }
    }
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
