//! Client identity and metadata values from RFC 6749 §2 and RFC 7591 §2.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A client identifier (RFC 6749 §2.2): 1 to 255 characters of printable ASCII, no spaces, so that it
/// survives Basic authentication, form encoding and log lines unchanged.
///
/// ```
/// use portcullis_core::ClientId;
/// assert!(ClientId::parse("billing-service").is_ok());
/// assert!(ClientId::parse("has space").is_err());
/// assert!(ClientId::parse("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

/// A string that is not a valid client identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client_id must be 1 to 255 printable ASCII characters without spaces")]
pub struct InvalidClientId;

impl ClientId {
    /// Checks and wraps an identifier.
    pub fn parse(value: &str) -> Result<Self, InvalidClientId> {
        let ok = !value.is_empty()
            && value.len() <= 255
            && value.bytes().all(|b| (0x21..=0x7E).contains(&b));
        if ok {
            Ok(ClientId(value.to_owned()))
        } else {
            Err(InvalidClientId)
        }
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClientId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OpenID Connect Core §9); the
    /// server holds only the public keys (`jwks` or `jwks_uri`).
    PrivateKeyJwt,
    /// A public client: no secret at all.
    None,
}

impl TokenEndpointAuthMethod {
    /// The method as RFC 7591 names it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::None => "none",
        }
    }
}

/// What kind of application a client is (OpenID Connect Dynamic Client Registration §2,
/// `application_type`). It decides how redirect URIs are compared: a web app's exactly, a native
/// app's loopback URIs on any port (RFC 8252 §7.3), since the app gets whatever port is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    /// A web application: redirect URIs match character for character, port included.
    Web,
    /// An app on the user's device (desktop, mobile, CLI).
    Native,
}

impl ApplicationType {
    /// The name OpenID Connect Registration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }
    }
}
