//! Token requests (RFC 6749 §4 and §6), parsed from the form so that a [`TokenRequest`] exists only
//! when it is well formed.

use crate::form::{FormError, FormParams};
use crate::scope::{Scope, ScopeError};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// A grant type a client may be registered for (RFC 7591 §2 `grant_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// Token Exchange (RFC 8693).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
    /// The Device Authorization Grant (RFC 8628).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    /// The grant type as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::TokenExchange => TOKEN_EXCHANGE,
            GrantType::DeviceCode => DEVICE_CODE,
        }
    }
}

/// The `grant_type` of Token Exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The `grant_type` of the Device Authorization Grant (RFC 8628 §3.4).
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A token type identifier of RFC 8693 §3 that Portcullis takes and issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenTypeId {
    /// `urn:ietf:params:oauth:token-type:access_token`.
    AccessToken,
    /// `urn:ietf:params:oauth:token-type:jwt`.
    Jwt,
}

impl TokenTypeId {
    /// The identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenTypeId::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            TokenTypeId::Jwt => "urn:ietf:params:oauth:token-type:jwt",
        }
    }

    fn parse(name: &str, value: &str) -> Result<Self, TokenRequestError> {
        match value {
            "urn:ietf:params:oauth:token-type:access_token" => Ok(TokenTypeId::AccessToken),
            "urn:ietf:params:oauth:token-type:jwt" => Ok(TokenTypeId::Jwt),
            other => Err(TokenRequestError::Invalid(format!(
                "{name} '{other}' is not supported: use urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:jwt"
            ))),
        }
    }
}

/// Why a token request is malformed; each maps to one RFC 6749 §5.2 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    /// A parameter is missing, repeated or malformed: `invalid_request`.
    #[error("{0}")]
    Invalid(String),
    /// The grant type is not one this server implements: `unsupported_grant_type`.
    #[error("grant_type '{0}' is not supported")]
    UnsupportedGrantType(String),
    /// The scope parameter is malformed: `invalid_scope`.
    #[error("{0}")]
    Scope(#[from] ScopeError),
    /// A resource indicator is not an absolute URI without a fragment: `invalid_target`.
    #[error("resource must be an absolute URI without a fragment")]
    Target,
}

impl From<FormError> for TokenRequestError {
    fn from(e: FormError) -> Self {
        TokenRequestError::Invalid(e.to_string())
    }
}

/// A well-formed token request, without the client authentication parts (those are checked by the
/// server before the grant is looked at).
#[derive(Debug, Clone)]
pub enum TokenRequest {
    /// `grant_type=client_credentials` (RFC 6749 §4.4.2).
    ClientCredentials {
        /// The requested scope; `None` asks for the client's default.
        scope: Option<Scope>,
        /// Requested audiences: every RFC 8707 `resource` and every space-separated `audience` value.
        audiences: Vec<String>,
    },
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The code from the authorization response.
        code: Secret,
        /// Must equal the authorization request's `redirect_uri` when that one was sent.
        redirect_uri: Option<String>,
        /// The PKCE verifier.
        code_verifier: Option<Secret>,
        /// Requested audiences of the access token (RFC 8707 `resource`, `audience`).
        audiences: Vec<String>,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret,
        /// A narrower scope, or `None` for the scope of the original grant.
        scope: Option<Scope>,
        /// Requested audiences of the access token (RFC 8707 `resource`, `audience`).
        audiences: Vec<String>,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693 §2.1).
    TokenExchange {
        /// The token the new one acts for.
        subject_token: Secret,
        /// Its type.
        subject_token_type: TokenTypeId,
        /// The token of whoever acts (delegation), with its type; none for impersonation.
        actor: Option<(Secret, TokenTypeId)>,
        /// The type asked for; `None` is an access token.
        requested_token_type: Option<TokenTypeId>,
        /// A narrower scope, or `None` for the subject token's.
        scope: Option<Scope>,
        /// The audiences of the new token (`resource`, `audience`).
        audiences: Vec<String>,
    },
    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
    DeviceCode {
        /// The device code from the device authorization response.
        device_code: Secret,
        /// Requested audiences of the access token (RFC 8707 `resource`, `audience`).
        audiences: Vec<String>,
    },
}

impl TokenRequest {
    /// The grant types this parser accepts, for discovery documents.
    pub const SUPPORTED: &'static [GrantType] = &[
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
        GrantType::TokenExchange,
        GrantType::DeviceCode,
    ];

    /// Parses the grant part of a token request.
    ///
    /// ```
    /// use portcullis_core::{FormParams, TokenRequest};
    /// let form = FormParams::parse(b"grant_type=client_credentials&scope=read&resource=https%3A%2F%2Fapi.example.com").unwrap();
    /// let Ok(TokenRequest::ClientCredentials { scope, audiences }) = TokenRequest::from_form(&form) else {
    ///     panic!("a client_credentials request");
    /// };
    /// assert_eq!(scope.unwrap().to_string(), "read");
    /// assert_eq!(audiences, vec!["https://api.example.com".to_string()]);
    /// ```
    pub fn from_form(form: &FormParams) -> Result<Self, TokenRequestError> {
        let grant_type = form
            .get("grant_type")?
            .ok_or_else(|| TokenRequestError::Invalid("grant_type is missing".into()))?;
        match grant_type {
            "client_credentials" => {
                let scope = form.get("scope")?.map(Scope::parse).transpose()?;
                Ok(TokenRequest::ClientCredentials {
                    scope,
                    audiences: requested_audiences(form)?,
                })
            }
            "authorization_code" => {
                let code = Secret::new(required(form, "code")?);
                let code_verifier = form.get("code_verifier")?.map(str::to_owned);
                if code_verifier
                    .as_deref()
                    .is_some_and(|v| !crate::pkce::is_valid_verifier(v))
                {
                    return Err(TokenRequestError::Invalid(
                        "code_verifier must be 43 to 128 unreserved characters (RFC 7636 section 4.1)"
                            .into(),
                    ));
                }
                Ok(TokenRequest::AuthorizationCode {
                    code,
                    redirect_uri: form.get("redirect_uri")?.map(str::to_owned),
                    code_verifier: code_verifier.map(Secret::new),
                    audiences: requested_audiences(form)?,
                })
            }
            "refresh_token" => Ok(TokenRequest::RefreshToken {
                refresh_token: Secret::new(required(form, "refresh_token")?),
                scope: form.get("scope")?.map(Scope::parse).transpose()?,
                audiences: requested_audiences(form)?,
            }),
            TOKEN_EXCHANGE => {
                let typed = |token: &str, kind: &str| -> Result<_, TokenRequestError> {
                    match (form.get(token)?, form.get(kind)?) {
                        (Some(t), Some(k)) => {
                            Ok(Some((Secret::new(t), TokenTypeId::parse(kind, k)?)))
                        }
                        (None, None) => Ok(None),
                        (Some(_), None) => {
                            Err(TokenRequestError::Invalid(format!("{kind} is missing")))
                        }
                        (None, Some(_)) => {
                            Err(TokenRequestError::Invalid(format!("{token} is missing")))
                        }
                    }
                };
                let (subject_token, subject_token_type) =
                    typed("subject_token", "subject_token_type")?.ok_or_else(|| {
                        TokenRequestError::Invalid("subject_token is missing".into())
                    })?;
                Ok(TokenRequest::TokenExchange {
                    subject_token,
                    subject_token_type,
                    actor: typed("actor_token", "actor_token_type")?,
                    requested_token_type: form
                        .get("requested_token_type")?
                        .map(|t| TokenTypeId::parse("requested_token_type", t))
                        .transpose()?,
                    scope: form.get("scope")?.map(Scope::parse).transpose()?,
                    audiences: requested_audiences(form)?,
                })
            }
            DEVICE_CODE => Ok(TokenRequest::DeviceCode {
                device_code: Secret::new(required(form, "device_code")?),
                audiences: requested_audiences(form)?,
            }),
            other => Err(TokenRequestError::UnsupportedGrantType(other.to_owned())),
        }
    }

    /// The grant type of this request.
    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::TokenExchange { .. } => GrantType::TokenExchange,
            TokenRequest::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

fn required(form: &FormParams, name: &str) -> Result<String, TokenRequestError> {
    form.get(name)?
        .map(str::to_owned)
        .ok_or_else(|| TokenRequestError::Invalid(format!("{name} is missing")))
}

/// RFC 8707 `resource` may repeat and must be an absolute URI without a fragment; `audience` (as Hydra
/// and others name it) is a space-separated list of identifiers and may appear once.
fn requested_audiences(form: &FormParams) -> Result<Vec<String>, TokenRequestError> {
    let mut out: Vec<String> = Vec::new();
    for resource in form.get_all("resource") {
        if !is_absolute_uri_without_fragment(resource) {
            return Err(TokenRequestError::Target);
        }
        out.push(resource.to_owned());
    }
    if let Some(list) = form.get("audience")? {
        out.extend(list.split(' ').filter(|a| !a.is_empty()).map(str::to_owned));
    }
    out.dedup();
    Ok(out)
}

fn is_absolute_uri_without_fragment(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !rest.is_empty()
        && !value.contains('#')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, TokenRequestError> {
        TokenRequest::from_form(&FormParams::parse(body.as_bytes()).unwrap())
    }

    fn error(body: &str) -> TokenRequestError {
        parse(body).expect_err("an invalid request")
    }

    #[test]
    fn debug_redacts_codes_verifiers_and_refresh_tokens() {
        for body in [
            "grant_type=authorization_code&code=c0de-c0de&code_verifier=v3rifier-v3rifier-v3rifier-v3rifier-v3rifier",
            "grant_type=refresh_token&refresh_token=c0de-c0de",
        ] {
            let shown = format!("{:?}", parse(body).unwrap());
            assert!(
                !shown.contains("c0de") && !shown.contains("v3rifier"),
                "{shown}"
            );
            let form = format!("{:?}", FormParams::parse(body.as_bytes()).unwrap());
            assert!(
                !form.contains("c0de") && !form.contains("v3rifier"),
                "{form}"
            );
        }
    }

    #[test]
    fn resource_must_be_absolute_without_fragment() {
        assert_eq!(
            error("grant_type=client_credentials&resource=api"),
            TokenRequestError::Target
        );
        assert_eq!(
            error("grant_type=client_credentials&resource=https://a.example/%23x#frag"),
            TokenRequestError::Target
        );
        assert!(parse("grant_type=client_credentials&resource=urn:example:api").is_ok());
    }

    #[test]
    fn unknown_grant_is_unsupported() {
        assert_eq!(
            error("grant_type=password"),
            TokenRequestError::UnsupportedGrantType("password".into())
        );
    }

    #[test]
    fn resource_may_repeat_but_audience_may_not() {
        let Ok(TokenRequest::ClientCredentials { audiences, .. }) =
            parse("grant_type=client_credentials&resource=urn:a&resource=urn:b&audience=c%20d")
        else {
            panic!("client_credentials expected");
        };
        assert_eq!(audiences, ["urn:a", "urn:b", "c", "d"]);
        assert!(matches!(
            parse("grant_type=client_credentials&audience=a&audience=b"),
            Err(TokenRequestError::Invalid(_))
        ));
    }
}
