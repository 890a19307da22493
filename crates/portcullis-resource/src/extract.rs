//! [`Claims`]: a validated token's claims as the API's own type.

use crate::claims::AccessToken;
use crate::error::ValidationError;
use crate::layer::{BearerRejection, realm_of};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The claims of the token a [`crate::BearerLayer`] validated, deserialized into `T`. A token
/// whose claims do not fit `T` is refused like any invalid token (401 `invalid_token`).
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use portcullis_resource::{BearerLayer, Claims, Validator};
///
/// #[derive(serde::Deserialize)]
/// struct Entra {
///     oid: String,
///     tid: String,
/// }
///
/// let validator = Validator::builder("https://id.example.com", "https://api.example.com").build();
/// let app: Router = Router::new()
///     .route("/me", get(|Claims(c): Claims<Entra>| async move { format!("{} in {}", c.oid, c.tid) }))
///     .layer(BearerLayer::new(validator, "api"));
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let refuse = |error| BearerRejection {
            error,
            realm: realm_of(&parts.extensions),
            dpop_scheme: crate::layer::used_dpop(&parts.headers),
        };
        let token = parts
            .extensions
            .get::<AccessToken>()
            .ok_or_else(|| refuse(ValidationError::Missing))?;
        serde_json::from_value(serde_json::Value::Object(token.claims.clone()))
            .map(Claims)
            .map_err(|_| {
                refuse(ValidationError::Invalid(
                    "its claims are not what this API expects",
                ))
            })
    }
}
