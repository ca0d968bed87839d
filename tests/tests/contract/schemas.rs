//! The JSON Schemas the suite validates bodies with: converted correctly from OpenAPI, not
//! vacuous, and agreeing with the spec's own examples.

use serde_json::{Map, Value, json};
use signalwire_fabric_contract_tests::schema::{
    is_jwt, is_uuid, request_schema, response_schema, to_json_schema, validator, violations,
};
use signalwire_fabric_contract_tests::{
    fixtures, has_request_body, request_examples, response_examples, spec,
};

fn components(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn refs_are_inlined_and_nullable_becomes_a_union_with_null() {
    let components = components(json!({
        "Outer": {
            "type": "object",
            "required": ["inner"],
            "properties": {"inner": {"$ref": "#/components/schemas/Inner"}},
            "example": {"inner": {}},
        },
        "Inner": {
            "type": "object",
            "properties": {
                "note": {"type": "string", "nullable": true, "x-internal": true},
                "color": {"type": "string", "enum": ["red"], "nullable": true},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
            },
        },
        "Tag": {"type": "string", "minLength": 1},
    }));
    let converted = to_json_schema(&json!({"$ref": "#/components/schemas/Outer"}), &components)
        .expect("resolvable");
    assert_eq!(
        converted,
        json!({
            "type": "object",
            "required": ["inner"],
            "properties": {"inner": {
                "type": "object",
                "properties": {
                    "note": {"type": ["string", "null"]},
                    "color": {"type": ["string", "null"], "enum": ["red", null]},
                    "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
                },
            }},
        })
    );
    let validator = validator(&converted);
    assert!(validator.is_valid(&json!({"inner": {"note": null, "color": null, "tags": ["a"]}})));
    assert!(!validator.is_valid(&json!({"inner": {"tags": [""]}})));
    assert!(!validator.is_valid(&json!({"inner": {"color": "blue"}})));
}

#[test]
fn refs_that_cannot_be_inlined_are_refused_with_the_reason() {
    let components = components(json!({
        "Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}},
    }));
    let recursive = to_json_schema(&json!({"$ref": "#/components/schemas/Node"}), &components)
        .expect_err("a schema that contains itself cannot be inlined");
    assert!(recursive.contains("refers to itself"), "{recursive}");
    let unknown = to_json_schema(&json!({"$ref": "#/components/schemas/Gone"}), &components)
        .expect_err("unknown");
    assert!(unknown.contains("names no schema"), "{unknown}");
    let remote = to_json_schema(&json!({"$ref": "https://example.com/s.json"}), &components)
        .expect_err("remote");
    assert!(remote.contains("does not point into"), "{remote}");
}

#[test]
fn the_jwt_and_uuid_formats_accept_exactly_their_shapes() {
    for jwt in ["a.b.c", "eyJh..iv.ct.tag", "eyJh.e30.sig_-"] {
        assert!(is_jwt(jwt), "{jwt}");
    }
    for not_jwt in [
        "",
        "a.b",
        "a.b.c.d",
        ".b.c",
        "a.b.c d",
        "a.b+.c",
        "a.b.c.d.e.f",
    ] {
        assert!(!is_jwt(not_jwt), "{not_jwt:?}");
    }
    assert!(is_uuid("2c9f4b1e-8a3d-4f6b-b7e2-5d1a9c0e3f48"));
    for not_uuid in [
        "",
        "2c9f4b1e8a3d4f6bb7e25d1a9c0e3f48",
        "2c9f4b1e-8a3d-4f6b-b7e2-5d1a9c0e3f4g",
    ] {
        assert!(!is_uuid(not_uuid), "{not_uuid:?}");
    }
}

#[test]
fn every_request_and_response_example_in_the_spec_fits_its_own_schema() {
    let spec = spec();
    let mut checked = 0;
    for operation in spec.operations() {
        if has_request_body(&spec, &operation.id) {
            let request = validator(&request_schema(&spec, &operation.id));
            for (name, example) in request_examples(&spec, &operation.id) {
                let broken = violations(&request, &example);
                assert!(
                    broken.is_empty(),
                    "{} request example {name}: {broken:#?}",
                    operation.id
                );
                checked += 1;
            }
            if let Some(body) = fixtures::every_property(&operation.id) {
                let broken = violations(&request, &body);
                assert!(
                    broken.is_empty(),
                    "{} every-property body: {broken:#?}",
                    operation.id
                );
            }
        } else {
            assert_eq!(
                fixtures::every_property(&operation.id),
                None,
                "{} takes no body",
                operation.id
            );
        }
        for status in operation.statuses() {
            let Some(schema) = response_schema(&spec, &operation.id, status) else {
                continue;
            };
            let response = validator(&schema);
            for (name, example) in response_examples(&spec, &operation.id, status) {
                let broken = violations(&response, &example);
                assert!(
                    broken.is_empty(),
                    "{} {status} example {name}: {broken:#?}",
                    operation.id
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} examples were checked");
}

#[test]
fn the_request_validators_reject_bodies_that_break_the_spec() {
    let spec = spec();
    let create = validator(&request_schema(&spec, "create_subscriber_token"));
    let refresh = validator(&request_schema(&spec, "refresh_subscriber_token"));
    let create_cases = [
        (json!({}), "reference is required"),
        (json!({"reference": ""}), "reference has minLength 1"),
        (json!({"reference": 7}), "reference is a string"),
        (
            json!({"reference": "a", "expire_at": "soon"}),
            "expire_at is an integer",
        ),
        (
            json!({"reference": "a", "application_id": "app-1"}),
            "application_id is a uuid",
        ),
        (
            json!({"reference": "a", "fingerprint": "short"}),
            "fingerprint is 43 characters",
        ),
        (
            json!({"reference": "a", "fingerprint": format!("{}!", "A".repeat(42))}),
            "fingerprint is base64url",
        ),
        (
            json!({"reference": "a", "scope": "sat:all"}),
            "scope is an enum",
        ),
        (
            json!({"reference": "a", "region": "eu-west"}),
            "region is an enum",
        ),
    ];
    for (body, rule) in create_cases {
        assert!(
            !violations(&create, &body).is_empty(),
            "{rule}: {body} passed"
        );
    }
    let refresh_cases = [
        (json!({}), "refresh_token is required"),
        (
            json!({"refresh_token": "not a token"}),
            "refresh_token is a jwt",
        ),
        (
            json!({"refresh_token": null}),
            "refresh_token is not nullable",
        ),
    ];
    for (body, rule) in refresh_cases {
        assert!(
            !violations(&refresh, &body).is_empty(),
            "{rule}: {body} passed"
        );
    }
}

#[test]
fn the_request_validators_of_the_guest_invite_embed_and_subscriber_operations_are_not_vacuous() {
    let spec = spec();
    let address = "f371a4d1-68fc-4be1-92ba-1728b766cf1c";
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("0b6a2f1d-3c4e-4d5f-8a6b-{i:012}"))
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "create_subscriber_guest_token",
            json!({}),
            "allowed_addresses is required",
        ),
        (
            "create_subscriber_guest_token",
            json!({"allowed_addresses": []}),
            "allowed_addresses has minItems 1",
        ),
        (
            "create_subscriber_guest_token",
            json!({"allowed_addresses": eleven}),
            "allowed_addresses has maxItems 10",
        ),
        (
            "create_subscriber_guest_token",
            json!({"allowed_addresses": ["room-1"]}),
            "allowed_addresses are uuids",
        ),
        (
            "create_subscriber_guest_token",
            json!({"allowed_addresses": [address], "ch": "eu-west"}),
            "ch is an enum",
        ),
        (
            "create_subscriber_invite_token",
            json!({"address_id": "room-1"}),
            "address_id is a uuid",
        ),
        (
            "create_subscriber_invite_token",
            json!({"address_id": address, "expires_at": "soon"}),
            "expires_at is an integer",
        ),
        ("create_guest_embed_token", json!({}), "token is required"),
        (
            "create_guest_embed_token",
            json!({"token": ""}),
            "token has minLength 1",
        ),
        ("create_subscriber", json!({}), "email is required"),
        (
            "create_subscriber",
            json!({"email": "a@example.com", "password": "p".repeat(7)}),
            "password has minLength 8",
        ),
        (
            "update_subscriber",
            json!({"email": "a@example.com", "password": "p".repeat(73)}),
            "password has maxLength 72",
        ),
    ];
    for (operation, body, rule) in cases {
        let request = validator(&request_schema(&spec, operation));
        assert!(
            !violations(&request, &body).is_empty(),
            "{operation}: {rule}: {body} passed"
        );
    }
}
