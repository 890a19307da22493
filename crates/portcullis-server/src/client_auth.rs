//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, or `none` for public clients. An unknown client_id and a wrong secret take
//! the same time and get the same answer.

use crate::client::Client;
use crate::client_secret::SecretHasher;
use crate::error::TokenError;
use crate::registry::Snapshot;
use portcullis_core::basic::{BasicError, decode_basic};
use portcullis_core::{ErrorCode, FormParams, Secret, TokenEndpointAuthMethod};
use std::sync::Arc;

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
                "client authentication is required: send client_id and client_secret in the body or an Authorization: Basic header",
            )),
        }
    }

    /// The client_id presented (not yet authenticated).
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuthentication::Basic { client_id, .. }
            | ClientAuthentication::Post { client_id, .. }
            | ClientAuthentication::None { client_id } => client_id,
        }
    }

    /// The method this request used.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        match self {
            ClientAuthentication::Basic { .. } => TokenEndpointAuthMethod::ClientSecretBasic,
            ClientAuthentication::Post { .. } => TokenEndpointAuthMethod::ClientSecretPost,
            ClientAuthentication::None { .. } => TokenEndpointAuthMethod::None,
        }
    }

    /// Checks the credentials against the registered client.
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
