//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` (see `client_assertion`), or `none` for public clients.
//! An unknown client_id and a wrong secret take the same time and get the same answer.

use crate::client::Client;
use crate::client_secret::SecretHasher;
use crate::oauth::Issuer;
use crate::oauth::error::TokenError;
use crate::registry::Snapshot;
use portcullis_core::basic::{BasicError, decode_basic};
use portcullis_core::{ErrorCode, FormParams, Secret, TokenEndpointAuthMethod};
use std::net::IpAddr;
use std::sync::Arc;

/// An authenticated client, with the registry snapshot it was found in.
pub struct AuthenticatedClient {
    /// The client.
    pub client: Arc<Client>,
    /// The snapshot: the keys the request is answered with belong to the same moment.
    pub snapshot: Arc<Snapshot>,
}

/// Authenticates the client of a token, introspection, revocation or pushed authorization
/// request, from the `Authorization` header value (if any) and the form, under the failure
/// throttle: a lock answers `Throttled` before any secret is hashed,
/// and each `invalid_client` counts against the (client_id, address) pair and the address.
pub async fn authenticate(
    issuer: &Issuer,
    authorization: Option<&str>,
    form: &FormParams,
    ip: IpAddr,
) -> Result<AuthenticatedClient, TokenError> {
    let presented = ClientAuthentication::from_request(authorization, form)?;
    let now = issuer.clock.now().0;
    let snapshot = issuer.registry.snapshot();
    let throttle = &issuer.client_auth_throttle;
    // Nothing locked anywhere (the usual case): no hashing, no lock, no I/O.
    if throttle.any_locked() {
        let keys = issuer.client_auth_keys(presented.client_id(), ip);
        if let Some(seconds) = throttle.retry_after(&keys, now) {
            // Refused attempts still count against the address: a spray that goes on stays
            // throttled.
            if let Err(error) = throttle.refused(&keys, now).await {
                tracing::warn!(%error, "could not count a refused client authentication");
            }
            let (client_id, client_id_sha256) = loggable_client_id(&snapshot, &presented);
            tracing::info!(
                target: "portcullis::audit",
                event = "client_authentication_throttled",
                client_id = client_id.as_deref(),
                client_id_sha256 = client_id_sha256.as_deref(),
                %ip,
                retry_after = seconds,
            );
            return Err(TokenError::throttled(u64::try_from(seconds).unwrap_or(1)));
        }
    }
    let checked = match &presented {
        ClientAuthentication::Assertion {
            client_id,
            assertion,
        } => {
            let client = snapshot.client(client_id);
            super::client_assertion::verify(issuer, client, assertion).await
        }
        _ => presented.authenticate(&snapshot, &issuer.hasher),
    };
    let client = match checked {
        Ok(client) => client,
        Err(error) => {
            if matches!(error, TokenError::Client { .. }) {
                let keys = issuer.client_auth_keys(presented.client_id(), ip);
                if let Err(error) = throttle.failed(&keys, now).await {
                    tracing::warn!(%error, "could not count a failed client authentication");
                }
                issuer.metrics.client_auth_failed();
                let (client_id, client_id_sha256) = loggable_client_id(&snapshot, &presented);
                tracing::info!(
                    target: "portcullis::audit",
                    event = "client_authentication_failed",
                    client_id = client_id.as_deref(),
                    client_id_sha256 = client_id_sha256.as_deref(),
                    %ip,
                    reason = %error.description(),
                    "client authentication failed"
                );
            }
            return Err(error);
        }
    };
    Ok(AuthenticatedClient { client, snapshot })
}

/// What the audit log may say of a presented client_id: the id itself when it names a registered
/// client, otherwise only a short hash of it, since a caller that swapped id and secret put its
/// secret there.
fn loggable_client_id(
    snapshot: &Snapshot,
    presented: &ClientAuthentication,
) -> (Option<String>, Option<String>) {
    let id = presented.client_id();
    if snapshot.client(id).is_some() {
        return (Some(id.to_owned()), None);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes());
    let short = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (None, Some(short))
}

/// What the request presented, before it is checked against the registry.
#[derive(Debug)]
pub enum ClientAuthentication {
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic {
        /// The decoded client_id.
        client_id: String,
        /// The decoded secret.
        secret: Secret,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        /// The client_id from the body.
        client_id: String,
        /// The secret from the body.
        secret: Secret,
    },
    /// A signed JWT in `client_assertion` (`private_key_jwt`, RFC 7523 §2.2).
    Assertion {
        /// `client_id` from the body, else the assertion's (unverified) `iss`.
        client_id: String,
        /// The JWT.
        assertion: String,
    },
    /// Only `client_id`: a public client.
    None {
        /// The client_id from the body.
        client_id: String,
    },
}

impl ClientAuthentication {
    /// Reads the credentials from the `Authorization` header value (if any) and the form.
    pub fn from_request(
        authorization: Option<&str>,
        form: &FormParams,
    ) -> Result<Self, TokenError> {
        let body_id = form.get("client_id").map_err(repeated)?;
        let body_secret = form.get("client_secret").map_err(repeated)?;
        let assertion_type = form.get("client_assertion_type").map_err(repeated)?;
        let assertion = form.get("client_assertion").map_err(repeated)?;
        if assertion_type.is_some() || assertion.is_some() {
            if authorization.is_some() || body_secret.is_some() {
                return Err(TokenError::invalid_request(
                    "the client sent a client_assertion and a secret; use one authentication method",
                ));
            }
            if assertion_type != Some(portcullis_core::client_assertion::JWT_BEARER) {
                return Err(TokenError::invalid_request(format!(
                    "client_assertion_type must be {}",
                    portcullis_core::client_assertion::JWT_BEARER
                )));
            }
            let Some(assertion) = assertion else {
                return Err(TokenError::invalid_request(
                    "client_assertion_type was sent without client_assertion",
                ));
            };
            let client_id = match body_id {
                Some(id) => id.to_owned(),
                // An assertion that names no client reads as any other failure before its
                // signature is checked.
                None => super::client_assertion::claimed_client_id(assertion)
                    .ok_or_else(|| TokenError::client_authentication_failed(false))?,
            };
            return Ok(ClientAuthentication::Assertion {
                client_id,
                assertion: assertion.to_owned(),
            });
        }
        if let Some(header) = authorization {
            let (client_id, secret) = decode_basic(header).map_err(|e| {
                TokenError::client(
                    match e {
                        BasicError::NotBasic => {
                            "the Authorization header must use the Basic scheme"
                        }
                        BasicError::Malformed => "the Basic credentials are malformed",
                    },
                    true,
                )
            })?;
            if body_secret.is_some() {
                return Err(TokenError::invalid_request(
                    "the client authenticated with both client_secret_basic and client_secret_post; use one",
                ));
            }
            if body_id.is_some_and(|id| id != client_id) {
                return Err(TokenError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            return Ok(ClientAuthentication::Basic { client_id, secret });
        }
        match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(ClientAuthentication::Post {
                client_id: id.to_owned(),
                secret: Secret::new(secret),
            }),
            (Some(id), None) => Ok(ClientAuthentication::None {
                client_id: id.to_owned(),
            }),
            (None, Some(_)) => Err(TokenError::invalid_request(
                "client_secret was sent without client_id",
            )),
            (None, None) => Err(TokenError::new(
                ErrorCode::InvalidClient,
                "client authentication is required: send client_id and client_secret in the body, an Authorization: Basic header, or a client_assertion",
            )),
        }
    }

    /// The client_id presented (not yet authenticated).
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuthentication::Basic { client_id, .. }
            | ClientAuthentication::Post { client_id, .. }
            | ClientAuthentication::Assertion { client_id, .. }
            | ClientAuthentication::None { client_id } => client_id,
        }
    }

    /// The method this request used.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        match self {
            ClientAuthentication::Basic { .. } => TokenEndpointAuthMethod::ClientSecretBasic,
            ClientAuthentication::Post { .. } => TokenEndpointAuthMethod::ClientSecretPost,
            ClientAuthentication::Assertion { .. } => TokenEndpointAuthMethod::PrivateKeyJwt,
            ClientAuthentication::None { .. } => TokenEndpointAuthMethod::None,
        }
    }

    /// Checks a secret (or its absence) against the registered client; an assertion is checked
    /// by `client_assertion::verify` instead.
    pub fn authenticate(
        &self,
        snapshot: &Snapshot,
        hasher: &SecretHasher,
    ) -> Result<Arc<Client>, TokenError> {
        let basic_used = matches!(self, ClientAuthentication::Basic { .. });
        let fail = || TokenError::client_authentication_failed(basic_used);
        let (client_id, secret) = match self {
            ClientAuthentication::Basic { client_id, secret }
            | ClientAuthentication::Post { client_id, secret } => (client_id, Some(secret)),
            ClientAuthentication::None { client_id } => (client_id, None),
            // Checked by `client_assertion::verify`, which needs the store.
            ClientAuthentication::Assertion { .. } => return Err(fail()),
        };
        let client = snapshot.client(client_id);
        let Some(secret) = secret else {
            // A public client proves nothing here; confidential ones must send their secret.
            return match client {
                Some(c) if c.metadata.is_public() => Ok(c.clone()),
                _ => Err(fail()),
            };
        };
        // Always hash, even for an unknown client, so timing does not tell them apart.
        let verified = hasher.verify(secret, client.and_then(|c| c.secret_hash.as_deref()));
        let client = match client {
            Some(c) if verified => c,
            _ => return Err(fail()),
        };
        match client.metadata.token_endpoint_auth_method {
            None => Ok(client.clone()),
            Some(registered) if registered == self.method() => Ok(client.clone()),
            // Only someone holding the secret gets here, so naming the method leaks nothing.
            Some(registered) => Err(TokenError::client(
                format!("this client is registered for {}", registered.as_str()),
                basic_used,
            )),
        }
    }
}

fn repeated(e: portcullis_core::FormError) -> TokenError {
    TokenError::invalid_request(e.to_string())
}
