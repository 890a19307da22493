//! The authorization response (RFC 6749 §4.1.2): the parameters that go back to the client's
//! redirect URI, and how they travel there (`response_mode`).

/// How the authorization response reaches the client's redirect URI (OAuth 2.0 Multiple Response
/// Type Encoding Practices §2.1, OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the query of a redirect (the default for `response_type=code`).
    #[default]
    Query,
    /// In a form the browser POSTs to the redirect URI, so the code is in no URL, history or
    /// `Referer`.
    FormPost,
}

/// The answer that goes back to the client: the parameters, where, and how. `Debug` leaves out
/// the values, which carry the code.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// The checked redirect URI.
    pub redirect_uri: String,
    /// How the parameters travel.
    pub response_mode: ResponseMode,
    /// `code` or `error` and the rest, in order.
    pub params: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for AuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(n, _)| *n).collect();
        f.debug_struct("AuthorizationResponse")
            .field("redirect_uri", &self.redirect_uri)
            .field("response_mode", &self.response_mode)
            .field("params", &names)
            .finish()
    }
}

impl AuthorizationResponse {
    /// The redirect URI with the parameters in its query, for `response_mode=query`.
    pub fn location(&self) -> String {
        let params: Vec<(&str, &str)> = self.params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        redirect_with(&self.redirect_uri, &params)
    }
}

/// Builds the redirect back to the client with `params` added to the URI's query.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let query = query.finish();
    if query.is_empty() {
        return redirect_uri.to_owned();
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{query}")
}
