//! What every request goes through before its endpoint's own work, in this order: the
//! JSON content type, the app's sign-in (its [`Authenticator`]), the user's rate limit,
//! then the body, read up to its limit and holding only the fields the endpoint takes.

use std::sync::Arc;

use axum::extract::Request;
use http::HeaderValue;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};

use crate::failure::{ErrorCode, Failure};
use crate::rate_limit::UserLimiter;
use crate::{Authenticator, SubscriberProfile};

/// The longest unknown field name quoted back in an error.
const MAX_QUOTED_FIELD: usize = 64;

/// Who may ask, how often, and how much they may send.
pub(crate) struct Admission {
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) limiter: UserLimiter,
    pub(crate) max_body_bytes: usize,
}

impl Admission {
    /// The signed-in user's profile and the body's fields, `known` being the fields the
    /// endpoint takes; or the first check that refused the request.
    pub(crate) async fn admit(
        &self,
        request: Request,
        known: &[&'static str],
    ) -> Result<(SubscriberProfile, Fields), Failure> {
        let (parts, body) = request.into_parts();
        if !is_json(parts.headers.get(CONTENT_TYPE)) {
            return Err(Failure::new(
                ErrorCode::UnsupportedMediaType,
                "send the request as Content-Type: application/json",
            ));
        }
        let profile = self
            .authenticator
            .authenticate(&parts)
            .await
            .map_err(Failure::refused)?;
        self.limiter
            .check(profile.key())
            .await
            .map_err(|wait| Failure::rate_limited(profile.key(), wait))?;
        let limit = self.max_body_bytes;
        let too_large = || {
            Failure::new(
                ErrorCode::BodyTooLarge,
                format!("the body is longer than {limit} bytes"),
            )
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| too_large())?;
        let fields = parse(&bytes, known)?;
        Ok((profile, fields))
    }
}

/// Whether a `Content-Type` is `application/json`, with or without parameters.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

pub(crate) type Fields = serde_json::Map<String, serde_json::Value>;

/// The body as a JSON object holding only `known` fields. No body at all is an empty
/// object. Anything else (not JSON, not an object, an unknown field) is refused.
fn parse(bytes: &[u8], known: &[&'static str]) -> Result<Fields, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::new());
    }
    let fields = match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Object(fields)) => fields,
        Ok(_) => {
            return Err(Failure::new(
                ErrorCode::InvalidBody,
                "the body must be a JSON object",
            ));
        }
        Err(error) => {
            return Err(Failure::new(
                ErrorCode::InvalidBody,
                format!("the body is not JSON: {error}"),
            ));
        }
    };
    if let Some(unknown) = fields.keys().find(|name| !known.contains(&name.as_str())) {
        let quoted: String = unknown.chars().take(MAX_QUOTED_FIELD).collect();
        let takes = match known {
            [] => "no fields".to_owned(),
            known => format!("only {}", known.join(", ")),
        };
        return Err(Failure::new(
            ErrorCode::InvalidBody,
            format!(
                "unknown field {quoted:?}: this endpoint takes {takes}; the subscriber \
                 always comes from the signed-in user, never from the body"
            ),
        )
        .field(quoted));
    }
    Ok(fields)
}

/// The optional text field `name` of `fields`.
pub(crate) fn optional_text<'a>(
    fields: &'a Fields,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    match fields.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(
            Failure::new(ErrorCode::InvalidBody, format!("{name} must be a string")).field(name),
        ),
    }
}
