//! What the contract suite reads from the spec: operations and their examples.

use std::path::PathBuf;

use openapiv3::{MediaType, ReferenceOr};
use serde_json::Value;
use signalwire_codegen::{SPEC_PATH, Spec};

/// The project's spec, loaded and checked.
pub fn spec() -> Spec {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SPEC_PATH);
    Spec::load(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The JSON examples the spec gives for `operation_id`'s response with `status`, by name.
pub fn response_examples(spec: &Spec, operation_id: &str, status: u16) -> Vec<(String, Value)> {
    let document = spec.document();
    let operation = document
        .operations()
        .find(|(_, _, operation)| operation.operation_id.as_deref() == Some(operation_id))
        .map(|(_, _, operation)| operation)
        .unwrap_or_else(|| panic!("no operation {operation_id} in the spec"));
    let response = operation
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
                .and_then(|c| c.responses.get(name))
            {
                Some(ReferenceOr::Item(response)) => response,
                _ => panic!("{operation_id} {status}: unresolvable {reference}"),
            }
        }
    };
    response
        .content
        .get("application/json")
        .map(media_examples)
        .unwrap_or_default()
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
