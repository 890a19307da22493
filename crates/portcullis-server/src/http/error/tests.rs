//! The table tests of every mapping: each error kind with its status, code and headers.

use super::*;
use portcullis_core::ErrorCode;

/// An error, its status, its code, and the one extra header it must carry.
type Row = (
    TokenError,
    u16,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// Every kind of error, with the status, code and extra header it must go out with.
#[test]
fn every_token_error_has_its_status_code_and_headers() {
    let table: [Row; 8] = [
        (
            TokenError::invalid_request("x"),
            400,
            "invalid_request",
            None,
        ),
        (
            TokenError::new(ErrorCode::InvalidGrant, "x"),
            400,
            "invalid_grant",
            None,
        ),
        (TokenError::client("x", false), 401, "invalid_client", None),
        (
            TokenError::client_authentication_failed(true),
            401,
            "invalid_client",
            Some((
                "www-authenticate",
                "Basic realm=\"portcullis\", charset=\"UTF-8\"",
            )),
        ),
        (
            TokenError::TooLarge {
                description: "x".into(),
            },
            413,
            "invalid_request",
            None,
        ),
        (
            TokenError::throttled(7),
            429,
            "temporarily_unavailable",
            Some(("retry-after", "7")),
        ),
        (
            TokenError::new(ErrorCode::TemporarilyUnavailable, "x"),
            503,
            "temporarily_unavailable",
            None,
        ),
        (
            TokenError::server("driver said no"),
            500,
            "server_error",
            None,
        ),
    ];
    for (error, expected_status, expected_code, header) in table {
        let shown = format!("{error:?}");
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), expected_status, "{shown}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{shown}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{shown}"
        );
        if let Some((name, value)) = header {
            assert_eq!(response.headers()[name], value, "{shown}");
        } else {
            assert!(response.headers().get("retry-after").is_none(), "{shown}");
            assert!(
                response.headers().get("www-authenticate").is_none(),
                "{shown}"
            );
        }
        let body = body_bytes(response);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], expected_code, "{shown}");
        assert!(
            !json["error_description"]
                .as_str()
                .unwrap()
                .contains("driver said no"),
            "a cause reached the wire: {json}"
        );
    }
}

#[test]
fn every_bearer_error_has_its_status_and_challenge() {
    let table = [
        (
            BearerError::Missing("x".into()),
            401,
            "Bearer realm=\"portcullis\"",
        ),
        (
            BearerError::InvalidRequest("x".into()),
            400,
            "Bearer realm=\"portcullis\", error=\"invalid_request\", error_description=\"x\"",
        ),
        (
            BearerError::InvalidToken("x".into()),
            401,
            "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"x\"",
        ),
        (
            BearerError::InsufficientScope("x".into()),
            403,
            "Bearer realm=\"portcullis\", error=\"insufficient_scope\", error_description=\"x\"",
        ),
        (
            BearerError::Unavailable,
            503,
            "Bearer realm=\"portcullis\", error=\"temporarily_unavailable\", error_description=\"try again\"",
        ),
    ];
    for (error, expected_status, challenge) in table {
        let shown = format!("{error:?}");
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), expected_status, "{shown}");
        assert_eq!(response.headers()["www-authenticate"], challenge, "{shown}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{shown}");
    }
}

/// Every page error, every authorization error and every logout refusal, with its status and,
/// for a redirect, where it goes.
#[test]
fn every_page_error_has_its_status() {
    let pages = Pages::new().unwrap();
    let refused = || PageError::Refused {
        code: Some(ErrorCode::InvalidRequest),
        title: "t".into(),
        message: "m".into(),
    };
    let table = [
        (PageError::TooLarge, 413),
        (PageError::Unreadable("x".into()), 400),
        (PageError::FormExpired("x"), 403),
        (refused(), 400),
        (PageError::Internal, 500),
        (LogoutError::TwoClients.into(), 400),
        (LogoutError::UnregisteredRedirect.into(), 400),
        (LogoutError::FormExpired.into(), 403),
        (LogoutError::Internal.into(), 500),
    ];
    for (error, expected) in table {
        let shown = format!("{error:?}");
        let response = page_error(&pages, error);
        assert_eq!(response.status().as_u16(), expected, "{shown}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{shown}"
        );
    }
    let login = [
        (
            LoginProblem::Locked { retry_after: 61 },
            429,
            "Try again in 2 minutes.",
        ),
        (
            LoginProblem::WrongCredentials,
            401,
            "Wrong username or password.",
        ),
        (LoginProblem::Disabled, 403, "This account is disabled."),
    ];
    for (problem, status, words) in login {
        assert_eq!(login_status(&problem).as_u16(), status, "{problem:?}");
        assert!(login_words(&problem).ends_with(words), "{problem:?}");
    }
    let form = FormParams::default();
    let page = AuthorizeError::Page {
        code: ErrorCode::InvalidRequest,
        title: "t".into(),
        message: "m".into(),
    };
    let redirect = AuthorizeError::Redirect {
        redirect_uri: "https://app.test/cb?x=1".into(),
        state: Some("s".into()),
        code: ErrorCode::AccessDenied,
        description: "no".into(),
        response_mode: crate::oauth::authorization_request::ResponseMode::Query,
    };
    let issuer = "https://issuer.test";
    let shown = authorize_error(&pages, issuer, page, &form);
    assert_eq!(shown.status().as_u16(), 400);
    let internal = authorize_error(&pages, issuer, AuthorizeError::Internal, &form);
    assert_eq!(internal.status().as_u16(), 500);
    let back = authorize_error(&pages, issuer, redirect, &form);
    assert_eq!(back.status().as_u16(), 303);
    assert_eq!(
        back.headers()["location"],
        "https://app.test/cb?x=1&error=access_denied&error_description=no&state=s\
         &iss=https%3A%2F%2Fissuer.test"
    );
    assert_eq!(back.headers()["cache-control"], "no-store");
}

fn body_bytes(response: Response) -> Vec<u8> {
    use http_body_util::BodyExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(response.into_body().collect())
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[test]
fn every_code_problem_and_registration_error_has_its_status() {
    use crate::oauth::device::CodeProblem;
    assert_eq!(code_status(&CodeProblem::Unknown).as_u16(), 400);
    let locked = CodeProblem::Locked { retry_after: 61 };
    assert_eq!(code_status(&locked).as_u16(), 429);
    assert!(code_words(&locked).ends_with("Try again in 2 minutes."));
    let rows: [(RegistrationError, u16, &str, Option<&str>); 7] = [
        (
            RegistrationError::TooLarge { limit: 10 },
            413,
            "invalid_client_metadata",
            None,
        ),
        (
            RegistrationError::InvalidRedirectUri("x".into()),
            400,
            "invalid_redirect_uri",
            None,
        ),
        (
            RegistrationError::InvalidClientMetadata("x".into()),
            400,
            "invalid_client_metadata",
            None,
        ),
        (
            RegistrationError::UnapprovedSoftwareStatement,
            400,
            "unapproved_software_statement",
            None,
        ),
        (
            RegistrationError::InvalidToken("x"),
            401,
            "invalid_token",
            Some("www-authenticate"),
        ),
        (
            RegistrationError::Throttled { retry_after: 5 },
            429,
            "temporarily_unavailable",
            Some("retry-after"),
        ),
        (
            RegistrationError::Internal("db down".into()),
            500,
            "server_error",
            None,
        ),
    ];
    for (error, status, code, header) in rows {
        assert_eq!(registration_status(&error).as_u16(), status, "{error:?}");
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["cache-control"], "no-store");
        if let Some(name) = header {
            assert!(response.headers().get(name).is_some(), "{code}: {name}");
        }
        let body: serde_json::Value = serde_json::from_slice(&body_bytes(response)).unwrap();
        assert_eq!(body["error"], code);
        assert!(
            !body.to_string().contains("db down"),
            "causes stay in the log"
        );
    }
}
