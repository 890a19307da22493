//! Which tokens count as access tokens when the `typ` header alone cannot say (RFC 9068 §4,
//! RFC 8725 §3.11): the policy, and the claims check that stands in for the header.

use serde_json::{Map, Value};

/// Which JWS `typ` header values are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TypPolicy {
    /// Only `at+jwt` (RFC 9068 §2.1): what Portcullis and other RFC 9068 servers issue. An ID
    /// token (`typ: JWT` or none) is refused by its header alone.
    #[default]
    AtJwt,
    /// `at+jwt`, and also `JWT` or no `typ`, for providers whose access tokens say so (Keycloak,
    /// Auth0, Microsoft Entra, Okta). Since the header no longer tells an access token from an
    /// ID token, a token without `typ: at+jwt` is then also refused when it carries a claim only
    /// ID tokens have (`nonce`, `at_hash`, `c_hash`, or a Keycloak `typ` claim other than
    /// `Bearer`) or grants nothing (no `scope`, `scp` or `roles`), and, as always, when its `aud`
    /// does not name this API (an ID token's `aud` is the client's id). See
    /// docs/protecting-apis.md.
    AllowJwt,
}

/// Whether `claims` look like an ID token's rather than an access token's: the check that stands
/// in for the `typ` header when plain `JWT` tokens are allowed. An ID token carries `nonce`,
/// `at_hash` or `c_hash` (OpenID Connect Core §2, §3.1.3.6, §3.3.2.11), or Keycloak's `typ` claim
/// with a value other than `Bearer` (`ID`); and it carries no grant of access: an access token of
/// these providers has `scope`, `scp` or (Entra's app permissions) `roles`.
pub(crate) fn looks_like_an_id_token(claims: &Map<String, Value>) -> bool {
    let id_only = ["nonce", "at_hash", "c_hash"]
        .iter()
        .any(|name| claims.contains_key(*name));
    let keycloak_not_bearer = claims
        .get("typ")
        .is_some_and(|typ| typ.as_str() != Some("Bearer"));
    let grants_nothing = !["scope", "scp", "roles"]
        .iter()
        .any(|name| claims.contains_key(*name));
    id_only || keycloak_not_bearer || grants_nothing
}
