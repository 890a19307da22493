//! The grants the token endpoint runs once the client is authenticated. Each grant turns a
//! well-formed [`TokenRequest`] into a token response or a §5.2 error.

pub mod access_token;
pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod refresh_token;
pub mod token_exchange;
pub mod user_tokens;

use crate::client::Client;
use crate::oauth::Issuer;
use crate::oauth::error::TokenError;
use crate::registry::Snapshot;
use portcullis_core::{ErrorCode, FormParams, Secret, TokenRequest, TokenResponse};
use std::net::IpAddr;

/// The token endpoint once the client is authenticated (RFC 6749 §3.2): reads the grant from the
/// form, checks the `DPoP` header if there is one (RFC 9449 §5), runs the grant, counts and audits
/// what was issued. With a proof, the access token is bound to its key.
pub async fn token(
    issuer: &Issuer,
    client: &Client,
    snapshot: &Snapshot,
    form: &FormParams,
    ip: IpAddr,
    dpop: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let now = issuer.clock.now();
    let request = TokenRequest::from_form(form)?;
    let grant = request.grant_type();
    let proof = crate::oauth::dpop::check(issuer, dpop, "POST", "/token", None).await?;
    if proof.is_none() && client.metadata.dpop_bound_access_tokens {
        return Err(TokenError::new(
            ErrorCode::InvalidDpopProof,
            "this client's tokens must be bound to a key: send a DPoP proof (RFC 9449)",
        ));
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let response = match request {
        TokenRequest::ClientCredentials { scope, audiences } => client_credentials::issue(
            &issuer.tokens,
            &snapshot.keys,
            now,
            client,
            scope,
            audiences,
            jkt,
        )?,
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
            audiences,
        } => {
            authorization_code::exchange(
                issuer,
                snapshot,
                client,
                authorization_code::Presented {
                    code: code.expose(),
                    redirect_uri: redirect_uri.as_deref(),
                    code_verifier: code_verifier.as_ref().map(Secret::expose),
                    jkt,
                },
                &audiences,
            )
            .await?
        }
        TokenRequest::TokenExchange {
            subject_token,
            subject_token_type,
            actor,
            requested_token_type,
            scope,
            audiences,
        } => token_exchange::exchange(
            issuer,
            snapshot,
            client,
            token_exchange::Exchange {
                subject: (&subject_token, subject_token_type),
                actor: actor.as_ref().map(|(t, k)| (t, *k)),
                requested: requested_token_type,
                scope,
                audiences: &audiences,
                jkt,
            },
        )?,
        TokenRequest::DeviceCode {
            device_code,
            audiences,
        } => {
            device_code::poll(
                issuer,
                snapshot,
                client,
                device_code.expose(),
                &audiences,
                jkt,
            )
            .await?
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            audiences,
        } => {
            refresh_token::exchange(
                issuer,
                snapshot,
                client,
                refresh_token.expose(),
                scope,
                &audiences,
                jkt,
            )
            .await?
        }
    };
    issuer.metrics.token_issued(grant.as_str());
    tracing::info!(
        target: "portcullis::audit",
        event = "token_issued",
        client_id = client.id.as_str(),
        grant = grant.as_str(),
        %ip,
        dpop = jkt.is_some(),
        "issued tokens"
    );
    Ok(response)
}

/// `token_type` of a response: `DPoP` when the access token is bound to a key (RFC 9449 §5).
fn token_type(jkt: Option<&str>) -> String {
    if jkt.is_some() { "DPoP" } else { "Bearer" }.to_owned()
}

/// `invalid_grant`: the code or refresh token is not (or no longer) good.
fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(ErrorCode::InvalidGrant, description)
}

/// A storage failure on a grant path: our fault, never the request's.
pub(crate) fn store_error(e: crate::store::StoreError) -> TokenError {
    TokenError::server(format!("storage: {e}"))
}

/// `unauthorized_client` unless the client is registered for `grant` (RFC 6749 §5.2).
pub(crate) fn require_grant(
    client: &Client,
    grant: portcullis_core::GrantType,
) -> Result<(), TokenError> {
    if client.metadata.grant_types.contains(&grant) {
        Ok(())
    } else {
        Err(TokenError::new(
            ErrorCode::UnauthorizedClient,
            format!(
                "this client is not allowed to use the {} grant",
                grant.as_str()
            ),
        ))
    }
}

/// The audiences of an access token (RFC 8707): each requested one must be registered for the
/// client (`invalid_target` otherwise); none requested means every registered audience, or the
/// issuer when the client has none.
fn audiences_for(
    issuer: &str,
    client: &Client,
    requested: Vec<String>,
) -> Result<Vec<String>, TokenError> {
    let registered = &client.metadata.audience;
    if requested.is_empty() {
        return Ok(if registered.is_empty() {
            vec![issuer.to_owned()]
        } else {
            registered.clone()
        });
    }
    for aud in &requested {
        // With nothing registered the default audience is the issuer, so it may be asked for.
        let issuer_default = registered.is_empty() && aud == issuer;
        if !registered.contains(aud) && !issuer_default {
            return Err(TokenError::new(
                ErrorCode::InvalidTarget,
                format!("audience not allowed for this client: {aud}"),
            ));
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(requested.len());
    for aud in requested {
        if !out.contains(&aud) {
            out.push(aud);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
