//! The rules for `create_subscriber_token` and `refresh_subscriber_token` bodies.

use serde_json::Value;

use super::{
    INVALID_TOKEN_FORMAT, NOT_A_REFRESH_TOKEN, REGION_RULE, TOKEN_EXPIRED, TOKEN_INVALID, TextRule,
    invalid, is_uuid, missing, not_an_object, object, optional_text, rejection, required_text,
    typed, unix_seconds,
};
use crate::tokens;
use crate::wire::{RefreshSubscriberTokenRequest, SubscriberTokenRequest, ValidationError};

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
    ("region", Some(REGION_RULE)),
];

pub(crate) fn not_a_refresh_token() -> ValidationError {
    rejection(
        NOT_A_REFRESH_TOKEN,
        Some("refresh_token"),
        "This is not a refresh token; send the refresh token of the pair instead.",
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

/// Checks a `create_subscriber_token` body: a non-empty `reference`, an int64
/// `expire_at` (past ones too), and the optional fields' own rules.
pub(crate) fn create_request(
    body: Option<&Value>,
) -> Result<SubscriberTokenRequest, Vec<ValidationError>> {
    let fields = object(body, "reference")?;
    let mut errors = Vec::new();
    required_text(fields, "reference", &mut errors);
    unix_seconds(fields, "expire_at", &mut errors);
    for (name, rule) in TEXT_FIELDS {
        optional_text(fields, name, rule, &mut errors);
    }
    typed(fields, errors)
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

fn is_scope(text: &str) -> bool {
    text == "sat:refresh"
}

fn is_fingerprint(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::super::{INVALID_PARAMETER, MISSING_REQUIRED_PARAMETER};
    use super::*;
    use serde_json::json;

    fn codes(body: Value) -> Vec<(String, Option<String>)> {
        create_request(Some(&body))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| (error.code, error.attribute))
            .collect()
    }

    #[test]
    fn every_broken_create_rule_is_reported_in_field_order() {
        let found = codes(json!({
            "reference": "",
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
        let request = create_request(Some(&body)).expect("valid");
        assert_eq!(request.reference, "alice@example.com");
        assert_eq!(request.expire_at, i64::try_from(future).ok());
        assert_eq!(request.scope, Some(crate::wire::Scope::SatRefresh));
        assert_eq!(request.display_name, None);
    }

    #[test]
    fn expire_at_is_any_int64_and_the_reference_any_non_empty_string() {
        for expire_at in [json!("1795000000"), json!(u64::MAX), json!(1.5)] {
            assert_eq!(
                codes(json!({"reference": "a", "expire_at": expire_at})),
                [(INVALID_PARAMETER.to_owned(), Some("expire_at".to_owned()))],
                "{expire_at}"
            );
        }
        for expire_at in [0, -5, i64::MIN, i64::MAX] {
            assert!(
                codes(json!({"reference": "a", "expire_at": expire_at})).is_empty(),
                "{expire_at}"
            );
        }
        for reference in ["0", " ", "not an email"] {
            assert!(
                codes(json!({ "reference": reference })).is_empty(),
                "{reference:?}"
            );
        }
        assert_eq!(
            codes(json!({"reference": ""})),
            [(
                MISSING_REQUIRED_PARAMETER.to_owned(),
                Some("reference".to_owned())
            )]
        );
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
