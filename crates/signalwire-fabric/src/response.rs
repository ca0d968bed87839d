//! Turning what the generated client returns into this crate's [`Error`].
//!
//! progenitor reports failures in shapes that lose information (an undocumented status
//! comes back with its body unread; a body that fails to decode loses its status). This
//! module puts the status back (from the [`CallContext`] record), reads at most a snippet of
//! any body, scrubs anything token-shaped from it, and picks the variant a caller acts on.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use signalwire_fabric_api::{CallContext, body_limit_exceeded, types};

use crate::error::{Delivery, Error, ErrorCode, FieldError};
use crate::{AccessToken, RefreshToken};

/// How much of a body an error keeps for diagnosis.
pub(crate) const SNIPPET_BYTES: usize = 256;

pub(crate) type ApiError = signalwire_fabric_api::Error<types::ErrorResponse>;

/// Secrets that must never appear in an error, even when a server echoes them, in any
/// spelling (see [`spellings`]).
///
/// Working every spelling out costs far more than an answer does, so it is done only for
/// text that may hold one: every spelling writes ASCII letters and digits as they are,
/// so each holds the secret's longest run of them (its anchor) as is, and text without
/// any secret's anchor holds no spelling of it.
pub(crate) struct Scrub<'a> {
    /// Each non-empty secret with its anchor (empty when it has no letter or digit: then
    /// every text is looked at).
    secrets: Vec<(&'a str, &'a str)>,
    /// Every spelling of every secret, longest first (so no spelling is left
    /// half-replaced by a shorter one); worked out the first time a text needs them.
    spellings: OnceLock<Vec<String>>,
}

impl<'a> Scrub<'a> {
    pub(crate) fn new(secrets: &[&'a str]) -> Self {
        Self {
            secrets: secrets
                .iter()
                .filter(|secret| !secret.is_empty())
                .map(|secret| (*secret, anchor(secret)))
                .collect(),
            spellings: OnceLock::new(),
        }
    }

    fn spellings(&self) -> &[String] {
        self.spellings.get_or_init(|| {
            let mut spellings: Vec<String> = self
                .secrets
                .iter()
                .flat_map(|(secret, _)| spellings(secret))
                .collect();
            spellings.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            spellings.dedup();
            spellings
        })
    }

    /// Replaces every known secret, as written or as a server may have encoded it, and
    /// every run of 40 or more token-alphabet characters (base64url, `.`, `+`, `=`, `~`),
    /// with `[redacted]`.
    pub(crate) fn text(&self, text: &str) -> String {
        let may_hold_a_secret = self
            .secrets
            .iter()
            .any(|(_, anchor)| anchor.is_empty() || text.contains(anchor));
        if !may_hold_a_secret {
            return redact_token_shaped(text);
        }
        let mut text = text.to_owned();
        for spelling in self.spellings() {
            text = text.replace(spelling.as_str(), "[redacted]");
        }
        redact_token_shaped(&text)
    }

    /// At least the length in bytes of the longest spelling of any secret: no spelling
    /// writes a byte of a secret as more than 12 bytes (`\uXXXX\uXXXX` for one
    /// character of four bytes, 3 bytes for each of its bytes percent-encoded).
    fn longest_spelling(&self) -> usize {
        self.secrets
            .iter()
            .map(|(secret, _)| secret.len().saturating_mul(12))
            .max()
            .unwrap_or(0)
    }
}

/// The longest run of ASCII letters and digits in `secret` (the first, of equals).
fn anchor(secret: &str) -> &str {
    secret
        .split(|c: char| !c.is_ascii_alphanumeric())
        .fold("", |longest, run| {
            if run.len() > longest.len() {
                run
            } else {
                longest
            }
        })
}

/// The ways a server may write `secret` back: as it is; JSON-escaped (plain, with `/`
/// escaped as PHP does, with `<`, `>`, `&`, `'` and every non-ASCII character as
/// `\uXXXX` as Go, Rails and Python do, or with every character but letters and digits
/// so escaped; each in either hex case); percent-encoded (as a form or as a URL writes it,
/// either hex case); and with HTML's character references.
fn spellings(secret: &str) -> Vec<String> {
    let mut spellings = vec![
        secret.to_owned(),
        html_escaped(secret, "&#39;"),
        html_escaped(secret, "&#x27;"),
    ];
    for slash in [false, true] {
        for escape in [Escape::Json, Escape::HtmlSafe, Escape::AllButAlphanumeric] {
            for upper in [false, true] {
                spellings.push(json_escaped(secret, slash, escape, upper));
            }
        }
    }
    let form = |byte: u8| byte.is_ascii_alphanumeric() || b"*-._".contains(&byte);
    let url = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
    for upper in [false, true] {
        spellings.push(percent_encoded(secret, form, true, upper));
        spellings.push(percent_encoded(secret, form, false, upper));
        spellings.push(percent_encoded(secret, url, false, upper));
    }
    spellings
}

/// Which characters [`json_escaped`] writes as `\uXXXX` beyond what JSON requires.
#[derive(Clone, Copy, PartialEq)]
enum Escape {
    /// Only what JSON requires.
    Json,
    /// Also `<`, `>`, `&`, `'` and every non-ASCII character.
    HtmlSafe,
    /// Every character but ASCII letters and digits.
    AllButAlphanumeric,
}

/// `secret` percent-encoded: bytes `keep` accepts as they are, a space as `+` when
/// `space_as_plus`, every other byte as `%XX`.
fn percent_encoded(
    secret: &str,
    keep: impl Fn(u8) -> bool,
    space_as_plus: bool,
    upper: bool,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(secret.len() * 3);
    for byte in secret.bytes() {
        let _ = match byte {
            byte if keep(byte) => write!(out, "{}", char::from(byte)),
            b' ' if space_as_plus => write!(out, "+"),
            byte if upper => write!(out, "%{byte:02X}"),
            byte => write!(out, "%{byte:02x}"),
        };
    }
    out
}

/// `secret` with HTML's character references for `&`, `<`, `>`, `"` and `'` (written as
/// `apostrophe`).
fn html_escaped(secret: &str, apostrophe: &str) -> String {
    secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', apostrophe)
}

/// `secret` as the inside of a JSON string.
fn json_escaped(secret: &str, slash: bool, escape: Escape, upper: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(secret.len() + 8);
    let unicode = |out: &mut String, c: char| {
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let _ = if upper {
                write!(out, "\\u{unit:04X}")
            } else {
                write!(out, "\\u{unit:04x}")
            };
        }
    };
    for c in secret.chars() {
        match c {
            c if escape == Escape::AllButAlphanumeric && !c.is_ascii_alphanumeric() => {
                unicode(&mut out, c)
            }
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if slash => out.push_str("\\/"),
            c if c.is_control() && c.is_ascii() => unicode(&mut out, c),
            '<' | '>' | '&' | '\'' if escape == Escape::HtmlSafe => unicode(&mut out, c),
            c if escape == Escape::HtmlSafe && !c.is_ascii() => unicode(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

fn redact_token_shaped(text: &str) -> String {
    const MIN_RUN: usize = 40;
    let is_token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '=' | '~');
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        if run.len() >= MIN_RUN {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
    };
    for (index, c) in text.char_indices() {
        match (is_token_char(c), run_start) {
            (true, None) => run_start = Some(index),
            (true, Some(_)) => {}
            (false, Some(start)) => {
                flush(&mut out, &text[start..index]);
                run_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &text[start..]);
    }
    out
}

/// The start of a body, as text fit for an error message: secrets and token-shaped text
/// are redacted before the text is cut, so a cut can never leave part of a secret.
pub(crate) fn snippet(bytes: &[u8], scrub: &Scrub<'_>) -> Option<String> {
    /// How much of a body is scanned; more than the longest token we accept.
    const SCAN_BYTES: usize = 32 * 1024;
    if bytes.is_empty() {
        return None;
    }
    let mut scanned = String::from_utf8_lossy(&bytes[..bytes.len().min(SCAN_BYTES)]);
    if bytes.len() > SCAN_BYTES {
        // The cut may have split a secret, which scrubbing would then miss: drop as much
        // of the tail as the longest spelling of any secret (a snippet shows the start).
        let mut keep = scanned.len().saturating_sub(scrub.longest_spelling());
        while !scanned.is_char_boundary(keep) {
            keep -= 1;
        }
        scanned = scanned[..keep].to_owned().into();
    }
    // Secrets are scrubbed before whitespace is collapsed, so one with a run of spaces or
    // a tab in it is still recognised.
    let redacted = scrub.text(&scanned);
    let redacted = redacted.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = redacted.len().min(SNIPPET_BYTES);
    while !redacted.is_char_boundary(end) {
        end -= 1;
    }
    let mut shown = redacted[..end].to_owned();
    if end < redacted.len() || bytes.len() > SCAN_BYTES {
        shown.push_str("...");
    }
    Some(shown)
}

/// Maps a failed generated call to an [`Error`]. `expected` names what a success body
/// should have been ("a token pair").
pub(crate) async fn map_error(
    error: ApiError,
    exchange: &CallContext,
    expected: &'static str,
    scrub: &Scrub<'_>,
) -> Error {
    let status = exchange.status().map(|status| status.as_u16());
    match error {
        ApiError::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            from_error_body(status, response.into_inner(), retry_after, scrub)
        }
        ApiError::UnexpectedResponse(response) => unexpected(response, exchange, scrub).await,
        ApiError::InvalidResponsePayload(bytes, serde_error) => {
            let status = status.unwrap_or(0);
            let body = snippet(&bytes, scrub);
            let retry_after = exchange.headers().and_then(retry_after);
            let reason = || scrub.text(&serde_error.to_string());
            match status {
                200..=299 => Error::Decode {
                    status,
                    expected,
                    reason: reason(),
                    body,
                },
                401 => Error::Unauthorized { message: None },
                403 => Error::Forbidden { message: None },
                404 => Error::NotFound { message: None },
                // A rejection whose reasons could not be read is still a rejection.
                422 => Error::Rejected {
                    errors: Vec::new(),
                    retry_after,
                },
                429 => Error::RateLimited { retry_after },
                500..=599 => Error::Server {
                    status,
                    message: None,
                    body,
                    retry_after,
                },
                _ => Error::Decode {
                    status,
                    expected: "the documented error body",
                    reason: reason(),
                    body,
                },
            }
        }
        ApiError::ResponseBodyError(source) => {
            let status = status.unwrap_or(0);
            if body_limit_exceeded(&source) {
                Error::ResponseTooLarge {
                    status,
                    limit: exchange.body_limit(),
                }
            } else {
                transport(
                    format!("the {status} response was cut short"),
                    Delivery::Received,
                    source,
                )
            }
        }
        ApiError::CommunicationError(source) | ApiError::InvalidUpgrade(source) => {
            from_reqwest(source)
        }
        ApiError::InvalidRequest(reason) => Error::invalid_input("request", scrub.text(&reason)),
        ApiError::Custom(reason) => Error::Transport {
            message: scrub.text(&reason),
            delivery: Delivery::Unknown,
            source: None,
        },
    }
}

/// A decode error for a token the server issued that is not a token, never showing it.
pub(crate) fn issued_badly(
    status: u16,
    expected: &'static str,
    field: &str,
    problem: &crate::TokenFormatError,
) -> Error {
    Error::Decode {
        status,
        expected,
        reason: format!("its `{field}` {problem}"),
        body: None,
    }
}

/// Checks the tokens a server issued; a malformed one is a decode error that never shows
/// the token.
pub(crate) fn issued_tokens(
    status: u16,
    expected: &'static str,
    access: String,
    refresh: String,
) -> Result<(AccessToken, RefreshToken), Error> {
    let access = AccessToken::parse(access)
        .map_err(|problem| issued_badly(status, expected, "token", &problem))?;
    let refresh = RefreshToken::parse(refresh)
        .map_err(|problem| issued_badly(status, expected, "refresh_token", &problem))?;
    Ok((access, refresh))
}

/// A reqwest failure below HTTP, classified by whether the request may have been seen.
pub(crate) fn from_reqwest(source: reqwest::Error) -> Error {
    let (message, delivery) = if source.is_connect() {
        ("could not connect to the server", Delivery::NotSent)
    } else if source.is_timeout() {
        ("timed out waiting for the server", Delivery::Unknown)
    } else if source.is_body() || source.is_decode() {
        ("the response was cut short", Delivery::Received)
    } else if source.is_builder() {
        ("the request could not be built", Delivery::NotSent)
    } else {
        ("the exchange with the server failed", Delivery::Unknown)
    };
    transport(message.to_owned(), delivery, source)
}

fn transport(message: String, delivery: Delivery, source: reqwest::Error) -> Error {
    // reqwest's messages name the URL, never credentials; the URL's query is never set.
    Error::Transport {
        message,
        delivery,
        source: Some(Arc::new(source.without_url())),
    }
}

fn from_error_body(
    status: u16,
    body: types::ErrorResponse,
    retry_after: Option<Duration>,
    scrub: &Scrub<'_>,
) -> Error {
    let message = body.error.as_deref().map(|text| scrub.text(text));
    match status {
        401 => Error::Unauthorized { message },
        403 => Error::Forbidden { message },
        404 => Error::NotFound { message },
        422 => Error::Rejected {
            retry_after,
            errors: body
                .errors
                .iter()
                .map(|error| FieldError {
                    code: ErrorCode::from(scrub.text(&error.code).as_str()),
                    attribute: error.attribute.as_deref().map(|a| scrub.text(a)),
                    message: scrub.text(&error.message),
                    kind: scrub.text(&error.type_),
                    url: scrub.text(&error.url),
                })
                .collect(),
        },
        429 => Error::RateLimited { retry_after },
        _ => Error::Server {
            status,
            message,
            body: None,
            retry_after,
        },
    }
}

async fn unexpected(
    response: reqwest::Response,
    exchange: &CallContext,
    scrub: &Scrub<'_>,
) -> Error {
    let status = response.status().as_u16();
    let headers = response.headers();
    let retry_after = retry_after(headers);
    let header_text = |name: reqwest::header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|text| scrub.text(text))
    };
    let content_type = header_text(reqwest::header::CONTENT_TYPE);
    let location = header_text(reqwest::header::LOCATION);
    let bytes = match read_prefix(response, 32 * 1024 + 1).await {
        Ok(bytes) => bytes,
        Err(error) if body_limit_exceeded(&error) => {
            return Error::ResponseTooLarge {
                status,
                limit: exchange.body_limit(),
            };
        }
        Err(_) => Vec::new(),
    };
    // An undocumented status may still carry our error shape (`{"error": "..."}`).
    let message = serde_json::from_slice::<types::ErrorResponse>(&bytes)
        .ok()
        .and_then(|body| body.error)
        .map(|text| scrub.text(&text));
    let body = snippet(&bytes, scrub);
    match status {
        429 => Error::RateLimited { retry_after },
        500..=599 => Error::Server {
            status,
            body: if message.is_some() { None } else { body },
            message,
            retry_after,
        },
        _ => Error::UnexpectedResponse {
            status,
            retry_after,
            content_type,
            location,
            body,
        },
    }
}

/// Reads at most `limit` bytes of a body, leaving the rest unread.
async fn read_prefix(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await? {
            Some(chunk) => bytes.extend_from_slice(&chunk[..chunk.len().min(limit - bytes.len())]),
            None => break,
        }
    }
    Ok(bytes)
}

/// The longest `Retry-After` taken as given; longer ones (up to `u64::MAX` seconds, or a
/// date centuries ahead) are read as this. A day is far past any token's life.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After` as delta-seconds or an HTTP date, at most [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    // `delay-seconds` is digits only (no sign); any number of them, so one too big for
    // a u64 is still "longer than a day", not "unreadable".
    let digits = !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit());
    let wait = match value.parse::<u64>() {
        Ok(seconds) if digits => Duration::from_secs(seconds),
        Err(_) if digits => MAX_RETRY_AFTER,
        Ok(_) => return None,
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shaped_runs_and_known_secrets_are_redacted() {
        let scrub = Scrub::new(&["hunter2"]);
        let token = "eyJhbGciOiJkaXIifQ..aXZpdml2aXZpdg.Y2lwaGVydGV4dGNpcGhlcnRleHQ.dGFndGFn";
        let text = format!("<p>bad token {token} from hunter2, see /api/fabric/subscribers</p>");
        assert_eq!(
            scrub.text(&text),
            "<p>bad token [redacted] from [redacted], see /api/fabric/subscribers</p>"
        );
    }

    #[test]
    fn a_secret_is_redacted_however_a_server_escaped_it() {
        let secret = "a<b>&c 'q\"/\\ \t\u{e9}\u{1F600}";
        let scrub = Scrub::new(&[secret]);
        for echoed in [
            secret.to_owned(),
            serde_json::to_string(secret).expect("JSON"),
            // Go and Rails: HTML-safe, and non-ASCII as \u escapes (a surrogate pair for
            // the emoji); PHP: `/` escaped; a form.
            r#""a\u003cb\u003e\u0026c \u0027q\"/\\ \t\u00e9\ud83d\ude00""#.to_owned(),
            r#""a\u003Cb\u003E\u0026c \u0027q\"/\\ \t\u00E9\uD83D\uDE00""#.to_owned(),
            r#""a<b>&c 'q\"\/\\ \té😀""#.to_owned(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            url::form_urlencoded::byte_serialize(secret.as_bytes())
                .collect::<String>()
                .to_lowercase(),
            "a&lt;b&gt;&amp;c &#39;q&quot;/\\ \t\u{e9}\u{1F600}".to_owned(),
            r#""a\u003cb\u003e\u0026c\u0020\u0027q\u0022\u002f\u005c\u0020\u0009\u00e9\ud83d\ude00""#
                .to_owned(),
        ] {
            let shown = scrub.text(&format!("before {echoed} after"));
            // Only the JSON string's own quotes may remain around the redaction.
            assert_eq!(
                shown.replace('"', ""),
                "before [redacted] after",
                "{echoed}"
            );
        }
    }

    #[test]
    fn a_secret_with_runs_of_whitespace_is_redacted_before_they_collapse() {
        let scrub = Scrub::new(&["correct  horse\tstaple"]);
        let shown = snippet(b"{\"echo\": correct  horse\tstaple}", &scrub).expect("a body");
        assert_eq!(shown, "{\"echo\": [redacted]}");
    }

    #[test]
    fn spellings_are_worked_out_only_for_text_that_holds_an_anchor() {
        let secret = "v1.Zm9vYmFy-hunter2hunter2.x/y";
        assert_eq!(anchor(secret), "hunter2hunter2");
        assert_eq!(anchor("a<b>c"), "a");
        assert_eq!(anchor("<>/"), "");
        let scrub = Scrub::new(&[secret]);
        assert_eq!(scrub.text("name is invalid"), "name is invalid");
        assert!(scrub.spellings.get().is_none(), "no anchor, no spellings");
        let echoed = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>();
        assert_eq!(scrub.text(&format!("got {echoed}!")), "got [redacted]!");
        assert!(scrub.spellings.get().is_some());

        // A secret with no letter or digit has no anchor: every text is looked at.
        let scrub = Scrub::new(&["<>/"]);
        assert_eq!(scrub.text("a &lt;&gt;/ b"), "a [redacted] b");
    }

    #[test]
    fn a_secret_cut_by_the_scan_limit_leaves_no_part_shown() {
        let secret = "hunter2-hunter2-pw";
        let scrub = Scrub::new(&[secret]);
        // Whitespace to just short of the scan limit, then the secret across it.
        let mut body = vec![b' '; 32 * 1024 - 7];
        body.extend_from_slice(secret.as_bytes());
        let shown = snippet(&body, &scrub).unwrap_or_default();
        assert!(!shown.contains("hunter"), "{shown:?}");
    }

    #[test]
    fn short_words_and_uuids_survive_redaction() {
        let scrub = Scrub::new(&[]);
        let text = "Not Found 2c9f4b1e-8a3d-4f6b-b7e2-5d1a9c0e3f48 token_expired";
        assert_eq!(scrub.text(text), text);
    }

    #[test]
    fn snippets_are_bounded_and_whitespace_collapsed() {
        let scrub = Scrub::new(&[]);
        assert_eq!(snippet(b"", &scrub), None);
        assert_eq!(
            snippet(b"<h1>Bad\n\n  Gateway</h1>", &scrub).as_deref(),
            Some("<h1>Bad Gateway</h1>")
        );
        let long = "ab ".repeat(200);
        let shown = snippet(long.as_bytes(), &scrub).expect("non-empty");
        assert!(shown.ends_with("..."), "{shown}");
        assert!(shown.len() <= SNIPPET_BYTES + 3, "{}", shown.len());
    }

    #[test]
    fn retry_after_seconds_are_digits_only_and_any_number_of_them_is_at_most_a_day() {
        let read = |value: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::RETRY_AFTER,
                value.parse().expect("a header"),
            );
            retry_after(&headers)
        };
        assert_eq!(read("18446744073709551616"), Some(MAX_RETRY_AFTER));
        assert_eq!(read(&"9".repeat(400)), Some(MAX_RETRY_AFTER));
        assert_eq!(
            read("00000000000000000000000007"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(read("+5"), None);
        assert_eq!(read("-5"), None);
        assert_eq!(read("5.0"), None);
        assert_eq!(
            read(" 5 "),
            Some(Duration::from_secs(5)),
            "surrounding space is not part of it"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "120".parse().expect("valid"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("valid"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date means now"
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        headers.insert(reqwest::header::RETRY_AFTER, later.parse().expect("valid"));
        let wait = retry_after(&headers).expect("a date");
        assert!(
            wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600),
            "{wait:?}"
        );
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().expect("valid"));
        assert_eq!(retry_after(&headers), None);
        for huge in [
            "18446744073709551615",
            "86401",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            headers.insert(reqwest::header::RETRY_AFTER, huge.parse().expect("valid"));
            assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER), "{huge}");
        }
    }
}
