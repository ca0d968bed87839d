//! Each invariant `Spec::parse` enforces, broken once, with the error naming the culprit.

use signalwire_codegen::{Error, Spec};

/// A minimal spec that satisfies every invariant; each test breaks one thing in it.
const VALID: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    post:
      operationId: make_thing
      summary: Make a thing
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Thing'}
            example: {name: x}
      responses:
        '201':
          description: made
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Thing'}
              example: {name: x}
        '422':
          description: rejected
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Problem'}
              example: {error: bad}
components:
  schemas:
    Thing: {type: object, properties: {name: {type: string}}}
    Problem: {type: object, properties: {error: {type: string}}}
    Other: {type: object, properties: {error: {type: string}}}
"##;

fn broken(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "the fixture has no {from:?}");
    VALID.replacen(from, to, 1)
}

fn invariant_message(yaml: &str) -> String {
    match Spec::parse(yaml) {
        Err(error @ Error::Invariant { .. }) => error.to_string(),
        other => panic!("expected an invariant error, got {other:?}"),
    }
}

#[test]
fn the_fixture_itself_is_valid_and_lists_its_statuses() {
    let spec = Spec::parse(VALID).expect("valid");
    let operation = spec.operation("make_thing").expect("present");
    assert_eq!(operation.method, "POST");
    assert_eq!(operation.success_statuses, vec![201]);
    assert_eq!(operation.error_statuses, vec![422]);
}

#[test]
fn openapi_3_1_is_refused() {
    let message = invariant_message(&broken("openapi: 3.0.3", "openapi: 3.1.0"));
    assert_eq!(
        message,
        "openapi: version 3.1.0 is not 3.0.x, the only version progenitor reads"
    );
}

#[test]
fn a_missing_operation_id_names_the_method_and_path() {
    let message = invariant_message(&broken("      operationId: make_thing\n", ""));
    assert_eq!(message, "POST /things: has no operationId");
}

#[test]
fn a_request_body_without_an_example_names_the_operation() {
    let message = invariant_message(&broken(
        "            example: {name: x}\n      responses",
        "      responses",
    ));
    assert_eq!(
        message,
        "operation make_thing (POST /things): request body: has no example"
    );
}

#[test]
fn two_error_schemas_on_one_operation_are_refused() {
    let yaml = broken(
        "components:",
        "        '500':\n          description: broken\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Other'}\n              example: {error: boom}\ncomponents:",
    );
    let message = invariant_message(&yaml);
    assert!(
        message.starts_with("operation make_thing (POST /things): response 500: uses schema Other"),
        "{message}"
    );
}

#[test]
fn an_operation_without_error_responses_is_refused() {
    let yaml = VALID.replace(
        "        '422':\n          description: rejected\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Problem'}\n              example: {error: bad}\n",
        "",
    );
    assert_ne!(yaml, VALID);
    assert_eq!(
        invariant_message(&yaml),
        "operation make_thing (POST /things): documents no error schema"
    );
}

#[test]
fn a_response_without_an_example_is_refused() {
    let message = invariant_message(&broken("              example: {error: bad}\n", ""));
    assert_eq!(
        message,
        "operation make_thing (POST /things): response 422: has no example"
    );
}

#[test]
fn string_patterns_do_not_pull_a_regex_engine_into_the_client() {
    let yaml = broken(
        "Thing: {type: object, properties: {name: {type: string}}}",
        "Thing: {type: object, properties: {name: {type: string, pattern: '^[a-z]{3}$'}}}",
    );
    let source = Spec::parse(&yaml)
        .expect("valid")
        .generate_client()
        .expect("generates");
    assert!(
        !source.contains("regress"),
        "the pattern reached the generated code"
    );
    let document = format!("{:?}", Spec::parse(&yaml).expect("valid").document());
    assert!(
        document.contains("^[a-z]{3}$"),
        "the spec itself keeps the pattern"
    );
}

#[test]
fn generation_is_deterministic() {
    let spec = Spec::parse(VALID).expect("valid");
    let first = spec.generate_client().expect("generates");
    assert_eq!(first, spec.generate_client().expect("generates"));
    assert!(
        first.contains("pub async fn send("),
        "a send method per operation"
    );
}
