//! `portcullis login --device`: the device authorization grant (RFC 8628), for a shell with no
//! browser (over SSH, in a container). The URL and the code go to stderr, with a QR code of the
//! URL for a phone; then a spinner (on a terminal) or one line (elsewhere) shows the wait until the
//! sign-in is approved on the other device.

use portcullis_client::device::{self, DeviceAuthorization, Waiting};
use portcullis_client::{LoginSettings, StoredTokens};
use portcullis_core::{Clock, SystemClock, UnixTime};
use qrcode::render::unicode::Dense1x2;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The spinner's frames.
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// How often the spinner turns.
const TICK: Duration = Duration::from_millis(250);

/// Signs in on another device: asks the issuer for the codes, shows them, and waits until the
/// sign-in is approved there (or declined, or the code expires).
pub async fn sign_in(settings: &LoginSettings) -> anyhow::Result<StoredTokens> {
    let authorization = device::start(settings).await?;
    show(&authorization);
    // Only a person at a terminal sees a line rewritten in place; a log or a pipe gets lines.
    let animate = std::io::stderr().is_terminal();
    let clock = SystemClock;
    let polling = device::poll(settings, &authorization, &clock, |waiting| {
        if let Waiting::SlowedDown { interval, .. } = waiting
            && !animate
        {
            eprintln!(
                "The server asked for fewer polls: polling every {} s now.",
                interval.as_secs()
            );
        }
    });
    if !animate {
        eprintln!("Waiting for you to approve on the other device…");
        return Ok(polling.await?);
    }
    let deadline = clock.now().plus(authorization.expires_in);
    let mut polling = std::pin::pin!(polling);
    let mut ticks = tokio::time::interval(TICK);
    let mut spinner = Spinner::default();
    let result = loop {
        tokio::select! {
            result = &mut polling => break result,
            _ = ticks.tick() => spinner.draw(deadline),
        }
    };
    spinner.clear();
    Ok(result?)
}

/// Shows where to go and what to enter, then the QR code of the page (with the code in it, when
/// the server gives such a URL, so the user only confirms).
fn show(authorization: &DeviceAuthorization) {
    eprintln!(
        "Visit {} and enter the code {}",
        authorization.verification_uri, authorization.user_code
    );
    eprintln!();
    eprintln!("    {}", spaced(&authorization.user_code));
    eprintln!();
    let (url, what) = match &authorization.verification_uri_complete {
        Some(complete) => (complete, "opens the page with the code filled in"),
        None => (&authorization.verification_uri, "opens the page"),
    };
    if let Some(code) = qr(url) {
        eprintln!("Or scan this with your phone (it {what}):");
        eprintln!("{code}");
    }
}

/// The user code with a space between its characters, easier to read off a screen.
fn spaced(user_code: &str) -> String {
    let mut text = String::new();
    for (i, c) in user_code.chars().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push(c);
    }
    text
}

/// The QR code of `url` in half-block characters, with its quiet zone. The colours are swapped so
/// that it scans on a dark terminal: a dark module is a blank (the dark background), a light one
/// a block (the light foreground). `None` for a URL too long for a QR code.
fn qr(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// The line rewritten in place while waiting.
#[derive(Default)]
struct Spinner {
    frame: usize,
    /// The width of the line last drawn, to blank it out.
    width: usize,
}

impl Spinner {
    /// Draws the next frame, with the time left before the code expires.
    fn draw(&mut self, deadline: UnixTime) {
        let left = deadline.0.saturating_sub(SystemClock.now().0).max(0);
        let line = format!(
            "{} Waiting for you to approve on the other device… (expires in {}:{:02})",
            FRAMES[self.frame % FRAMES.len()],
            left / 60,
            left % 60
        );
        self.frame = self.frame.wrapping_add(1);
        // A shorter line than the last leaves no characters of it behind.
        let width = line.chars().count();
        let pad = self.width.saturating_sub(width);
        self.width = width;
        write_stderr(&format!("\r{line}{}", " ".repeat(pad)));
    }

    /// Blanks the line, so that what follows starts on a clean one.
    fn clear(&self) {
        if self.width > 0 {
            write_stderr(&format!("\r{}\r", " ".repeat(self.width)));
        }
    }
}

/// Writes without a newline; a terminal that went away is no reason to stop the sign-in.
fn write_stderr(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_spaced_and_the_qr_code_has_a_quiet_zone() {
        assert_eq!(spaced("BCDF-GHJK"), "B C D F - G H J K");
        let code = qr("https://id.example.com/device?user_code=BCDF-GHJK").unwrap();
        let lines: Vec<&str> = code.lines().collect();
        // The quiet zone is light, drawn as full blocks on a dark terminal.
        assert!(lines[0].chars().all(|c| c == '█'), "{code}");
        assert!(lines.len() > 10, "{code}");
    }
}
