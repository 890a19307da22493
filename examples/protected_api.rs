//! The seed's `https://api.example.com/data`, as a tiny axum API behind Portcullis bearer tokens.
//!
//! ```text
//! ISSUER=http://127.0.0.1:8080 AUDIENCE=https://api.example.com LISTEN=127.0.0.1:3000 \
//!     cargo run -p portcullis-resource --example protected_api
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/data
//! ```
//!
//! `GET /data` needs a token for the audience with the `read` scope; `GET /whoami` any valid token.
#![allow(missing_docs)]

use axum::Router;
use axum::routing::get;
use portcullis_resource::{AccessToken, BearerLayer, Validator, require_scope};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The validator says why it cannot check tokens (an unreachable issuer, metadata naming another
    // issuer) at `warn`; callers only get 503.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let issuer = std::env::var("ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| "https://api.example.com".into());
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let validator = Validator::builder(&issuer, &audience).build();

    let app = Router::new()
        .route(
            "/data",
            get(|token: AccessToken| async move {
                axum::Json(json!({ "data": [1, 2, 3], "for": token.subject }))
            })
            .layer(require_scope("read")),
        )
        .route(
            "/whoami",
            get(|token: AccessToken| async move {
                axum::Json(json!({ "sub": token.subject, "client_id": token.client_id, "scope": token.scope.to_string() }))
            }),
        )
        .layer(BearerLayer::new(validator, "example-api"));

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("protected API on http://{listen} (issuer {issuer}, audience {audience})");
    axum::serve(listener, app).await?;
    Ok(())
}
