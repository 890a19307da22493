//! JSON log lines, in the shape of tracing-subscriber's JSON format (`timestamp`, `level`,
//! `fields`, `target`, `span`), written straight into one string.
//!
//! Why not that format itself: it keeps a span's fields as a JSON object in text, and for every
//! line it parses that text back into a value and serializes it again; with the escaping and the
//! `fmt` machinery around it, formatting took a few per cent of a worker's time at `info` under
//! bench/compare.sh, where every token writes an audit line inside the request's span. Here a
//! span's fields are kept as a fragment (`"request_id":"…","method":"POST"`) and copied into each
//! line as they are.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats each event as one JSON line.
pub struct JsonLines;

/// Keeps a span's fields as JSON members without braces, ready to copy into a line.
pub struct JsonMembers;

impl<S> FormatEvent<S, JsonMembers> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::with_capacity(512);
        line.push_str("{\"timestamp\":\"");
        tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut line))?;
        line.push_str("\",\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push_str("\",\"fields\":{");
        event.record(&mut Members::new(&mut line));
        line.push_str("},\"target\":");
        push_json_str(&mut line, event.metadata().target());
        if let Some(span) = ctx.lookup_current() {
            line.push_str(",\"span\":{");
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonMembers>>()
                && !fields.fields.is_empty()
            {
                line.push_str(&fields.fields);
                line.push(',');
            }
            line.push_str("\"name\":");
            push_json_str(&mut line, span.name());
            line.push('}');
        }
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

impl<'writer> FormatFields<'writer> for JsonMembers {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = String::new();
        fields.record(&mut Members::new(&mut members));
        writer.write_str(&members)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut members = String::new();
        fields.record(&mut Members::new(&mut members));
        if !members.is_empty() {
            if !current.fields.is_empty() {
                current.fields.push(',');
            }
            current.fields.push_str(&members);
        }
        Ok(())
    }
}

/// Writes fields as `"name":value` members, comma-separated.
struct Members<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Members<'a> {
    fn new(out: &'a mut String) -> Self {
        let first = out.is_empty() || out.ends_with('{');
        Members { out, first }
    }

    fn name(&mut self, field: &Field) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, field.name());
        self.out.push(':');
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        push_json_str(self.out, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.name(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.name(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.name(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.name(field);
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            push_json_str(self.out, &value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.name(field);
        push_json_str(self.out, &format!("{value:?}"));
    }
}

/// Appends `value` as a JSON string (RFC 8259 §7).
fn push_json_str(out: &mut String, value: &str) {
    out.push('"');
    let mut rest = value;
    while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().unwrap_or(' ');
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => {
                let _ = write!(out, "\\u{:04x}", u32::from(other));
            }
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_writer::tests::Sink;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn lines_have_the_shape_of_tracing_subscribers_json() {
        let lines = Sink::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .fmt_fields(JsonMembers)
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = %"r-1", method = "POST");
            let _entered = span.enter();
            tracing::info!(target: "portcullis::audit", event = "token_issued", n = 3, ok = true,
                ip = ?"1.2.3.4", "issued \"tokens\"");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], "portcullis::audit");
        assert_eq!(line["fields"]["message"], "issued \"tokens\"");
        assert_eq!(line["fields"]["event"], "token_issued");
        assert_eq!(line["fields"]["n"], 3);
        assert_eq!(line["fields"]["ok"], true);
        assert_eq!(line["fields"]["ip"], "\"1.2.3.4\"");
        assert_eq!(line["span"]["request_id"], "r-1");
        assert_eq!(line["span"]["method"], "POST");
        assert_eq!(line["span"]["name"], "request");
        let stamp = line["timestamp"].as_str().unwrap();
        assert!(stamp.len() >= 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T');
    }
}
