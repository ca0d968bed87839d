//! Entry points for fuzzers and property tests (feature `test-util`).
//!
//! They run the real response path (the generated client's decoding, the hooks' body
//! limit, this crate's error mapping) on an answer made in-process, so untrusted bytes
//! can be thrown at it quickly and without sockets.

use std::sync::{Arc, OnceLock};

use crate::{Client, Error, RefreshToken, TokenPair};

/// The base URL a client would use for `input`, or why it is refused: the same check
/// [`ClientBuilder::base_url`](crate::ClientBuilder::base_url) applies, without building a
/// client.
pub fn base_url(input: &str) -> Result<String, Error> {
    crate::config::check_base_url(input)
}

/// What [`refresh_response`] serves: a status, headers and body bytes.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The HTTP status; values outside 100..=999 are served as 500.
    pub status: u16,
    /// Header names and values; pairs that are not valid HTTP are skipped.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The facade's result for a refresh answered with `answer`, with a response body limit
/// of `max_response_bytes`.
pub async fn refresh_response(
    answer: Answer,
    max_response_bytes: usize,
) -> Result<TokenPair, Error> {
    // Building an HTTP client sets up TLS, which costs far more than a decode: do it once.
    static BASE: OnceLock<Result<Client, Error>> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        Client::builder()
            .base_url("http://127.0.0.1:9")
            .project_id("fuzz")
            .api_token("fuzz")
            .build()
    });
    let client = base.clone()?.with_responder(
        max_response_bytes,
        Arc::new(move |_request: &reqwest::Request| {
            let mut response = http::Response::new(answer.body.clone());
            *response.status_mut() = http::StatusCode::from_u16(answer.status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in &answer.headers {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_str(value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }),
    );
    let token = RefreshToken::parse("eyJ0eXAiOiJSZWZyZXNoIn0..aXY.Y2lwaGVydGV4dA.dGFn")
        .map_err(|problem| Error::invalid_input("refresh_token", problem.to_string()))?;
    client.subscriber_tokens().refresh(&token).await
}
