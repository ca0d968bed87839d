//! Schema drift between the spec and the fake: every component schema of the spec against
//! the JSON Schema schemars derives for the fake's wire type of the same name
//! (`signalwire_fabric_fake::wire`), property by property (see
//! `signalwire_fabric_contract_tests::drift` for what is compared and how `Option<T>` is
//! read). The self-tests below prove that the comparison can fail.

use std::collections::BTreeMap;
use std::io::Write as _;

use schemars::JsonSchema;
use serde_json::{Map, Value, json};
use signalwire_fabric_contract_tests::drift::{Accepted, Finding, compare};
use signalwire_fabric_contract_tests::schema::components;
use signalwire_fabric_contract_tests::spec;
use signalwire_fabric_fake::wire;

/// Differences between the spec and the fake's wire types that are known and accepted.
/// Each entry must still be needed: one that covers no finding fails the suite.
///
/// Empty today: the wire types carry every `format` the spec sets (`uuid` and `jwt`
/// included, through `#[schemars(extend("format" = ...))]`). Should a wire type ever
/// drop `format: jwt` (a format schemars does not know), list it here with the reason,
/// e.g. `Accepted { path: "RefreshSubscriberTokenRequest.refresh_token", aspect: "format",
/// why: "..." }`.
const ACCEPTED: &[Accepted] = &[];

/// Wire types that are not component schemas of their own: schemars inlines them
/// (`#[schemars(inline)]`) into the property that uses them, where they are compared.
const INLINED_WIRE_TYPES: &[(&str, &str)] = &[
    ("Scope", "inlined as SubscriberTokenRequest.scope"),
    (
        "Region",
        "inlined as SubscriberTokenRequest.region and SubscriberGuestTokenRequest.region/ch",
    ),
    (
        "ResourceType",
        "inlined as SubscriberResponse.type and SubscriberAddress.type",
    ),
];

/// The name schemars gives `T` and the root schema it derives for it, as JSON.
fn derived<T: JsonSchema>() -> (String, Value) {
    let schema = schemars::schema_for!(T);
    let json = serde_json::to_value(&schema).expect("a schemars schema is JSON");
    (T::schema_name().into_owned(), json)
}

/// The schema of every wire type that stands for a spec component, by schemars' name for
/// it (the Rust type's name), so renaming either side breaks the pairing.
fn wire_schemas() -> BTreeMap<String, Value> {
    BTreeMap::from([
        derived::<wire::SubscriberTokenRequest>(),
        derived::<wire::SubscriberTokenResponse>(),
        derived::<wire::RefreshSubscriberTokenRequest>(),
        derived::<wire::RefreshSubscriberTokenResponse>(),
        derived::<wire::SubscriberGuestTokenRequest>(),
        derived::<wire::SubscriberGuestTokenResponse>(),
        derived::<wire::SubscriberInviteTokenRequest>(),
        derived::<wire::SubscriberInviteTokenResponse>(),
        derived::<wire::GuestEmbedTokenRequest>(),
        derived::<wire::GuestEmbedTokenResponse>(),
        derived::<wire::SubscriberRequest>(),
        derived::<wire::SubscriberResponse>(),
        derived::<wire::SubscriberDetails>(),
        derived::<wire::SubscriberAddress>(),
        derived::<wire::AddressChannels>(),
        derived::<wire::PageLinks>(),
        derived::<wire::SubscriberPage>(),
        derived::<wire::SubscriberAddressPage>(),
        derived::<wire::ErrorResponse>(),
        derived::<wire::ValidationError>(),
    ])
}

fn spec_components() -> Value {
    Value::Object(components(&spec()))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// `value` at the JSON pointer `pointer`, for editing.
fn at<'a>(value: &'a mut Value, pointer: &str) -> &'a mut Value {
    value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer}"))
}

/// The findings once `edit_spec` has changed the spec's components and `edit_wire` the
/// derived schemas.
fn findings_after(
    edit_spec: impl FnOnce(&mut Value),
    edit_wire: impl FnOnce(&mut BTreeMap<String, Value>),
) -> Vec<Finding> {
    let mut components = spec_components();
    edit_spec(&mut components);
    let mut wire = wire_schemas();
    edit_wire(&mut wire);
    compare(&object(components), &wire).findings
}

/// Asserts that `findings` are exactly one per `(path, aspect)` in `expected` (in any
/// order).
fn assert_findings(findings: &[Finding], expected: &[(&str, &str)]) {
    let mut got: Vec<(&str, &str)> = findings
        .iter()
        .map(|finding| (finding.path.as_str(), finding.aspect.as_str()))
        .collect();
    got.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert_eq!(got, expected, "findings:\n{}", shown.join("\n"));
}

#[test]
fn every_spec_component_schema_matches_the_fake_wire_type_of_the_same_name() {
    let components = components(&spec());
    let comparison = compare(&components, &wire_schemas());
    // Written past the test harness's capture, so the table shows in every run's output.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nspec components vs the fake's wire types (schemars):\n{}\n",
        comparison.table()
    );
    let unaccepted: Vec<String> = comparison
        .unaccepted(ACCEPTED)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        unaccepted.is_empty(),
        "the fake's wire types (crates/signalwire-fabric-fake/src/wire.rs) and the spec's \
         component schemas disagree:\n{}",
        unaccepted.join("\n")
    );
    let stale: Vec<&Accepted> = comparison.stale(ACCEPTED);
    assert!(
        stale.is_empty(),
        "accepted differences that no longer occur (remove them from ACCEPTED): {stale:#?}"
    );
    // Not vacuous: every property of every component was compared.
    for (name, schema) in &components {
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        let rows = comparison
            .rows
            .iter()
            .filter(|row| row.path.starts_with(&format!("{name}.")))
            .count();
        assert!(
            properties > 0 && rows == properties,
            "{name}: {rows} rows for {properties} properties"
        );
    }
}

#[test]
fn every_wire_type_in_wire_rs_is_compared_or_known_to_be_inlined() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/signalwire-fabric-fake/src/wire.rs");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let defined: Vec<String> = source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("pub struct ")
                .or_else(|| line.strip_prefix("pub enum "))
        })
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert!(defined.len() >= 6, "found only {defined:?} in wire.rs");
    let compared = wire_schemas();
    for name in &defined {
        assert!(
            compared.contains_key(name)
                || INLINED_WIRE_TYPES
                    .iter()
                    .any(|(inlined, _)| inlined == name),
            "wire::{name} is neither compared with a spec component (add it to wire_schemas) \
             nor listed in INLINED_WIRE_TYPES"
        );
    }
    for (name, why) in INLINED_WIRE_TYPES {
        assert!(
            defined.contains(&(*name).to_owned()),
            "INLINED_WIRE_TYPES names {name} ({why}), which wire.rs no longer defines"
        );
        for (owner, schema) in &compared {
            assert!(
                schema.pointer(&format!("/$defs/{name}")).is_none(),
                "{name} is listed as inlined ({why}) but {owner}'s schema refers to it"
            );
        }
    }
}

#[test]
fn a_required_field_dropped_from_the_spec_is_reported() {
    let findings = findings_after(
        |spec| {
            at(spec, "/SubscriberTokenResponse/required")
                .as_array_mut()
                .expect("a list")
                .retain(|name| name != "token");
        },
        |_| {},
    );
    assert_findings(&findings, &[("SubscriberTokenResponse", "required")]);
    assert!(
        findings[0]
            .to_string()
            .contains("refresh_token, subscriber_id, token"),
        "{}",
        findings[0]
    );
}

#[test]
fn a_required_field_dropped_from_the_wire_type_is_reported() {
    let findings = findings_after(
        |_| {},
        |wire| {
            let schema = wire.get_mut("ValidationError").expect("registered");
            at(schema, "/required")
                .as_array_mut()
                .expect("a list")
                .retain(|name| name != "url");
        },
    );
    assert_findings(&findings, &[("ValidationError", "required")]);
}

#[test]
fn a_changed_property_type_is_reported() {
    let findings = findings_after(
        |spec| {
            *at(
                spec,
                "/RefreshSubscriberTokenRequest/properties/refresh_token/type",
            ) = json!("integer");
        },
        |_| {},
    );
    assert_findings(
        &findings,
        &[("RefreshSubscriberTokenRequest.refresh_token", "type")],
    );
    assert!(
        findings[0]
            .to_string()
            .contains("spec: integer; fake: string"),
        "{}",
        findings[0]
    );
}

#[test]
fn a_property_only_one_side_has_is_reported() {
    let findings = findings_after(
        |spec| {
            at(spec, "/SubscriberTokenRequest/properties")
                .as_object_mut()
                .expect("properties")
                .insert("locale".to_owned(), json!({"type": "string"}));
        },
        |wire| {
            let schema = wire.get_mut("ErrorResponse").expect("registered");
            at(schema, "/properties")
                .as_object_mut()
                .expect("properties")
                .remove("error");
        },
    );
    assert_findings(
        &findings,
        &[
            ("ErrorResponse", "properties"),
            ("SubscriberTokenRequest", "properties"),
        ],
    );
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(
        text.contains("ErrorResponse: properties differs (spec: also error; fake: nothing else)"),
        "{text}"
    );
    assert!(
        text.contains(
            "SubscriberTokenRequest: properties differs (spec: also locale; fake: nothing else)"
        ),
        "{text}"
    );
}

#[test]
fn a_changed_format_enum_length_or_pattern_is_reported() {
    let findings = findings_after(
        |spec| {
            let request = at(spec, "/SubscriberTokenRequest/properties");
            request["application_id"]["format"] = json!("uri");
            request["region"]["enum"] = json!(["us-central", "eu-west"]);
            request["fingerprint"]["maxLength"] = json!(44);
            request["fingerprint"]["pattern"] = json!("^[A-Za-z0-9]{43}$");
            request["reference"]
                .as_object_mut()
                .expect("a schema")
                .remove("minLength");
            at(spec, "/SubscriberTokenResponse/properties/token")
                .as_object_mut()
                .expect("a schema")
                .remove("format");
        },
        |_| {},
    );
    assert_findings(
        &findings,
        &[
            ("SubscriberTokenRequest.application_id", "format"),
            ("SubscriberTokenRequest.fingerprint", "maxLength"),
            ("SubscriberTokenRequest.fingerprint", "pattern"),
            ("SubscriberTokenRequest.reference", "minLength"),
            ("SubscriberTokenRequest.region", "enum"),
            ("SubscriberTokenResponse.token", "format"),
        ],
    );
}

#[test]
fn option_reads_as_optional_where_the_spec_allows_absence_and_null_only_where_nullable() {
    // Today: `ValidationError.attribute` is `Option<String>` and `nullable: true`, the
    // optional request fields are `Option<T>` and not nullable; all the same.
    assert_findings(&findings_after(|_| {}, |_| {}), &[]);

    // The spec makes `attribute` required (still nullable): only `required` differs.
    let required = findings_after(
        |spec| {
            at(spec, "/ValidationError/required")
                .as_array_mut()
                .expect("a list")
                .push(json!("attribute"));
        },
        |_| {},
    );
    assert_findings(&required, &[("ValidationError", "required")]);

    // Required and not nullable in the spec, `Option<T>` (and not required) in Rust.
    let not_nullable = findings_after(
        |spec| {
            at(spec, "/ValidationError/properties/attribute")
                .as_object_mut()
                .expect("a schema")
                .remove("nullable");
            at(spec, "/ValidationError/required")
                .as_array_mut()
                .expect("a list")
                .push(json!("attribute"));
        },
        |_| {},
    );
    assert_findings(
        &not_nullable,
        &[
            ("ValidationError", "required"),
            ("ValidationError.attribute", "nullable"),
        ],
    );
    assert!(
        not_nullable.iter().any(|finding| finding.to_string()
            == "ValidationError.attribute: nullable differs (spec: required and not \
                    nullable; fake: null is allowed)"),
        "{not_nullable:#?}"
    );

    // Required in both, not nullable in the spec, `Option<T>` in Rust: null is drift.
    let required_option = findings_after(
        |spec| {
            at(spec, "/ValidationError/properties/attribute")
                .as_object_mut()
                .expect("a schema")
                .remove("nullable");
            at(spec, "/ValidationError/required")
                .as_array_mut()
                .expect("a list")
                .push(json!("attribute"));
        },
        |wire| {
            let schema = wire.get_mut("ValidationError").expect("registered");
            at(schema, "/required")
                .as_array_mut()
                .expect("a list")
                .push(json!("attribute"));
        },
    );
    assert_findings(
        &required_option,
        &[("ValidationError.attribute", "nullable")],
    );

    // `nullable: true` in the spec for a field the Rust type cannot leave null.
    let nullable = findings_after(
        |spec| {
            at(spec, "/RefreshSubscriberTokenResponse/properties/token")["nullable"] = json!(true);
        },
        |_| {},
    );
    assert_findings(
        &nullable,
        &[("RefreshSubscriberTokenResponse.token", "nullable")],
    );
}

#[test]
fn a_component_without_a_wire_type_is_reported_and_so_is_a_wire_type_without_one() {
    let findings = findings_after(
        |spec| {
            spec.as_object_mut().expect("components").insert(
                "RevokeSubscriberTokenRequest".to_owned(),
                json!({"type": "object", "properties": {"refresh_token": {"type": "string"}}}),
            );
        },
        |wire| {
            let (_, schema) = derived::<wire::Scope>();
            wire.insert("Scope".to_owned(), schema);
        },
    );
    assert_findings(
        &findings,
        &[
            ("RevokeSubscriberTokenRequest", "component"),
            ("Scope", "component"),
        ],
    );
}

#[test]
fn array_items_that_refer_to_another_schema_are_reported() {
    let findings = findings_after(
        |spec| {
            *at(spec, "/ErrorResponse/properties/errors/items/$ref") =
                json!("#/components/schemas/SubscriberTokenResponse");
        },
        |_| {},
    );
    assert_findings(&findings, &[("ErrorResponse.errors[]", "ref")]);

    let items_type = findings_after(
        |_| {},
        |wire| {
            let schema = wire.get_mut("ErrorResponse").expect("registered");
            *at(schema, "/properties/errors/items") = json!({"type": "string"});
        },
    );
    assert_findings(
        &items_type,
        &[
            ("ErrorResponse.errors[]", "type"),
            ("ErrorResponse.errors[]", "ref"),
        ],
    );
}

#[test]
fn a_keyword_the_comparison_does_not_know_is_reported_not_skipped() {
    let findings = findings_after(
        |_| {},
        |wire| {
            let schema = wire.get_mut("SubscriberTokenRequest").expect("registered");
            at(schema, "/properties/country")["contentEncoding"] = json!("base64");
        },
    );
    assert_findings(
        &findings,
        &[("SubscriberTokenRequest.country", "unsupported")],
    );
}

#[test]
fn other_schemars_forms_of_option_and_enums_read_the_same() {
    // What schemars emits for an `Option` of a named type and for an enum whose variants
    // carry doc comments: an `anyOf` with `null`, and a `oneOf` of constants.
    let findings = findings_after(
        |_| {},
        |wire| {
            let schema = wire.get_mut("SubscriberTokenRequest").expect("registered");
            *at(schema, "/properties/scope") = json!({
                "anyOf": [{"$ref": "#/$defs/Scope"}, {"type": "null"}],
            });
            *at(schema, "/properties/region") = json!({
                "oneOf": [{"type": "string", "const": "us-central", "description": "US"}],
            });
            schema["$defs"] = json!({"Scope": {"type": "string", "enum": ["sat:refresh"]}});
        },
    );
    assert_findings(&findings, &[]);
}

#[test]
fn an_accepted_difference_covers_exactly_its_finding_and_a_stale_one_is_named() {
    let mut wire = wire_schemas();
    let schema = wire
        .get_mut("RefreshSubscriberTokenRequest")
        .expect("registered");
    at(schema, "/properties/refresh_token")
        .as_object_mut()
        .expect("a schema")
        .remove("format");
    let comparison = compare(&components(&spec()), &wire);
    let jwt = Accepted {
        path: "RefreshSubscriberTokenRequest.refresh_token",
        aspect: "format",
        why: "schemars knows no jwt format",
    };
    let gone = Accepted {
        path: "SubscriberTokenRequest.password",
        aspect: "format",
        why: "no longer true",
    };
    assert_eq!(comparison.findings.len(), 1, "{:#?}", comparison.findings);
    assert!(comparison.unaccepted(&[]).len() == 1);
    assert!(comparison.unaccepted(&[jwt, gone]).is_empty());
    assert_eq!(comparison.stale(&[jwt, gone]), vec![&gone]);
}

#[test]
fn drift_in_the_guest_and_subscriber_components_is_reported_down_to_array_items() {
    let findings = findings_after(
        |spec| {
            at(
                spec,
                "/SubscriberGuestTokenRequest/properties/allowed_addresses/items",
            )
            .as_object_mut()
            .expect("a schema")
            .remove("format");
            at(
                spec,
                "/SubscriberGuestTokenRequest/properties/allowed_addresses",
            )["maxItems"] = json!(20);
            *at(spec, "/SubscriberPage/properties/data/items/$ref") =
                json!("#/components/schemas/SubscriberAddress");
            at(spec, "/SubscriberResponse/required")
                .as_array_mut()
                .expect("a list")
                .push(json!("project_id"));
        },
        |wire| {
            let schema = wire.get_mut("PageLinks").expect("registered");
            at(schema, "/properties")
                .as_object_mut()
                .expect("properties")
                .remove("prev");
        },
    );
    assert_findings(
        &findings,
        &[
            ("PageLinks", "properties"),
            ("SubscriberGuestTokenRequest.allowed_addresses", "maxItems"),
            ("SubscriberGuestTokenRequest.allowed_addresses[]", "format"),
            ("SubscriberPage.data[]", "ref"),
            ("SubscriberResponse", "required"),
            // Required now, but the wire type's `Option` would still allow null.
            ("SubscriberResponse.project_id", "nullable"),
        ],
    );
}
