//! JSON log lines, in the shape of tracing-subscriber's JSON format (`timestamp`, `level`,
//! `fields`, `target`, `span`), written straight into the line buffer. The `span` of a line
//! written while serving a request is that request (id, method, endpoint), which the server keeps
//! in a task-local rather than a tracing span (`portcullis_server::http::observe`).
//!
//! Why not that format itself: it keeps a span's fields as a JSON object in text, and for every
//! line it parses that text back into a value and serializes it again; with the escaping and the
//! `fmt` machinery around it, formatting took a few per cent of a worker's time at `info` under
//! bench/compare.sh, where every token writes an audit line inside the request's span. Here a
//! span's fields are kept as a fragment (`"request_id":"…","method":"POST"`) and copied into each
//! line as they are.

use std::cell::Cell;
use std::fmt::{self, Write};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
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
    /// Writes straight into `writer`, the line buffer tracing-subscriber keeps per thread: no
    /// string of our own per line.
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, wall_clock_micros())?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(event.metadata().level().as_str())?;
        writer.write_str("\",\"fields\":{")?;
        let mut members = Members::new(&mut writer);
        event.record(&mut members);
        members.result?;
        writer.write_str("},\"target\":")?;
        write_json_str(&mut writer, event.metadata().target())?;
        // The request being served (kept by the server's middleware, without a tracing span in
        // JSON mode), in the shape a `request` span had.
        let request = portcullis_server::http::observe::with_current_request(|request| {
            writer.write_str(",\"span\":{\"request_id\":")?;
            write_json_str(&mut writer, &request.id)?;
            writer.write_str(",\"method\":")?;
            write_json_str(&mut writer, request.method.as_str())?;
            writer.write_str(",\"endpoint\":")?;
            write_json_str(&mut writer, request.endpoint)?;
            writer.write_str(",\"name\":\"request\"}")
        });
        if let Some(written) = request {
            written?;
        } else if let Some(span) = ctx.lookup_current() {
            writer.write_str(",\"span\":{")?;
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonMembers>>()
                && !fields.fields.is_empty()
            {
                writer.write_str(&fields.fields)?;
                writer.write_char(',')?;
            }
            writer.write_str("\"name\":")?;
            write_json_str(&mut writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

impl<'writer> FormatFields<'writer> for JsonMembers {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members::new(&mut writer);
        fields.record(&mut members);
        members.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut members = Members::new(&mut current.fields);
        members.first = first;
        fields.record(&mut members);
        members.result
    }
}

/// Writes fields as `"name":value` members, comma-separated.
struct Members<'a, W: Write> {
    out: &'a mut W,
    first: bool,
    /// The first failure to write (the fields visitor cannot return one).
    result: fmt::Result,
}

impl<'a, W: Write> Members<'a, W> {
    fn new(out: &'a mut W) -> Self {
        Members {
            out,
            first: true,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let comma = if self.first { "" } else { "," };
        self.first = false;
        self.result = self
            .out
            .write_str(comma)
            .and_then(|()| write_json_str(self.out, field.name()))
            .and_then(|()| self.out.write_char(':'))
            .and_then(|()| value(self.out));
    }
}

impl<W: Write> Visit for Members<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_json_str(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                write!(out, "{value}")
            } else {
                write!(out, "\"{value}\"")
            }
        });
    }

    /// Also every `%value` (Display) field: formatted straight into the line, escaped on the way.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaping(out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

/// Appends `value` as a JSON string (RFC 8259 §7).
fn write_json_str(out: &mut impl Write, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaping(out).write_str(value)?;
    out.write_char('"')
}

/// Escapes what is written through it for the inside of a JSON string.
struct Escaping<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Every character to escape is ASCII, so a byte scan finds them and cuts on char
        // boundaries.
        let mut rest = text;
        while let Some(at) = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < b' ')
        {
            self.0.write_str(&rest[..at])?;
            match rest.as_bytes()[at] {
                b'"' => self.0.write_str("\\\"")?,
                b'\\' => self.0.write_str("\\\\")?,
                b'\n' => self.0.write_str("\\n")?,
                b'\r' => self.0.write_str("\\r")?,
                b'\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{other:04x}")?,
            }
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

/// Microseconds since the Unix epoch, from the system's wall clock.
///
/// A log line's timestamp says when it was written, so it reads the real clock; the injected
/// clock (portcullis_core::Clock) is for the protocol's expiry decisions, which tests move.
#[allow(clippy::disallowed_methods)]
fn wall_clock_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

thread_local! {
    /// The last second this thread wrote a timestamp for, and its `YYYY-MM-DDTHH:MM:SS` text:
    /// lines within one second share the date arithmetic.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Writes `micros` as RFC 3339 in UTC with six decimals (`2026-12-03T17:02:23.123456Z`), as
/// tracing-subscriber's `SystemTime` timer does.
fn write_timestamp(out: &mut impl Write, micros: u64) -> fmt::Result {
    let seconds = micros / 1_000_000;
    let (cached, mut text) = SECOND.get();
    if cached != seconds {
        text = civil_seconds(seconds);
        SECOND.set((seconds, text));
    }
    out.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    write!(out, ".{:06}Z", micros % 1_000_000)
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the epoch, in the proleptic Gregorian calendar
/// (the days-to-date step is Howard Hinnant's `civil_from_days`).
fn civil_seconds(seconds: u64) -> [u8; 19] {
    let days = seconds / 86_400;
    let in_day = seconds % 86_400;
    // Days from 0000-03-01, so that a leap day ends the (March-based) year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    let mut text = [0u8; 19];
    let mut put = |at: usize, value: u64, width: usize| {
        for i in 0..width {
            let digit = (value / 10u64.pow(u32::try_from(width - 1 - i).unwrap_or(0))) % 10;
            text[at + i] = b'0' + u8::try_from(digit).unwrap_or(0);
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, in_day / 3_600, 2);
    put(14, in_day / 60 % 60, 2);
    put(17, in_day % 60, 2);
    for (at, separator) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        text[at] = separator;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_writer::tests::Sink;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut out = String::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn timestamps_match_tracing_subscribers_timer() {
        use tracing_subscriber::fmt::time::FormatTime;
        // Days around leap days, month and year ends, and the far future.
        for seconds in [
            0u64,
            951_782_399,
            951_782_400,
            951_868_800,
            1_709_164_800,
            1_735_689_599,
            1_798_761_600,
            4_107_542_399,
            253_402_300_799,
        ] {
            let mut ours = String::new();
            write_timestamp(&mut ours, seconds * 1_000_000 + 42).unwrap();
            let expected = civil_by_counting(seconds);
            assert_eq!(ours, format!("{expected}.000042Z"), "{seconds}");
        }
        // And now, against the timer itself (to the second).
        let mut theirs = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut Writer::new(&mut theirs))
            .unwrap();
        let mut ours = String::new();
        write_timestamp(&mut ours, wall_clock_micros()).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
        assert_eq!(ours[..16], theirs[..16], "{ours} {theirs}");
    }

    /// The date of `seconds` by counting days, the slow and obvious way.
    fn civil_by_counting(seconds: u64) -> String {
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let mut days = seconds / 86_400;
        let mut year = 1970;
        while days >= if leap(year) { 366 } else { 365 } {
            days -= if leap(year) { 366 } else { 365 };
            year += 1;
        }
        let lengths = [
            31,
            if leap(year) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut month = 0;
        while days >= lengths[month] {
            days -= lengths[month];
            month += 1;
        }
        let t = seconds % 86_400;
        format!(
            "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            month + 1,
            days + 1,
            t / 3_600,
            t / 60 % 60,
            t % 60
        )
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
