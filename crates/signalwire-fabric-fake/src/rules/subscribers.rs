//! The rules for `create_subscriber` and `update_subscriber` bodies (`SubscriberRequest`).

use serde_json::Value;

use super::{invalid, object, optional_text, required_text, text_field, typed};
use crate::wire::{SubscriberRequest, ValidationError};

/// How long a password may be, in characters.
const PASSWORD_LENGTHS: std::ops::RangeInclusive<usize> = 8..=72;

/// The optional text fields after `password`, in the documented order.
const TEXT_FIELDS: [&str; 7] = [
    "first_name",
    "last_name",
    "display_name",
    "job_title",
    "timezone",
    "country",
    "company_name",
];

/// Checks a subscriber's details: an email, any non-empty string (the spec documents no
/// format for it), a password of 8 to 72 characters when given, and strings elsewhere.
/// Whether another subscriber has the email is the handler's business.
pub(crate) fn subscriber_request(
    body: Option<&Value>,
) -> Result<SubscriberRequest, Vec<ValidationError>> {
    let fields = object(body, "email")?;
    let mut errors = Vec::new();
    required_text(fields, "email", &mut errors);
    match text_field(fields, "password") {
        Err(()) => errors.push(invalid("password", "must be a string")),
        Ok(Some(password)) if !PASSWORD_LENGTHS.contains(&password.chars().count()) => {
            errors.push(invalid("password", "must be 8 to 72 characters long"));
        }
        Ok(_) => {}
    }
    for name in TEXT_FIELDS {
        optional_text(fields, name, None, &mut errors);
    }
    typed(fields, errors)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{INVALID_PARAMETER, MISSING_REQUIRED_PARAMETER};
    use super::*;

    fn codes(body: Value) -> Vec<(String, Option<String>)> {
        subscriber_request(Some(&body))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| (error.code, error.attribute))
            .collect()
    }

    #[test]
    fn email_is_required_and_any_non_empty_string() {
        for body in [json!({}), json!({"email": ""}), json!({"email": null})] {
            assert_eq!(
                codes(body.clone()),
                [(
                    MISSING_REQUIRED_PARAMETER.to_owned(),
                    Some("email".to_owned())
                )],
                "{body}"
            );
        }
        assert_eq!(
            codes(json!({"email": 7})),
            [(INVALID_PARAMETER.to_owned(), Some("email".to_owned()))]
        );
        for email in ["0", " ", "alice", "@x", "a@", "a b@c"] {
            assert!(codes(json!({ "email": email })).is_empty(), "{email:?}");
        }
    }

    #[test]
    fn a_password_has_8_to_72_characters_and_every_field_is_text() {
        let with = |password: Value| codes(json!({"email": "a@b", "password": password}));
        for bad in [
            json!(""),
            json!("1234567"),
            json!("x".repeat(73)),
            json!(12345678),
        ] {
            assert_eq!(
                with(bad.clone()),
                [(INVALID_PARAMETER.to_owned(), Some("password".to_owned()))],
                "{bad}"
            );
        }
        assert!(with(json!("12345678")).is_empty());
        assert!(
            with(json!("é".repeat(72))).is_empty(),
            "characters, not bytes"
        );
        let found = codes(json!({"email": "a@b", "timezone": 1, "company_name": []}));
        let attributes: Vec<Option<String>> = found.into_iter().map(|(_, a)| a).collect();
        assert_eq!(
            attributes,
            [Some("timezone".to_owned()), Some("company_name".to_owned())]
        );
        let typed =
            subscriber_request(Some(&json!({"email": "a@b", "country": "SE"}))).expect("valid");
        assert_eq!(typed.country.as_deref(), Some("SE"));
    }
}
