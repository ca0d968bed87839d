//! Every documented status of every operation, answered with the spec's own examples,
//! becomes the typed result its registered case expects.
//!
//! A response the spec documents without a body (a 204) is served once, with no body, as
//! the example `no_body`. A page example whose `links.next` names the spec's example
//! space (`https://example.signalwire.com`) is served with its links moved onto the mock
//! server's origin, as a real space's links name the space itself; the link is then
//! followed exactly as given, to an empty last page.

use serde_json::{Value, json};
use signalwire_fabric::Error;
use signalwire_fabric_contract_tests::cases::{Expected, RESPONSE_CASES, ResponseCase};
use signalwire_fabric_contract_tests::{fixtures, response_examples, response_media, spec};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::driver::{self, Outcome};
use crate::support::{
    QueryIs, assert_round_trip, assert_text_snapshot, client_for, error_facts, json_response,
    lifetimes, path_and_query, serve, slug,
};

/// The origin the spec's example links name.
const EXAMPLE_ORIGIN: &str = "https://example.signalwire.com";

/// The name a served response without a body goes by.
const NO_BODY: &str = "no_body";

/// What one served example gave.
struct Served {
    name: String,
    /// The example as the spec gives it (`null` for no body).
    example: Value,
    outcome: Outcome,
    /// The path and query of every request after the first (next pages followed).
    followed: Vec<String>,
    /// The example's `links.next`, when it has one.
    next_link: Option<String>,
}

/// `value` with every string that starts with the example origin moved onto `origin`.
fn rebased(value: &Value, origin: &str) -> Value {
    match value {
        Value::String(text) => match text.strip_prefix(EXAMPLE_ORIGIN) {
            Some(rest) => Value::String(format!("{origin}{rest}")),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| rebased(v, origin)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, v)| (key.clone(), rebased(v, origin)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Serves a page `example` whose `links.next` is followed: the first request (no query)
/// gets the example with its links rebased, the next link an empty last page.
async fn serve_page(
    operation: &signalwire_codegen::Operation,
    status: u16,
    example: &Value,
) -> MockServer {
    let server = MockServer::start().await;
    let first_path = fixtures::request_path(&operation.path);
    let served = rebased(example, &server.uri());
    let next = served
        .pointer("/links/next")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a page served for following has a next link: {example}"));
    let next = reqwest::Url::parse(next)
        .unwrap_or_else(|error| panic!("the example's next link {next:?} is not a URL: {error}"));
    Mock::given(method(operation.method.as_str()))
        .and(path(first_path))
        .and(QueryIs(None))
        .respond_with(json_response(status, &served))
        .mount(&server)
        .await;
    Mock::given(method(operation.method.as_str()))
        .and(path(next.path()))
        .and(QueryIs(next.query().map(str::to_owned)))
        .respond_with(json_response(status, &json!({"data": [], "links": {}})))
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// Serves each of the spec's examples for `case` (or no body, when the spec documents
/// none) and hands back what the facade made of them.
async fn serve_examples(case: &ResponseCase) -> Vec<Served> {
    let spec = spec();
    let operation = spec
        .operation(case.operation)
        .unwrap_or_else(|| panic!("{} is not in the spec", case.operation));
    let body = driver::default_body(&spec, case.operation);
    let examples = if response_media(&spec, case.operation, case.status).is_none() {
        vec![(NO_BODY.to_owned(), Value::Null)]
    } else {
        response_examples(&spec, case.operation, case.status)
    };
    assert!(
        !examples.is_empty(),
        "{} {}: the spec gives no example to serve",
        case.operation,
        case.status
    );
    let mut served = Vec::new();
    for (name, example) in examples {
        let next_link = example
            .pointer("/links/next")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let server = match (&next_link, example.is_null()) {
            (Some(_), _) if case.expected == Expected::Page => {
                serve_page(operation, case.status, &example).await
            }
            (_, true) => serve(operation, ResponseTemplate::new(case.status)).await,
            (_, false) => serve(operation, json_response(case.status, &example)).await,
        };
        let outcome = driver::call(&client_for(&server), &operation.id, &body).await;
        let followed = server
            .received_requests()
            .await
            .expect("wiremock records requests by default")
            .iter()
            .skip(1)
            .map(|request| path_and_query(&request.url))
            .collect();
        served.push(Served {
            name,
            example,
            outcome,
            followed,
            next_link,
        });
    }
    served
}

/// The example's `error` text.
fn error_text(example: &Value) -> Option<&str> {
    example.get("error").and_then(Value::as_str)
}

/// Asserts that `outcome` is what `case` expects, with every field the example carries.
fn assert_expected(case: &ResponseCase, served: &Served) {
    let (name, example, outcome) = (&served.name, &served.example, &served.outcome);
    let label = format!("{} {} example {name}", case.operation, case.status);
    match (case.expected, &outcome.result) {
        (
            Expected::TokenPair
            | Expected::Token
            | Expected::Subscriber
            | Expected::Page
            | Expected::NoContent,
            Ok(returned),
        ) => assert_round_trip(&label, example, returned),
        (Expected::Unauthorized, Err(Error::Unauthorized { message, .. }))
        | (Expected::Forbidden, Err(Error::Forbidden { message, .. }))
        | (Expected::NotFound, Err(Error::NotFound { message, .. })) => {
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
        (Expected::Rejected, Err(Error::Rejected { errors, .. })) => {
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
    // A page's next link is followed exactly as the example gives it (moved onto the
    // mock server), once, and nothing else is asked for.
    let expected_follow: Vec<String> = match (&served.next_link, case.expected) {
        (Some(next), Expected::Page) => {
            vec![path_and_query(
                &reqwest::Url::parse(next).expect("checked when served"),
            )]
        }
        _ => Vec::new(),
    };
    assert_eq!(
        served.followed, expected_follow,
        "{label}: requests after the first"
    );
}

#[tokio::test]
async fn every_documented_response_example_becomes_its_registered_typed_result() {
    let mut served_count = 0;
    for case in RESPONSE_CASES {
        for served in serve_examples(case).await {
            assert_expected(case, &served);
            let mut text = format!(
                "operation: {}\nstatus: {}\nexample: {}\nexpected: {}\n\n{}\n\n",
                case.operation, case.status, served.name, case.expected, served.outcome.debug
            );
            if !served.followed.is_empty() {
                text.push_str(&format!(
                    "next pages followed (path and query): {:?}\n",
                    served.followed
                ));
            }
            match &served.outcome.result {
                Ok(returned) => text.push_str(&lifetimes(returned)),
                Err(error) => text.push_str(&error_facts(error)),
            }
            assert_text_snapshot(
                &format!(
                    "response__{}__{}__{}",
                    case.operation,
                    case.status,
                    slug(&served.name)
                ),
                &text,
            );
            served_count += 1;
        }
    }
    assert!(
        served_count >= RESPONSE_CASES.len(),
        "{served_count} examples served"
    );
}

#[tokio::test]
async fn success_examples_come_back_with_exactly_their_contents() {
    let success_cases: Vec<&ResponseCase> = RESPONSE_CASES
        .iter()
        .filter(|case| case.expected.is_success())
        .collect();
    assert!(!success_cases.is_empty());
    let mut kinds = Vec::new();
    for case in success_cases {
        for served in serve_examples(case).await {
            let label = format!("{} {} example {}", case.operation, case.status, served.name);
            let returned = served
                .outcome
                .result
                .as_ref()
                .unwrap_or_else(|error| panic!("{label}: {error}"));
            assert_round_trip(&label, &served.example, returned);
            kinds.push(case.expected);
        }
    }
    for kind in [
        Expected::TokenPair,
        Expected::Token,
        Expected::Subscriber,
        Expected::Page,
        Expected::NoContent,
    ] {
        assert!(kinds.contains(&kind), "no success example is {kind}");
    }
}

#[tokio::test]
async fn a_page_example_whose_next_link_is_followed_yields_its_items_then_ends() {
    let page_cases: Vec<&ResponseCase> = RESPONSE_CASES
        .iter()
        .filter(|case| case.expected == Expected::Page)
        .collect();
    let mut followed = 0;
    for case in page_cases {
        for served in serve_examples(case).await {
            if served.next_link.is_some() {
                assert_eq!(served.followed.len(), 1, "{}", case.operation);
                followed += 1;
            }
        }
    }
    assert!(
        followed > 0,
        "no page example has a next link: the rebasing and following above prove nothing"
    );
}
