//! What the fake answers one request with, before wiremock turns it into a response.

use std::time::Duration;

use http::StatusCode;

use crate::faults::{FaultAnswer, FaultBody};
use crate::wire::{ErrorResponse, ValidationError};

/// The answer to one request.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: ReplyBody,
    pub(crate) retry_after_seconds: Option<u64>,
    pub(crate) delay: Option<Duration>,
}

pub(crate) enum ReplyBody {
    /// `application/json`.
    Json(Vec<u8>),
    /// `text/html`.
    Html(String),
    /// No body at all (204).
    Empty,
}

impl Reply {
    fn new(status: StatusCode, body: ReplyBody) -> Self {
        Self {
            status,
            body,
            retry_after_seconds: None,
            delay: None,
        }
    }

    pub(crate) fn json(status: StatusCode, body: &impl serde::Serialize) -> Self {
        // Serializing these plain structs cannot fail; an empty object is a safe
        // stand-in if it ever did.
        let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Self::new(status, ReplyBody::Json(bytes))
    }

    /// `{"error": reason}`.
    pub(crate) fn reason(status: StatusCode, reason: &str) -> Self {
        Self::json(status, &ErrorResponse::reason(reason))
    }

    pub(crate) fn unauthorized() -> Self {
        Self::reason(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    pub(crate) fn forbidden() -> Self {
        Self::reason(StatusCode::FORBIDDEN, "Forbidden")
    }

    pub(crate) fn not_found() -> Self {
        Self::reason(StatusCode::NOT_FOUND, "Not Found")
    }

    pub(crate) fn no_content() -> Self {
        Self::new(StatusCode::NO_CONTENT, ReplyBody::Empty)
    }

    pub(crate) fn from_fault(answer: FaultAnswer) -> Self {
        let mut reply = match answer.body {
            FaultBody::Reason(reason) => Self::reason(answer.status, &reason),
            FaultBody::Html(page) => Self::new(answer.status, ReplyBody::Html(page)),
        };
        reply.retry_after_seconds = answer.retry_after_seconds;
        reply
    }
}

/// A reply and, for a 422, the first code in it (for the journal).
pub(crate) struct Outcome {
    pub(crate) reply: Reply,
    pub(crate) error_code: Option<String>,
}

impl Outcome {
    pub(crate) fn ok(reply: Reply) -> Self {
        Self {
            reply,
            error_code: None,
        }
    }

    pub(crate) fn json(status: StatusCode, body: &impl serde::Serialize) -> Self {
        Self::ok(Reply::json(status, body))
    }

    pub(crate) fn not_found() -> Self {
        Self::ok(Reply::not_found())
    }

    pub(crate) fn rejected(errors: Vec<ValidationError>) -> Self {
        let error_code = errors.first().map(|error| error.code.clone());
        Self {
            reply: Reply::json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ErrorResponse::rejected(errors),
            ),
            error_code,
        }
    }
}
