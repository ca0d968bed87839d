//! What a refused or failed request is answered with: a JSON error whose [`ErrorCode`]
//! fixes its status, and which code each failure gets, from the app's sign-in, the
//! rate limit, the facade's errors (SignalWire's and the coordinator's) and the checks
//! of a request. The errors behind an answer are logged here; the answer says only what
//! kind of failure it was.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use signalwire_fabric::{Error, SessionKey};

use crate::Refusal;
use crate::answer::json;

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

impl Failure {
    /// What the app's [`Authenticator`](crate::Authenticator) refusing a request answers.
    pub(crate) fn refused(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Forbidden => Self::new(
                ErrorCode::Forbidden,
                "this user may not have a subscriber token",
            ),
            _ => Self::new(ErrorCode::Unauthenticated, "sign in first"),
        }
    }

    /// What a request of `key`'s user over the rate limit answers; `wait` is how long
    /// until one would be allowed.
    pub(crate) fn rate_limited(key: &SessionKey, wait: Duration) -> Self {
        tracing::warn!(%key, wait_ms = wait.as_millis() as u64, "a user asked for tokens too often");
        Self::new(
            ErrorCode::RateLimited,
            "too many token requests; ask again after Retry-After seconds",
        )
        .retry_after(Some(wait))
    }

    /// What a failure of SignalWire, the coordinator or the app's settings answers, for
    /// `key`'s user. The error is logged (errors never hold secrets).
    pub(crate) fn upstream(key: &SessionKey, error: &Error) -> Self {
        match error.invalid_field() {
            Some(field) => {
                tracing::error!(%key, field, error = %error, "a subscriber token could not be requested for the user's profile");
                Self::new(
                    ErrorCode::Internal,
                    "the app's subscriber profile for this user was refused; see the server's log",
                )
            }
            None if error.is_retryable() => {
                tracing::warn!(%key, error = %error, "SignalWire or the coordinator is unavailable for now");
                Self::new(
                    ErrorCode::UpstreamUnavailable,
                    "SignalWire could not be reached for now; ask again later",
                )
                .retry_after(error.retry_after())
            }
            None => {
                tracing::error!(%key, error = %error, "SignalWire refused a token request");
                Self::new(
                    ErrorCode::UpstreamRefused,
                    "SignalWire refused the token request; see the server's log",
                )
            }
        }
    }

    /// What a failure to create a client-bound token answers: a fingerprint the request
    /// refused is the body's fault (400 naming `fingerprint`); anything else is
    /// [`Failure::upstream`].
    pub(crate) fn client_bound(key: &SessionKey, error: &Error) -> Self {
        match (error.invalid_field(), error.invalid_reason()) {
            (Some("fingerprint"), Some(reason)) => {
                Self::new(ErrorCode::InvalidBody, format!("fingerprint {reason}"))
                    .field("fingerprint")
            }
            _ => Self::upstream(key, error),
        }
    }
}
