//! The seed snippet in a dozen lines: a token from `.env` (CLIENT_ID, CLIENT_SECRET, TOKEN_URL),
//! then the API called with it, then its JSON printed.
//!
//! ```text
//! API_URL=http://127.0.0.1:3000/data cargo run -p portcullis-client --example client_credentials
//! ```
#![allow(missing_docs)]

use portcullis_client::{ClientCredentials, TokenSource, send_with_token};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = TokenSource::new(ClientCredentials::from_env()?);
    let api = std::env::var("API_URL").unwrap_or_else(|_| "https://api.example.com/data".into());
    let http = reqwest::Client::new();
    let response = send_with_token(&http, &source, http.get(&api).build()?).await?;
    let data: serde_json::Value = response.error_for_status()?.json().await?;
    println!("{}", serde_json::to_string_pretty(&data)?);
    Ok(())
}
