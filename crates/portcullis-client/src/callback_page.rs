//! The page the browser shows at the end of a command-line sign-in: styled like the server's
//! sign-in pages, and saying how the sign-in ended. It is written once the code has been
//! exchanged, so "signed in" is true when the page says it.

use crate::error::ClientError;
use tokio::io::AsyncWriteExt;

// The server's sign-in page style (crates/portcullis-server/assets/portcullis.css), cut down to
// what this page uses, inline: the page is served from the loopback listener, not the server.
const STYLE: &str = "
:root{--bg:#f4f5fb;--card:#fff;--text:#1c1f2e;--muted:#5f6478;--border:#dfe2ee;--accent:#3b3fb6;
--ok:#1e7a4a;--danger-bg:#fdecec;--danger-text:#9b1c1c;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#12131a;--card:#1c1e29;--text:#eceef6;
--muted:#a3a8bd;--border:#2f3242;--accent:#7f84ff;--ok:#7fd8a6;--danger-bg:#3a1d22;
--danger-text:#ffb4b4}}
*{box-sizing:border-box}html,body{margin:0;padding:0}
body{min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;
gap:1.25rem;padding:2rem 1rem;background:var(--bg);color:var(--text);
font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}
.card{width:100%;max-width:26rem;background:var(--card);border:1px solid var(--border);
border-radius:14px;padding:2rem 2rem 1.75rem;
box-shadow:0 10px 30px rgba(20,24,60,.08),0 2px 6px rgba(20,24,60,.05)}
.wordmark{display:inline-flex;align-items:center;gap:.5rem;font-weight:700;letter-spacing:.02em;
color:var(--accent);margin-bottom:1.5rem}
.wordmark::before{content:\"\";width:1.1rem;height:1.1rem;border-radius:4px 4px 2px 2px;
background:repeating-linear-gradient(90deg,var(--accent) 0 3px,transparent 3px 6px);
border:2px solid var(--accent)}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 1rem}p{margin:0 0 1rem}.ok{color:var(--ok)}
.alert{background:var(--danger-bg);color:var(--danger-text);border-radius:8px;padding:.7rem .9rem;
overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.925rem}footer{color:var(--muted);font-size:.85rem}
";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// The HTML of the page: success, or the error in words.
pub fn html(error: Option<&ClientError>) -> String {
    let (title, body) = match error {
        None => (
            "Signed in",
            "<h1 class=\"ok\">Signed in</h1>\
             <p>You can close this window and return to the terminal.</p>"
                .to_owned(),
        ),
        Some(e) => (
            "Sign-in failed",
            format!(
                "<h1>Sign-in failed</h1><p class=\"alert\">{}</p>\
                 <p class=\"muted\">Close this window; the terminal says the same.</p>",
                escape(&e.to_string())
            ),
        ),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>{STYLE}</style></head><body><main class=\"card\">\
         <div class=\"wordmark\">Portcullis</div>{body}</main>\
         <footer>Command-line sign-in</footer></body></html>"
    )
}

/// Writes the page to the browser's open connection.
pub async fn answer(mut socket: tokio::net::TcpStream, error: Option<&ClientError>) {
    let page = html(error);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
         content-security-policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         cache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_says_how_it_ended_and_escapes_the_error() {
        assert!(html(None).contains("Signed in"));
        let failed = html(Some(&ClientError::IdToken("<script>".into())));
        assert!(failed.contains("Sign-in failed") && failed.contains("&lt;script&gt;"));
        assert!(!failed.contains("<script>"));
    }
}
