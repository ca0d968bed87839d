//! The contract suite's shared knowledge: what it reads from the spec, which contract cases
//! exist, and the fixtures every test uses.
//!
//! - [`cases`] is the one registry of contract cases: a request case per way an operation
//!   is driven, a response case per documented (operationId, status) pair.
//! - [`coverage`] compares that registry with the spec; the suite fails while a documented
//!   pair has no case or a case has no documented pair (`cargo xtask contract-coverage`
//!   prints the same table).
//! - [`schema`] turns the spec's OpenAPI 3.0 schemas into JSON Schema validators.
//! - [`drift`] compares the spec's component schemas with the JSON Schemas derived from
//!   the fake's wire types, property by property.
//! - [`fixtures`] holds the credentials and request values the suite sends, and lists
//!   every secret a snapshot must never contain.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use openapiv3::{MediaType, ReferenceOr};
use serde_json::Value;
use signalwire_codegen::{SPEC_PATH, Spec};

pub mod cases;
pub mod coverage;
pub mod drift;
pub mod fixtures;
pub mod schema;

/// The project's spec, loaded and checked.
pub fn spec() -> Spec {
    let path = spec_path();
    Spec::load(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Where the project's spec lives on disk.
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SPEC_PATH)
}

/// The OpenAPI operation with this operationId.
pub fn openapi_operation<'a>(spec: &'a Spec, operation_id: &str) -> &'a openapiv3::Operation {
    spec.document()
        .operations()
        .find(|(_, _, operation)| operation.operation_id.as_deref() == Some(operation_id))
        .map(|(_, _, operation)| operation)
        .unwrap_or_else(|| panic!("no operation {operation_id} in the spec"))
}

/// The JSON media type of `operation_id`'s request body.
pub fn request_media<'a>(spec: &'a Spec, operation_id: &str) -> &'a MediaType {
    let document = spec.document();
    let body = match openapi_operation(spec, operation_id).request_body.as_ref() {
        Some(ReferenceOr::Item(body)) => body,
        Some(ReferenceOr::Reference { reference }) => {
            let name = reference.trim_start_matches("#/components/requestBodies/");
            match document
                .components
                .as_ref()
                .and_then(|components| components.request_bodies.get(name))
            {
                Some(ReferenceOr::Item(body)) => body,
                _ => panic!("{operation_id}: unresolvable request body {reference}"),
            }
        }
        None => panic!("{operation_id} has no request body"),
    };
    body.content
        .get("application/json")
        .unwrap_or_else(|| panic!("{operation_id}: the request body is not application/json"))
}

/// The JSON media type of `operation_id`'s response with `status`, if it has a body.
pub fn response_media<'a>(
    spec: &'a Spec,
    operation_id: &str,
    status: u16,
) -> Option<&'a MediaType> {
    let document = spec.document();
    let response = openapi_operation(spec, operation_id)
        .responses
        .responses
        .get(&openapiv3::StatusCode::Code(status))
        .unwrap_or_else(|| panic!("{operation_id} documents no {status}"));
    let response = match response {
        ReferenceOr::Item(response) => response,
        ReferenceOr::Reference { reference } => {
            let name = reference.trim_start_matches("#/components/responses/");
            match document
                .components
                .as_ref()
                .and_then(|components| components.responses.get(name))
            {
                Some(ReferenceOr::Item(response)) => response,
                _ => panic!("{operation_id} {status}: unresolvable {reference}"),
            }
        }
    };
    response.content.get("application/json")
}

/// The JSON examples the spec gives for `operation_id`'s response with `status`, by name.
pub fn response_examples(spec: &Spec, operation_id: &str, status: u16) -> Vec<(String, Value)> {
    response_media(spec, operation_id, status)
        .map(media_examples)
        .unwrap_or_default()
}

/// The JSON examples the spec gives for `operation_id`'s request body, by name.
pub fn request_examples(spec: &Spec, operation_id: &str) -> Vec<(String, Value)> {
    media_examples(request_media(spec, operation_id))
}

/// The spec's first success status for `operation_id` and its first example body.
pub fn success_example(spec: &Spec, operation_id: &str) -> (u16, Value) {
    let operation = spec
        .operation(operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id} in the spec"));
    let status = *operation
        .success_statuses
        .first()
        .unwrap_or_else(|| panic!("{operation_id} documents no success"));
    let (_, example) = response_examples(spec, operation_id, status)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{operation_id} {status} has no example"));
    (status, example)
}

fn media_examples(media: &MediaType) -> Vec<(String, Value)> {
    let mut examples: Vec<(String, Value)> = media
        .examples
        .iter()
        .filter_map(|(name, example)| match example {
            ReferenceOr::Item(example) => Some((name.clone(), example.value.clone()?)),
            ReferenceOr::Reference { .. } => None,
        })
        .collect();
    if let Some(example) = &media.example {
        examples.push(("example".to_owned(), example.clone()));
    }
    examples
}
