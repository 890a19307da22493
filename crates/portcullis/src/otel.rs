//! OpenTelemetry traces over OTLP/HTTP with JSON bodies (feature `otel`, setting
//! `otel_endpoint`): the request spans and their `db` and `sign` children
//! (`portcullis_server::spans`) go to `ENDPOINT/v1/traces` in batches, from a thread of the SDK's
//! own, so a slow collector does not slow requests. What is queued is sent when the server stops.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Sends what is queued, then stops the exporter, when dropped.
pub struct Guard(SdkTracerProvider);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(error) = self.0.shutdown() {
            eprintln!("warning: traces not all sent: {error}");
        }
    }
}

/// The `tracing` layer that turns spans into OpenTelemetry spans, and its guard.
pub fn layer<S>(
    endpoint: &str,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    Guard,
)>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .map_err(|e| anyhow::anyhow!("otel_endpoint {endpoint}: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("portcullis").build())
        .build();
    let tracer = provider.tracer("portcullis");
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Guard(provider),
    ))
}
