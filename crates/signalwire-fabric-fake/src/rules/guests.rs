//! The rules for the bodies of the guest-token family: guest pairs, invites and embed
//! tokens. Whether a named address exists, or belongs to the caller, is the handler's
//! business: these rules check only what the body says.

use serde_json::Value;

use super::{
    REGION_RULE, invalid, is_uuid, missing, object, optional_text, required_text, typed,
    unix_seconds,
};
use crate::wire::{
    GuestEmbedTokenRequest, SubscriberGuestTokenRequest, SubscriberInviteTokenRequest,
    ValidationError,
};

/// The most addresses one guest token may allow.
pub(crate) const MAX_GUEST_ADDRESSES: usize = 10;

/// Checks a `create_subscriber_guest_token` body: 1 to 10 address ids, an optional
/// int64 `expire_at` (past ones too), and `region`/`ch` only `us-central`.
pub(crate) fn guest_request(
    body: Option<&Value>,
) -> Result<SubscriberGuestTokenRequest, Vec<ValidationError>> {
    let fields = object(body, "allowed_addresses")?;
    let mut errors = Vec::new();
    const NAME: &str = "allowed_addresses";
    match fields.get(NAME) {
        None | Some(Value::Null) => errors.push(missing(NAME)),
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(invalid(NAME, "must list at least one address id"));
        }
        Some(Value::Array(items)) if items.len() > MAX_GUEST_ADDRESSES => {
            errors.push(invalid(
                NAME,
                &format!(
                    "lists {} addresses; at most {MAX_GUEST_ADDRESSES} may be allowed",
                    items.len()
                ),
            ));
        }
        Some(Value::Array(items)) => {
            if !items.iter().all(|item| item.as_str().is_some_and(is_uuid)) {
                errors.push(invalid(NAME, "must hold only address ids (UUIDs)"));
            }
        }
        Some(_) => errors.push(invalid(NAME, "must be an array of address ids")),
    }
    unix_seconds(fields, "expire_at", &mut errors);
    optional_text(fields, "region", Some(REGION_RULE), &mut errors);
    optional_text(fields, "ch", Some(REGION_RULE), &mut errors);
    typed(fields, errors)
}

/// Checks a `create_subscriber_invite_token` body: an address id and an optional int64
/// `expires_at` (past ones too).
pub(crate) fn invite_request(
    body: Option<&Value>,
) -> Result<SubscriberInviteTokenRequest, Vec<ValidationError>> {
    let fields = object(body, "address_id")?;
    let mut errors = Vec::new();
    if let Some(address_id) = required_text(fields, "address_id", &mut errors)
        && !is_uuid(address_id)
    {
        errors.push(invalid("address_id", "must be an address id (a UUID)"));
    }
    unix_seconds(fields, "expires_at", &mut errors);
    typed(fields, errors)
}

/// Checks a `create_guest_embed_token` body: a click-to-call token, any non-empty string
/// (the spec's `minLength: 1`). Whether the fake knows it is the handler's business: an
/// unknown one, however it is shaped, is 403.
pub(crate) fn embed_request(
    body: Option<&Value>,
) -> Result<GuestEmbedTokenRequest, Vec<ValidationError>> {
    let fields = object(body, "token")?;
    let mut errors = Vec::new();
    required_text(fields, "token", &mut errors);
    typed(fields, errors)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{INVALID_PARAMETER, MISSING_REQUIRED_PARAMETER};
    use super::*;

    const ADDRESS: &str = "f371a4d1-68fc-4be1-92ba-1728b766cf1c";

    fn codes<T>(result: Result<T, Vec<ValidationError>>) -> Vec<(String, Option<String>)> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| (error.code, error.attribute))
            .collect()
    }

    fn one(code: &str, attribute: &str) -> Vec<(String, Option<String>)> {
        vec![(code.to_owned(), Some(attribute.to_owned()))]
    }

    #[test]
    fn guest_addresses_must_be_1_to_10_uuids() {
        let guest = |body: Value| codes(guest_request(Some(&body)));
        assert_eq!(
            guest(json!({})),
            one(MISSING_REQUIRED_PARAMETER, "allowed_addresses")
        );
        assert_eq!(
            guest(json!({"allowed_addresses": null})),
            one(MISSING_REQUIRED_PARAMETER, "allowed_addresses")
        );
        for bad in [
            json!([]),
            json!(vec![ADDRESS; 11]),
            json!([ADDRESS, "not-a-uuid"]),
            json!([ADDRESS, 7]),
            json!(ADDRESS),
        ] {
            assert_eq!(
                guest(json!({"allowed_addresses": bad})),
                one(INVALID_PARAMETER, "allowed_addresses"),
                "{bad}"
            );
        }
        assert!(guest(json!({"allowed_addresses": vec![ADDRESS; 10]})).is_empty());
        let found = guest(json!({
            "allowed_addresses": [ADDRESS], "expire_at": 1.5, "region": "eu", "ch": "eu"
        }));
        let attributes: Vec<Option<String>> = found.into_iter().map(|(_, a)| a).collect();
        assert_eq!(
            attributes,
            ["expire_at", "region", "ch"].map(|a| Some(a.to_owned()))
        );
        for past in [0, -1, i64::MIN] {
            assert!(
                guest(json!({"allowed_addresses": [ADDRESS], "expire_at": past})).is_empty(),
                "{past}"
            );
        }
    }

    #[test]
    fn an_invite_needs_an_address_uuid_and_an_int64_expiry() {
        let invite = |body: Value| codes(invite_request(Some(&body)));
        assert_eq!(
            invite(json!({"address_id": ""})),
            one(MISSING_REQUIRED_PARAMETER, "address_id")
        );
        assert_eq!(
            invite(json!({"address_id": " "})),
            one(INVALID_PARAMETER, "address_id")
        );
        assert_eq!(
            invite(json!({"address_id": "nope"})),
            one(INVALID_PARAMETER, "address_id")
        );
        assert_eq!(
            invite(json!({"address_id": ADDRESS, "expires_at": 1.5})),
            one(INVALID_PARAMETER, "expires_at")
        );
        for expires_at in [i64::MAX, 0, -1] {
            assert!(
                invite(json!({"address_id": ADDRESS, "expires_at": expires_at})).is_empty(),
                "{expires_at}"
            );
        }
    }

    #[test]
    fn an_embed_token_is_any_non_empty_string() {
        let embed = |body: Value| codes(embed_request(Some(&body)));
        assert_eq!(embed(json!({})), one(MISSING_REQUIRED_PARAMETER, "token"));
        assert_eq!(
            embed(json!({"token": ""})),
            one(MISSING_REQUIRED_PARAMETER, "token")
        );
        assert_eq!(embed(json!({"token": 5})), one(INVALID_PARAMETER, "token"));
        for token in [
            "0",
            " ",
            "c2c_short",
            "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f9012",
        ] {
            assert!(embed(json!({ "token": token })).is_empty(), "{token:?}");
        }
        assert_eq!(
            codes(embed_request(Some(&json!([])))),
            vec![(MISSING_REQUIRED_PARAMETER.to_owned(), None)]
        );
    }
}
