//! Every documented status of every operation, answered with the spec's own examples,
//! becomes the typed result its registered case expects.

use serde_json::Value;
use signalwire_fabric::Error;
use signalwire_fabric_contract_tests::cases::{Expected, RESPONSE_CASES, ResponseCase};
use signalwire_fabric_contract_tests::{response_examples, spec};

use crate::driver::{self, Outcome};
use crate::support::{
    assert_round_trip, assert_text_snapshot, client_for, error_facts, json_response, lifetimes,
    serve, slug,
};

/// Serves each of the spec's examples for `case` and hands back what the facade made of
/// them, by example name.
async fn serve_examples(case: &ResponseCase) -> Vec<(String, Value, Outcome)> {
    let spec = spec();
    let operation = spec
        .operation(case.operation)
        .unwrap_or_else(|| panic!("{} is not in the spec", case.operation));
    let body = driver::default_body(&spec, case.operation);
    let examples = response_examples(&spec, case.operation, case.status);
    assert!(
        !examples.is_empty(),
        "{} {}: the spec gives no example to serve",
        case.operation,
        case.status
    );
    let mut outcomes = Vec::new();
    for (name, example) in examples {
        let server = serve(operation, json_response(case.status, &example)).await;
        let outcome = driver::call(&client_for(&server), &operation.id, &body).await;
        outcomes.push((name, example, outcome));
    }
    outcomes
}

/// The example's `error` text.
fn error_text(example: &Value) -> Option<&str> {
    example.get("error").and_then(Value::as_str)
}

/// Asserts that `outcome` is what `case` expects, with every field the example carries.
fn assert_expected(case: &ResponseCase, name: &str, example: &Value, outcome: &Outcome) {
    let label = format!("{} {} example {name}", case.operation, case.status);
    match (case.expected, &outcome.result) {
        (Expected::TokenPair, Ok(issued)) => assert_round_trip(&label, example, issued),
        (Expected::Unauthorized, Err(Error::Unauthorized { message }))
        | (Expected::Forbidden, Err(Error::Forbidden { message }))
        | (Expected::NotFound, Err(Error::NotFound { message })) => {
            assert_eq!(message.as_deref(), error_text(example), "{label}");
        }
        (
            Expected::ServerError,
            Err(Error::Server {
                status,
                message,
                body,
                ..
            }),
        ) => {
            assert_eq!(*status, case.status, "{label}");
            assert_eq!(message.as_deref(), error_text(example), "{label}");
            assert_eq!(body, &None, "{label}: a JSON error body needs no snippet");
        }
        (Expected::Rejected, Err(Error::Rejected { errors })) => {
            let listed = example
                .get("errors")
                .and_then(Value::as_array)
                .unwrap_or_else(|| panic!("{label}: a 422 example lists `errors`"));
            assert_eq!(
                errors.len(),
                listed.len(),
                "{label}: one field error per entry"
            );
            for (got, sent) in errors.iter().zip(listed) {
                let text = |key: &str| sent.get(key).and_then(Value::as_str);
                assert_eq!(Some(got.code.as_str()), text("code"), "{label}");
                assert_eq!(Some(got.message.as_str()), text("message"), "{label}");
                assert_eq!(Some(got.kind.as_str()), text("type"), "{label}");
                assert_eq!(Some(got.url.as_str()), text("url"), "{label}");
                assert_eq!(got.attribute.as_deref(), text("attribute"), "{label}");
            }
        }
        (expected, _) => panic!("{label}: expected {expected}, got {}", outcome.debug),
    }
}

#[tokio::test]
async fn every_documented_response_example_becomes_its_registered_typed_result() {
    let mut served = 0;
    for case in RESPONSE_CASES {
        for (name, example, outcome) in serve_examples(case).await {
            assert_expected(case, &name, &example, &outcome);
            let mut text = format!(
                "operation: {}\nstatus: {}\nexample: {name}\nexpected: {}\n\n{}\n\n",
                case.operation, case.status, case.expected, outcome.debug
            );
            match &outcome.result {
                Ok(issued) => text.push_str(&lifetimes(issued)),
                Err(error) => text.push_str(&error_facts(error)),
            }
            assert_text_snapshot(
                &format!(
                    "response__{}__{}__{}",
                    case.operation,
                    case.status,
                    slug(&name)
                ),
                &text,
            );
            served += 1;
        }
    }
    assert!(served >= RESPONSE_CASES.len(), "{served} examples served");
}

#[tokio::test]
async fn success_examples_come_back_with_exactly_their_token_texts_and_subscriber_id() {
    let success_cases: Vec<&ResponseCase> = RESPONSE_CASES
        .iter()
        .filter(|case| case.expected == Expected::TokenPair)
        .collect();
    assert!(!success_cases.is_empty());
    for case in success_cases {
        for (name, example, outcome) in serve_examples(case).await {
            let label = format!("{} {} example {name}", case.operation, case.status);
            let issued = outcome
                .result
                .as_ref()
                .unwrap_or_else(|error| panic!("{label}: {error}"));
            assert_round_trip(&label, &example, issued);
        }
    }
}
