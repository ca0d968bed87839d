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
//! - [`fixtures`] holds the credentials, path parameters and request values the suite
//!   sends, and lists every secret a snapshot must never contain.
//! - [`credentials`] reads which credentials (Basic, Bearer or none) the spec documents
//!   for an operation.

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

/// Whether `operation_id` takes a request body at all (GET and DELETE do not).
pub fn has_request_body(spec: &Spec, operation_id: &str) -> bool {
    openapi_operation(spec, operation_id).request_body.is_some()
}

/// The credentials an operation is documented to be sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic: the project id and an API token.
    Basic,
    /// HTTP Bearer: a subscriber's access token.
    Bearer,
    /// None at all (`security: []`).
    None,
}

impl std::fmt::Display for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Basic => "Basic",
            Credentials::Bearer => "Bearer",
            Credentials::None => "none",
        })
    }
}

/// The credentials `operation_id` is documented with: its own `security`, or the
/// document's when it has none. A requirement the suite cannot check (alternatives, an
/// API key, OAuth) is an error naming it, never read as "no credentials".
pub fn documented_credentials(spec: &Spec, operation_id: &str) -> Result<Credentials, String> {
    let document = spec.document();
    let requirements = openapi_operation(spec, operation_id)
        .security
        .as_ref()
        .or(document.security.as_ref())
        .ok_or_else(|| format!("{operation_id}: neither it nor the document says `security`"))?;
    let names: Vec<&String> = match requirements.as_slice() {
        [] => return Ok(Credentials::None),
        [only] => only.keys().collect(),
        several => {
            return Err(format!(
                "{operation_id}: {} alternative security requirements; the suite checks one",
                several.len()
            ));
        }
    };
    let [name] = names.as_slice() else {
        return Err(format!(
            "{operation_id}: a requirement of several schemes at once: {names:?}"
        ));
    };
    let scheme = document
        .components
        .as_ref()
        .and_then(|components| components.security_schemes.get(name.as_str()));
    match scheme {
        Some(ReferenceOr::Item(openapiv3::SecurityScheme::HTTP { scheme, .. })) => {
            match scheme.to_ascii_lowercase().as_str() {
                "basic" => Ok(Credentials::Basic),
                "bearer" => Ok(Credentials::Bearer),
                other => Err(format!(
                    "{operation_id}: HTTP scheme {other:?} ({name}) is not one the suite checks"
                )),
            }
        }
        _ => Err(format!(
            "{operation_id}: security scheme {name} is not HTTP basic or bearer"
        )),
    }
}

/// [`documented_credentials`], for tests: a scheme the suite cannot check fails them.
pub fn credentials(spec: &Spec, operation_id: &str) -> Credentials {
    documented_credentials(spec, operation_id).unwrap_or_else(|problem| panic!("{problem}"))
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

/// The JSON examples the spec gives for `operation_id`'s request body, by name; none for
/// an operation without a request body.
pub fn request_examples(spec: &Spec, operation_id: &str) -> Vec<(String, Value)> {
    if !has_request_body(spec, operation_id) {
        return Vec::new();
    }
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

/// The spec's first success status for `operation_id` and its first example body, or
/// `None` for a success documented without a body (a 204).
pub fn success_answer(spec: &Spec, operation_id: &str) -> (u16, Option<Value>) {
    let operation = spec
        .operation(operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id} in the spec"));
    let status = *operation
        .success_statuses
        .first()
        .unwrap_or_else(|| panic!("{operation_id} documents no success"));
    if response_media(spec, operation_id, status).is_none() {
        return (status, None);
    }
    (status, Some(success_example(spec, operation_id).1))
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
