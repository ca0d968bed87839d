//! The documented rules for request bodies, and the 422 entries that report a broken one.
//!
//! Bodies arrive as whatever bytes a client sent. They are read as a
//! [`serde_json::Value`] first (anything else counts as "no JSON object"), every rule is
//! checked on that value, and only a body that passes is turned into its typed form.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::tokens;
use crate::wire::{RefreshSubscriberTokenRequest, SubscriberTokenRequest, ValidationError};

/// Where the codes are documented; each entry's `url` is this plus `#<code>`.
const ERROR_CODES_URL: &str = "https://developer.signalwire.com/rest/overview/error-codes";

pub(crate) const MISSING_REQUIRED_PARAMETER: &str = "missing_required_parameter";
pub(crate) const INVALID_PARAMETER: &str = "invalid_parameter";
pub(crate) const INVALID_TOKEN_FORMAT: &str = "invalid_token_format";
pub(crate) const NOT_A_REFRESH_TOKEN: &str = "not_a_refresh_token";
pub(crate) const TOKEN_EXPIRED: &str = "token_expired";
pub(crate) const TOKEN_INVALID: &str = "token_invalid";

/// A rule for a text field: the check, and what the field must be when it fails.
type TextRule = (fn(&str) -> bool, &'static str);

/// The optional text fields of a create request, in the documented order, with the rule
/// each has beyond being a string.
const TEXT_FIELDS: [(&str, Option<TextRule>); 12] = [
    (
        "application_id",
        Some((
            is_uuid,
            "must be a UUID such as 6f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10",
        )),
    ),
    ("password", None),
    (
        "fingerprint",
        Some((
            is_fingerprint,
            "must be exactly 43 characters of A-Z, a-z, 0-9, '-' and '_'",
        )),
    ),
    ("scope", Some((is_scope, "must be \"sat:refresh\""))),
    ("first_name", None),
    ("last_name", None),
    ("display_name", None),
    ("job_title", None),
    ("time_zone", None),
    ("country", None),
    ("company_name", None),
    ("region", Some((is_region, "must be \"us-central\""))),
];

/// One 422 entry.
pub(crate) fn rejection(
    code: &str,
    attribute: Option<&str>,
    message: impl Into<String>,
) -> ValidationError {
    ValidationError {
        kind: "validation_error".to_owned(),
        code: code.to_owned(),
        message: message.into(),
        attribute: attribute.map(str::to_owned),
        url: format!("{ERROR_CODES_URL}#{code}"),
    }
}

pub(crate) fn not_a_refresh_token() -> ValidationError {
    rejection(
        NOT_A_REFRESH_TOKEN,
        Some("refresh_token"),
        "This is an access token; send the refresh token of the pair instead.",
    )
}

pub(crate) fn token_expired() -> ValidationError {
    rejection(
        TOKEN_EXPIRED,
        Some("refresh_token"),
        "This refresh token is past its lifetime.",
    )
}

pub(crate) fn token_invalid() -> ValidationError {
    rejection(
        TOKEN_INVALID,
        Some("refresh_token"),
        "This refresh token is unknown or has already been exchanged.",
    )
}

fn not_an_object(attribute: &str) -> ValidationError {
    rejection(
        MISSING_REQUIRED_PARAMETER,
        None,
        format!("The body must be a JSON object with a `{attribute}` field."),
    )
}

fn missing(attribute: &str) -> ValidationError {
    rejection(
        MISSING_REQUIRED_PARAMETER,
        Some(attribute),
        format!("`{attribute}` is required and must not be empty."),
    )
}

fn invalid(attribute: &str, why: &str) -> ValidationError {
    rejection(
        INVALID_PARAMETER,
        Some(attribute),
        format!("`{attribute}` {why}."),
    )
}

/// Checks a `create_subscriber_token` body, with `now` deciding whether `expire_at` is in
/// the future. Every broken rule is reported, in the order the fields are documented.
pub(crate) fn create_request(
    body: Option<&Value>,
    now: SystemTime,
) -> Result<SubscriberTokenRequest, Vec<ValidationError>> {
    let Some(Value::Object(fields)) = body else {
        return Err(vec![not_an_object("reference")]);
    };
    let mut errors = Vec::new();

    match fields.get("reference") {
        None | Some(Value::Null) => errors.push(missing("reference")),
        Some(Value::String(reference)) if reference.trim().is_empty() => {
            errors.push(missing("reference"));
        }
        Some(Value::String(_)) => {}
        Some(_) => errors.push(invalid("reference", "must be a string")),
    }

    match fields.get("expire_at") {
        None | Some(Value::Null) => {}
        Some(Value::Number(number)) => match number.as_i64() {
            Some(seconds) if !is_future(seconds, now) => {
                errors.push(invalid("expire_at", "must be in the future"));
            }
            Some(_) => {}
            None => errors.push(invalid(
                "expire_at",
                "must be a whole number of unix seconds",
            )),
        },
        Some(_) => errors.push(invalid(
            "expire_at",
            "must be a whole number of unix seconds",
        )),
    }

    for (name, rule) in TEXT_FIELDS {
        match (text_field(fields, name), rule) {
            (Err(()), _) => errors.push(invalid(name, "must be a string")),
            (Ok(Some(value)), Some((is_valid, why))) if !is_valid(value) => {
                errors.push(invalid(name, why));
            }
            _ => {}
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    // Every rule above matches a field type, so this cannot fail; if it ever does, the
    // client still gets a 422 rather than a panic.
    serde_json::from_value(Value::Object(fields.clone())).map_err(|error| {
        vec![rejection(
            INVALID_PARAMETER,
            None,
            format!("The body does not fit the request schema: {error}"),
        )]
    })
}

/// Checks a `refresh_subscriber_token` body: only its shape, not whether the token is
/// one the fake knows.
pub(crate) fn refresh_request(
    body: Option<&Value>,
) -> Result<RefreshSubscriberTokenRequest, ValidationError> {
    let Some(Value::Object(fields)) = body else {
        return Err(not_an_object("refresh_token"));
    };
    match fields.get("refresh_token") {
        None | Some(Value::Null) => Err(missing("refresh_token")),
        Some(Value::String(token)) if token.is_empty() => Err(missing("refresh_token")),
        Some(Value::String(token)) if !tokens::has_token_format(token) => Err(rejection(
            INVALID_TOKEN_FORMAT,
            Some("refresh_token"),
            "`refresh_token` is not a JWT: it needs 3 or 5 dot-separated base64url segments.",
        )),
        Some(Value::String(token)) => Ok(RefreshSubscriberTokenRequest {
            refresh_token: token.clone(),
        }),
        Some(_) => Err(invalid("refresh_token", "must be a string")),
    }
}

/// A field that must be a string when present: `Ok(None)` when absent or null,
/// `Err(())` when it has another JSON type.
fn text_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ()> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(()),
    }
}

fn is_future(unix_seconds: i64, now: SystemTime) -> bool {
    let Ok(seconds) = u64::try_from(unix_seconds) else {
        return false;
    };
    match UNIX_EPOCH.checked_add(Duration::from_secs(seconds)) {
        Some(at) => at > now,
        // Too far ahead to represent: certainly in the future.
        None => true,
    }
}

/// A UUID in its usual hyphenated 36-character form.
fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

fn is_scope(text: &str) -> bool {
    text == "sat:refresh"
}

fn is_region(text: &str) -> bool {
    text == "us-central"
}

fn is_fingerprint(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(body: Value) -> Vec<(String, Option<String>)> {
        create_request(Some(&body), SystemTime::now())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| (error.code, error.attribute))
            .collect()
    }

    #[test]
    fn every_broken_create_rule_is_reported_in_field_order() {
        let found = codes(json!({
            "reference": " ",
            "expire_at": 1.5,
            "application_id": "not-a-uuid",
            "fingerprint": "short",
            "scope": "sat:everything",
            "region": "eu-west",
            "country": 46,
        }));
        let expected = [
            (MISSING_REQUIRED_PARAMETER, "reference"),
            (INVALID_PARAMETER, "expire_at"),
            (INVALID_PARAMETER, "application_id"),
            (INVALID_PARAMETER, "fingerprint"),
            (INVALID_PARAMETER, "scope"),
            (INVALID_PARAMETER, "country"),
            (INVALID_PARAMETER, "region"),
        ]
        .map(|(code, attribute)| (code.to_owned(), Some(attribute.to_owned())));
        assert_eq!(found, expected);
    }

    #[test]
    fn a_complete_valid_create_body_becomes_the_typed_request() {
        let future = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            + 3600;
        let body = json!({
            "reference": "alice@example.com",
            "expire_at": future,
            "application_id": "6f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10",
            "fingerprint": "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE",
            "scope": "sat:refresh",
            "region": "us-central",
            "display_name": null,
            "something_new": [1, 2],
        });
        let request = create_request(Some(&body), SystemTime::now()).expect("valid");
        assert_eq!(request.reference, "alice@example.com");
        assert_eq!(request.expire_at, i64::try_from(future).ok());
        assert_eq!(request.scope, Some(crate::wire::Scope::SatRefresh));
        assert_eq!(request.display_name, None);
    }

    #[test]
    fn expire_at_must_be_a_future_integer() {
        for expire_at in [json!(0), json!(-5), json!("1795000000"), json!(u64::MAX)] {
            assert_eq!(
                codes(json!({"reference": "a", "expire_at": expire_at})),
                [(INVALID_PARAMETER.to_owned(), Some("expire_at".to_owned()))],
                "{expire_at}"
            );
        }
        assert!(codes(json!({"reference": "a", "expire_at": i64::MAX})).is_empty());
    }

    #[test]
    fn a_refresh_body_needs_a_token_shaped_string() {
        let code = |body: Value| refresh_request(Some(&body)).map_err(|error| error.code);
        assert_eq!(
            code(json!({})).err().as_deref(),
            Some(MISSING_REQUIRED_PARAMETER)
        );
        assert_eq!(
            code(json!({"refresh_token": ""})).err().as_deref(),
            Some(MISSING_REQUIRED_PARAMETER)
        );
        assert_eq!(
            code(json!([1])).err().as_deref(),
            Some(MISSING_REQUIRED_PARAMETER)
        );
        assert_eq!(
            code(json!({"refresh_token": 7})).err().as_deref(),
            Some(INVALID_PARAMETER)
        );
        assert_eq!(
            code(json!({"refresh_token": "a.b.c.d"})).err().as_deref(),
            Some(INVALID_TOKEN_FORMAT)
        );
        assert!(code(json!({"refresh_token": "a.b.c"})).is_ok());
        assert_eq!(
            refresh_request(None)
                .map_err(|error| error.code)
                .err()
                .as_deref(),
            Some(MISSING_REQUIRED_PARAMETER)
        );
    }
}
