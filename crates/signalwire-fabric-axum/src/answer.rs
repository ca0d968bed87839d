//! What the endpoints answer: a credential, or a JSON error with a stable code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use signalwire_fabric::TokenPair;

/// The stable codes of the endpoints' JSON errors (`{"error": {"code", "message"}}`).
///
/// The code and the status belong together and do not change between releases; the
/// message is for people and may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 415: the request's `Content-Type` is not `application/json`. Nothing was read.
    UnsupportedMediaType,
    /// 401: the [`Authenticator`](crate::Authenticator) found nobody signed in.
    Unauthenticated,
    /// 403: the [`Authenticator`](crate::Authenticator) refused the signed-in user.
    Forbidden,
    /// 429: the user asked too often; `Retry-After` says when to ask again.
    RateLimited,
    /// 413: the body is longer than the configured limit.
    BodyTooLarge,
    /// 400: the body is not the JSON object the endpoint takes (unknown fields included);
    /// `field` names the field when one is at fault.
    InvalidBody,
    /// 405: the endpoints answer `POST` only; `Allow` says so.
    MethodNotAllowed,
    /// 404: there is no endpoint at this path under the router's mount point.
    NotFound,
    /// 503: SignalWire (or the coordinator) could not be reached or answered with an
    /// error that can pass; `Retry-After` is set when the server gave one. Ask again.
    UpstreamUnavailable,
    /// 502: SignalWire refused the request (for example the project's credentials, or
    /// a subscriber reference it does not accept). Asking again will not help; the
    /// server's log says why.
    UpstreamRefused,
    /// 500: the app's configuration or profile was refused before anything was sent
    /// (for example an empty subscriber reference); the server's log says why.
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the documentation's table.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::BodyTooLarge,
        ErrorCode::InvalidBody,
        ErrorCode::UpstreamUnavailable,
        ErrorCode::UpstreamRefused,
        ErrorCode::Internal,
    ];

    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UpstreamUnavailable => "upstream_unavailable",
            ErrorCode::UpstreamRefused => "upstream_refused",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status answered with this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidBody => StatusCode::BAD_REQUEST,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UpstreamRefused => StatusCode::BAD_GATEWAY,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A refused or failed request, as answered: code, message, and what goes with them.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) field: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(serde::Serialize)]
struct ErrorDetail<'a> {
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str(),
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = json(self.code.status(), &body);
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up, at least one: never "ask again now".
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if self.code == ErrorCode::MethodNotAllowed {
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// What the browser SDK's credential provider resolves to: `{token, expiry_at}`, the
/// expiry in milliseconds since the Unix epoch.
#[derive(serde::Serialize)]
struct CredentialBody<'a> {
    token: &'a str,
    expiry_at: u64,
}

/// The answer for `pair`'s access token.
pub(crate) fn credential(pair: &TokenPair) -> Response {
    let token = pair.access_token().expose_secret();
    let expiry_at = unix_millis(pair.access_expires_in());
    // A parsed token is base64url segments and dots, which JSON takes as they are:
    // written directly, without serde's per-character escaping and growing buffer
    // (a third of the endpoint's own time). Anything else goes through serde.
    if token.bytes().fold(false, |special, b| {
        special | (b == b'"' || b == b'\\' || b < 0x20)
    }) {
        return json(StatusCode::OK, &CredentialBody { token, expiry_at });
    }
    let mut body = String::with_capacity(token.len() + 40);
    body.push_str("{\"token\":\"");
    body.push_str(token);
    body.push_str("\",\"expiry_at\":");
    body.push_str(&expiry_at.to_string());
    body.push('}');
    with_status(StatusCode::OK, body.into_bytes())
}

/// Wall-clock milliseconds since the epoch, `ahead` from now.
fn unix_millis(ahead: Duration) -> u64 {
    let at = SystemTime::now()
        .checked_add(ahead)
        .unwrap_or_else(SystemTime::now);
    at.duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    // Serializing these plain structs cannot fail; an empty object is the safe fallback.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    with_status(status, bytes)
}

fn with_status(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[tokio::test]
    async fn a_credential_is_the_token_and_its_expiry_in_milliseconds() {
        let pair = signalwire_fabric::testing::pair("answer");
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64;
        let body = body_of(credential(&pair)).await;
        assert_eq!(body["token"], pair.access_token().expose_secret());
        let expiry = body["expiry_at"].as_u64().expect("a number");
        let two_hours = 2 * 60 * 60 * 1000;
        assert!(expiry >= before + two_hours - 1_000 && expiry <= before + two_hours + 1_000);
        assert_eq!(body.as_object().map(|fields| fields.len()), Some(2));
    }
}
