//! A token endpoint that misbehaves on purpose: each request gets the next scripted answer (the
//! last one repeats), and every request is counted.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub retry_after: Option<&'static str>,
    pub delay: Duration,
    pub location: Option<&'static str>,
}

pub fn json(status: u16, body: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: body.to_owned(),
        retry_after: None,
        delay: Duration::ZERO,
        location: None,
    }
}

pub struct Fake {
    pub url: String,
    pub hits: Arc<AtomicUsize>,
}

impl Fake {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub async fn start(script: Vec<Answer>) -> Fake {
    let hits = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let counter = hits.clone();
    let app = Router::new().route(
        "/token",
        post(move || {
            let (script, counter) = (script.clone(), counter.clone());
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let answer = script[n.min(script.len() - 1)].clone();
                tokio::time::sleep(answer.delay).await;
                let mut response: Response =
                    (StatusCode::from_u16(answer.status).unwrap(), answer.body).into_response();
                let headers = response.headers_mut();
                headers.insert("content-type", answer.content_type.parse().unwrap());
                if let Some(r) = answer.retry_after {
                    headers.insert("retry-after", r.parse().unwrap());
                }
                if let Some(l) = answer.location {
                    headers.insert("location", l.parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake {
        url: format!("http://{addr}/token"),
        hits,
    }
}
