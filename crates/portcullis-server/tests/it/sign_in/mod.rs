//! The sign-in flows: authorization endpoint, pages, codes, refresh tokens, OpenID Connect.

pub mod browser;
pub mod flow;
mod phone;

mod authorize_errors;
mod codes;
mod oidc;
mod pages;
mod prompt;
pub mod refresh;
mod users;
