//! What operators run beside the server: the separate metrics listener, and the dashboard and
//! alert rules in `ops/`, whose every metric must exist in `/metrics` after real traffic.

use crate::helpers::{ServerProcess, create_client, portcullis};
use std::collections::BTreeSet;

const DASHBOARD: &str = include_str!("../../../../ops/grafana-dashboard.json");
const ALERTS: &str = include_str!("../../../../ops/alerts.yml");

/// Every `portcullis_…` name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("portcullis_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The dashboard's queries: Grafana's dashboard JSON model, with `schemaVersion` and panels that
/// each have a title, a datasource and at least one target with an `expr`.
fn dashboard_queries() -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(!panels.is_empty());
    let mut queries = Vec::new();
    for panel in panels {
        assert!(
            panel["title"].is_string() && panel["type"].is_string(),
            "{panel}"
        );
        assert!(panel["gridPos"]["w"].is_u64(), "{panel}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            queries.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    queries
}

/// The rules' expressions. The file is Prometheus's rule format (`groups:` of `rules:`, each with
/// `alert`, `expr`, `labels.severity` and `annotations.summary`); it keeps every `expr` on one
/// line, which this reads without a YAML library.
fn alert_expressions() -> Vec<String> {
    assert!(ALERTS.lines().any(|l| l.trim_end() == "groups:"));
    let rules: Vec<&str> = ALERTS.split("      - alert: ").skip(1).collect();
    assert!(!rules.is_empty());
    rules
        .iter()
        .map(|rule| {
            for key in ["expr: ", "severity: ", "summary: "] {
                assert!(rule.contains(key), "rule without {key}: {rule}");
            }
            let line = rule.lines().find(|l| l.trim_start().starts_with("expr: "));
            line.unwrap().trim_start()["expr: ".len()..].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn metrics_on_their_own_listener_cover_the_dashboard_and_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = portcullis(dir.path());
    command.env("PORTCULLIS_METRICS_LISTEN", "127.0.0.1:0");
    let server = ServerProcess::start(command, dir.path());
    let first = &server.stdout_first_lines[0];
    let metrics_base = first
        .split("/metrics on ")
        .nth(1)
        .unwrap_or_else(|| panic!("no metrics address in {first}"))
        .trim()
        .to_owned();
    let http = reqwest::Client::new();

    // Traffic: a token, a failed client authentication, a missing page.
    let (id, secret) = create_client(dir.path(), &["--scope", "read"]);
    server.wait_for_token_status(&id, &secret, 200).await;
    server.wait_for_token_status(&id, "wrong", 401).await;
    let missing = http.get(format!("{}/nothing", server.base)).send().await;
    assert_eq!(missing.unwrap().status(), 404);

    // The public listener no longer serves /metrics; the metrics one serves it and the health
    // endpoints, and nothing else.
    let public = http.get(format!("{}/metrics", server.base)).send().await;
    assert_eq!(public.unwrap().status(), 404);
    for path in ["/health/live", "/health/ready"] {
        let r = http
            .get(format!("{metrics_base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let other = http.get(format!("{metrics_base}/token")).send().await;
    assert_eq!(other.unwrap().status(), 404);
    let exposition = http
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported: BTreeSet<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    assert!(exposition.contains("portcullis_ready 1"), "{exposition}");
    assert!(
        !exposition.contains("endpoint=\"/metrics\",status=\"200\"")
            && !exposition.contains("endpoint=\"/health"),
        "scrapes and probes on the metrics listener are not counted: {exposition}"
    );
    assert!(
        exposition.contains("portcullis_signing_key_age_seconds{alg=\"ES256\"}"),
        "{exposition}"
    );

    let mut named = BTreeSet::new();
    for expr in dashboard_queries().iter().chain(&alert_expressions()) {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no Portcullis metric in {expr}");
        named.extend(names);
    }
    for name in &named {
        assert!(
            exported.contains(name.as_str()),
            "{name} is in ops/ but not in /metrics:\n{exposition}"
        );
    }
    // The panels the issue asks for are there.
    for needed in [
        "portcullis_http_requests_total",
        "portcullis_tokens_issued_total",
        "portcullis_http_request_duration_seconds_bucket",
        "portcullis_client_authentication_failures_total",
        "portcullis_locked_keys",
        "portcullis_database_connections",
        "portcullis_signing_key_age_seconds",
        "portcullis_ready",
    ] {
        assert!(named.contains(needed), "ops/ does not use {needed}");
    }
}

/// Without `metrics_listen`, `/metrics` stays on the public listener, as before.
#[tokio::test]
async fn without_a_metrics_listener_metrics_stay_public() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    assert!(!server.stdout_first_lines[0].contains("/metrics on"));
    let r = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("portcullis_ready 1"));
}

/// `portcullis backup` while the server runs; `portcullis restore` refused until it stops, then
/// the server starts on the restored database and the client made before the backup works,
/// while the one made after it is gone.
#[tokio::test]
async fn backup_and_restore_from_the_command_line() {
    use crate::helpers::run;
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(portcullis(dir.path()), dir.path());
    let (before, before_secret) = create_client(dir.path(), &["--scope", "read"]);
    server
        .wait_for_token_status(&before, &before_secret, 200)
        .await;

    let (ok, out, err) = run(portcullis(dir.path()).args(["backup", "backup.db"]));
    assert!(ok && out.contains("backed up"), "{out}{err}");
    let (after, _) = create_client(dir.path(), &["--scope", "read"]);

    let (ok, _, err) = run(portcullis(dir.path()).args(["restore", "backup.db"]));
    assert!(!ok && err.contains("stop it first"), "{err}");

    assert!(server.terminate().success());
    let (ok, out, err) = run(portcullis(dir.path()).args(["restore", "backup.db"]));
    assert!(ok, "{err}");
    assert!(out.contains("before-restore"), "{out}");

    let server = ServerProcess::start(portcullis(dir.path()), dir.path());
    server
        .wait_for_token_status(&before, &before_secret, 200)
        .await;
    let (ok, _, _) = run(portcullis(dir.path()).args(["client", "show", &after]));
    assert!(!ok, "the client made after the backup is not in it");
}

/// A `portcullis` built without the `otel` feature refuses to start with `otel_endpoint` set,
/// rather than ignoring it.
#[cfg(not(feature = "otel"))]
#[test]
fn otel_endpoint_needs_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = crate::helpers::run(
        portcullis(dir.path())
            .env("PORTCULLIS_OTEL_ENDPOINT", "http://127.0.0.1:4318")
            .arg("serve"),
    );
    assert!(!ok && err.contains("--features otel"), "{err}");
}
