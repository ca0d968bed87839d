//! The documented rules for request bodies, and the 422 entries that report a broken one.
//!
//! Bodies arrive as whatever bytes a client sent. They are read as a
//! [`serde_json::Value`] first (anything else counts as "no JSON object"), every rule is
//! checked on that value, and only a body that passes is turned into its typed form.
//! Every broken rule is reported, in the order the spec lists the fields.
//!
//! The rules are the spec's and no more: a body the spec's schema accepts passes them
//! (whether the addresses, emails and click-to-call tokens it names fit the fake's state
//! is for the handlers to say). A required string field that is absent, `null` or empty
//! is `missing_required_parameter`; a field of the wrong JSON type or outside its format,
//! enum, range or length is `invalid_parameter`. Text is not judged beyond that: `"0"`
//! is an email and `" "` a reference, and a time is any whole number of unix seconds,
//! past ones included.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::wire::ValidationError;

mod guests;
mod subscriber_tokens;
mod subscribers;

pub(crate) use guests::{embed_request, guest_request, invite_request};
pub(crate) use subscriber_tokens::{
    create_request, not_a_refresh_token, refresh_request, token_expired, token_invalid,
};
pub(crate) use subscribers::subscriber_request;

/// Where the codes are documented; each entry's `url` is this plus `#<code>`.
const ERROR_CODES_URL: &str = "https://developer.signalwire.com/rest/overview/error-codes";

pub(crate) const MISSING_REQUIRED_PARAMETER: &str = "missing_required_parameter";
pub(crate) const INVALID_PARAMETER: &str = "invalid_parameter";
pub(crate) const INVALID_TOKEN_FORMAT: &str = "invalid_token_format";
pub(crate) const NOT_A_REFRESH_TOKEN: &str = "not_a_refresh_token";
pub(crate) const TOKEN_EXPIRED: &str = "token_expired";
pub(crate) const TOKEN_INVALID: &str = "token_invalid";
pub(crate) const MUST_BELONG_TO_PROJECT: &str = "must_belong_to_project";

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

/// The entry for an address the request names that the fake does not know, or that is
/// not the caller's to name.
pub(crate) fn must_belong_to_project(attribute: &str, why: &str) -> ValidationError {
    rejection(
        MUST_BELONG_TO_PROJECT,
        Some(attribute),
        format!("`{attribute}` {why}."),
    )
}

/// The entry for a body that is not a JSON object; `attribute` names its first required
/// field.
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

pub(crate) fn invalid(attribute: &str, why: &str) -> ValidationError {
    rejection(
        INVALID_PARAMETER,
        Some(attribute),
        format!("`{attribute}` {why}."),
    )
}

/// The body's fields, or the entry for a body that is no JSON object.
fn object<'a>(
    body: Option<&'a Value>,
    first_required: &str,
) -> Result<&'a Map<String, Value>, Vec<ValidationError>> {
    match body {
        Some(Value::Object(fields)) => Ok(fields),
        _ => Err(vec![not_an_object(first_required)]),
    }
}

/// Checks a required string field (`minLength: 1` in the spec): absent, null or empty is
/// missing; another JSON type is invalid. Returns the text when it is there.
fn required_text<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    errors: &mut Vec<ValidationError>,
) -> Option<&'a str> {
    match fields.get(name) {
        None | Some(Value::Null) => {
            errors.push(missing(name));
            None
        }
        Some(Value::String(text)) if text.is_empty() => {
            errors.push(missing(name));
            None
        }
        Some(Value::String(text)) => Some(text),
        Some(_) => {
            errors.push(invalid(name, "must be a string"));
            None
        }
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

/// A rule for a text field: the check, and what the field must be when it fails.
type TextRule = (fn(&str) -> bool, &'static str);

/// Checks an optional text field: a string, and when `rule` is given, one it accepts.
fn optional_text(
    fields: &Map<String, Value>,
    name: &str,
    rule: Option<TextRule>,
    errors: &mut Vec<ValidationError>,
) {
    match (text_field(fields, name), rule) {
        (Err(()), _) => errors.push(invalid(name, "must be a string")),
        (Ok(Some(value)), Some((is_valid, why))) if !is_valid(value) => {
            errors.push(invalid(name, why));
        }
        _ => {}
    }
}

/// Checks an optional time field: a whole number of unix seconds that fits an int64, as
/// the spec says. A time in the past is allowed: it gives a token that has expired already.
fn unix_seconds(fields: &Map<String, Value>, name: &str, errors: &mut Vec<ValidationError>) {
    match fields.get(name) {
        None | Some(Value::Null) => {}
        Some(Value::Number(number)) if number.as_i64().is_some() => {}
        Some(_) => errors.push(invalid(name, "must be a whole number of unix seconds")),
    }
}

/// The typed form of a body that passed every rule. Every rule matches a field type, so
/// this cannot fail; if it ever does, the client still gets a 422 rather than a panic.
fn typed<T: DeserializeOwned>(
    fields: &Map<String, Value>,
    errors: Vec<ValidationError>,
) -> Result<T, Vec<ValidationError>> {
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::from_value(Value::Object(fields.clone())).map_err(|error| {
        vec![rejection(
            INVALID_PARAMETER,
            None,
            format!("The body does not fit the request schema: {error}"),
        )]
    })
}

/// A UUID in its usual hyphenated 36-character form.
pub(crate) fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

fn is_region(text: &str) -> bool {
    text == "us-central"
}

const REGION_RULE: TextRule = (is_region, "must be \"us-central\"");
