//! What real servers do that the spec does not say, for every operation: each answer must
//! become the right typed `signalwire_fabric::Error` (or a success, where that is right),
//! and each error's text is snapshotted.

use std::time::Duration;

use serde_json::{Value, json};
use signalwire_codegen::Operation;
use signalwire_fabric::Error;
use signalwire_fabric_contract_tests::cases::{Expected, REQUEST_CASES, RESPONSE_CASES};
use signalwire_fabric_contract_tests::schema::{required_names, response_schema};
use signalwire_fabric_contract_tests::{
    Credentials, credentials, fixtures, response_examples, spec,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::driver::{self, Outcome};
use crate::support::{
    answer, assert_round_trip, assert_text_snapshot, canonical_json, client_for, describe_error,
    json_response, one_page, serve, success,
};

/// One operation of the spec with the body its calls send.
struct Target {
    operation: Operation,
    body: Value,
}

fn targets() -> Vec<Target> {
    let spec = spec();
    spec.operations()
        .iter()
        .map(|operation| Target {
            body: driver::default_body(&spec, &operation.id),
            operation: operation.clone(),
        })
        .collect()
}

/// What the registered case for `operation`'s documented `status` expects.
fn expected_for(operation: &str, status: u16) -> Option<Expected> {
    RESPONSE_CASES
        .iter()
        .find(|case| case.operation == operation && case.status == status)
        .map(|case| case.expected)
}

impl Target {
    /// What the facade makes of `response` to this operation.
    async fn answer(&self, response: ResponseTemplate) -> Outcome {
        let server = serve(&self.operation, response).await;
        driver::call(&client_for(&server), &self.operation.id, &self.body).await
    }

    /// The error the facade makes of `response`; a success fails the test.
    async fn error(&self, what: &str, response: ResponseTemplate) -> Error {
        match self.answer(response).await.result {
            Err(error) => error,
            Ok(_) => panic!("{} {what}: succeeded, but must fail", self.operation.id),
        }
    }

    fn id(&self) -> &str {
        &self.operation.id
    }

    /// Whether the spec documents `status` for this operation.
    fn documents(&self, status: u16) -> bool {
        self.operation
            .statuses()
            .any(|documented| documented == status)
    }

    /// The first documented success and its example as one whole exchange, `None` for a
    /// success without a body.
    fn success(&self) -> (u16, Option<Value>) {
        success(&spec(), self.id())
    }

    /// The path the operation is sent to, with the suite's parameters.
    fn request_path(&self) -> String {
        fixtures::request_path(&self.operation.path)
    }
}

/// Every scenario that keeps a snapshot per operation (`beyond__{scenario}__{operation}`).
pub const SCENARIOS: &[&str] = &[
    "empty_body",
    "missing_required_field",
    "proxy_html_5xx",
    "rate_limited",
    "redirect",
    "truncated_json",
    "undocumented_2xx",
    "undocumented_4xx",
    "unknown_fields",
    "wrong_content_type",
];

/// Collects one section per answer into the snapshot named `beyond__{scenario}__{op}`.
struct Report {
    name: String,
    text: String,
}

impl Report {
    fn new(scenario: &str, target: &Target) -> Self {
        assert!(
            SCENARIOS.contains(&scenario),
            "add the scenario {scenario} to SCENARIOS"
        );
        Self {
            name: format!("beyond__{scenario}__{}", target.id()),
            text: String::new(),
        }
    }

    fn add(&mut self, heading: &str, error: &Error) {
        self.text
            .push_str(&format!("## {heading}\n{}\n", describe_error(error)));
    }

    fn add_success(&mut self, heading: &str, outcome: &Outcome) {
        self.text
            .push_str(&format!("## {heading}\n{}\n\n", outcome.debug));
    }

    fn assert(self) {
        assert_text_snapshot(&self.name, &self.text);
    }
}

fn html_page(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{title}</title></head>\n<body>\n  <h1>{title}</h1>\n  <p>The upstream server did not answer.</p>\n</body>\n</html>\n"
    )
}

/// The token operations: those whose documented success is a token or a token pair.
fn token_targets() -> Vec<Target> {
    targets()
        .into_iter()
        .filter(|target| {
            target.operation.success_statuses.iter().any(|status| {
                matches!(
                    expected_for(target.id(), *status),
                    Some(Expected::TokenPair | Expected::Token)
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn both_200_and_201_are_success_for_every_token_operation_whichever_the_vendor_documents() {
    let tokens = token_targets();
    assert!(
        tokens.len() >= 2,
        "only {} token operations: the filter is broken",
        tokens.len()
    );
    for target in tokens {
        let (_, example) = target.success();
        let example = example.expect("a token is a body");
        for status in [200, 201] {
            let outcome = target.answer(json_response(status, &example)).await;
            let label = format!("{} answered {status}", target.id());
            let returned = outcome
                .result
                .as_ref()
                .unwrap_or_else(|error| panic!("{label}: {error}"));
            assert_round_trip(&label, &example, returned);
        }
    }
}

#[tokio::test]
async fn an_undocumented_2xx_is_an_unexpected_response_never_a_silent_success() {
    for target in targets() {
        let (_, example) = target.success();
        let body = example.unwrap_or_else(|| json!({}));
        let mut report = Report::new("undocumented_2xx", &target);
        let statuses: Vec<u16> = [200, 201, 202, 204]
            .into_iter()
            .filter(|status| !target.documents(*status))
            .collect();
        assert!(statuses.len() >= 2, "{}: {statuses:?}", target.id());
        for status in statuses {
            let response = match status {
                204 => ResponseTemplate::new(204),
                _ => json_response(status, &body),
            };
            let error = target.error(&status.to_string(), response).await;
            assert!(
                matches!(error, Error::UnexpectedResponse { status: got, .. } if got == status),
                "{} {status}: {error:?}",
                target.id()
            );
            assert!(!error.is_retryable());
            report.add(&format!("{status}"), &error);
        }
        report.assert();
    }
}

#[tokio::test]
async fn a_429_is_rate_limited_and_keeps_retry_after_when_given() {
    for target in targets() {
        let mut report = Report::new("rate_limited", &target);
        let with = target
            .error(
                "429 with Retry-After",
                json_response(429, &json!({"error": "Too Many Requests"}))
                    .insert_header("retry-after", "7"),
            )
            .await;
        assert!(
            matches!(with, Error::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(7)),
            "{}: {with:?}",
            target.id()
        );
        assert!(with.is_retryable());
        report.add("429 with Retry-After: 7", &with);

        let without = target
            .error(
                "429 without Retry-After",
                ResponseTemplate::new(429).set_body_raw("slow down", "text/plain"),
            )
            .await;
        assert!(
            matches!(
                without,
                Error::RateLimited {
                    retry_after: None,
                    ..
                }
            ),
            "{}: {without:?}",
            target.id()
        );
        assert!(without.is_retryable());
        report.add("429 without Retry-After", &without);
        report.assert();
    }
}

#[tokio::test]
async fn a_502_or_503_html_page_is_a_retryable_server_error_with_a_snippet() {
    for target in targets() {
        let mut report = Report::new("proxy_html_5xx", &target);
        for (status, title) in [(502, "502 Bad Gateway"), (503, "503 Service Unavailable")] {
            let error = target
                .error(
                    title,
                    ResponseTemplate::new(status).set_body_raw(html_page(title), "text/html"),
                )
                .await;
            let Error::Server {
                status: got,
                message: None,
                body: Some(body),
                ..
            } = &error
            else {
                panic!("{} {status}: {error:?}", target.id());
            };
            assert_eq!(*got, status);
            assert!(
                body.contains(title),
                "{} {status}: snippet {body:?}",
                target.id()
            );
            assert!(error.is_retryable());
            report.add(title, &error);
        }
        report.assert();
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_its_target_receives_nothing() {
    for target in targets() {
        let (status, example) = target.success();
        let elsewhere = MockServer::start().await;
        Mock::given(any())
            .respond_with(answer(status, example.as_ref()))
            .mount(&elsewhere)
            .await;
        let location = format!("{}{}", elsewhere.uri(), target.request_path());
        let mut report = Report::new("redirect", &target);
        for status in [301, 302, 303, 307, 308] {
            let error = target
                .error(
                    &status.to_string(),
                    ResponseTemplate::new(status).insert_header("location", location.as_str()),
                )
                .await;
            let Error::UnexpectedResponse {
                status: got,
                location: Some(got_location),
                ..
            } = &error
            else {
                panic!("{} {status}: {error:?}", target.id());
            };
            assert_eq!((*got, got_location.as_str()), (status, location.as_str()));
            assert!(!error.is_retryable());
            report.add(&format!("{status} to another server"), &error);
        }
        let received = elsewhere
            .received_requests()
            .await
            .expect("wiremock records requests by default");
        assert!(
            received.is_empty(),
            "{}: the redirect target received {} requests",
            target.id(),
            received.len()
        );
        report.assert();
    }
}

#[tokio::test]
async fn an_undocumented_4xx_is_an_unexpected_response_with_its_status_and_snippet() {
    for target in targets() {
        let mut report = Report::new("undocumented_4xx", &target);
        let undocumented: Vec<(u16, &str)> = [
            (403, "Forbidden"),
            (408, "Request Timeout"),
            (409, "Conflict"),
        ]
        .into_iter()
        .filter(|(status, _)| !target.documents(*status))
        .take(2)
        .collect();
        assert_eq!(undocumented.len(), 2, "{}", target.id());
        for (status, reason) in undocumented {
            let retryable = status == 408;
            let error = target
                .error(
                    &status.to_string(),
                    json_response(status, &json!({"error": reason})),
                )
                .await;
            assert!(
                matches!(error, Error::UnexpectedResponse { status: got, body: Some(_), .. } if got == status),
                "{} {status}: {error:?}",
                target.id()
            );
            assert_eq!(error.is_retryable(), retryable, "{} {status}", target.id());
            report.add(&status.to_string(), &error);
        }
        report.assert();
    }
}

/// `example` with fields no version of the spec names: at the top, in every nested
/// object (a page's items and links, a subscriber's person, an address's channels), and
/// in every entry of `errors`.
fn with_unknown_fields(example: &Value, status: u16) -> Value {
    let mut body = with_nested_unknown_fields(example);
    if let Some(fields) = body.as_object_mut() {
        fields.insert("statusCode".to_owned(), json!(status));
        fields.insert("request_id".to_owned(), json!("req-7f3a"));
        fields.insert("meta".to_owned(), json!({"nested": [1, {"deep": true}]}));
    }
    body
}

fn with_nested_unknown_fields(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| {
                    let mut value = with_nested_unknown_fields(value);
                    if let Some(nested) = value.as_object_mut() {
                        nested.insert("detail".to_owned(), json!("an unknown field"));
                    }
                    if let Value::Array(items) = &mut value {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            item.insert("detail".to_owned(), json!("an unknown field"));
                        }
                    }
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(with_nested_unknown_fields).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn unknown_fields_are_ignored_in_success_and_error_bodies() {
    let spec = spec();
    for target in targets() {
        let mut report = Report::new("unknown_fields", &target);
        for case in RESPONSE_CASES
            .iter()
            .filter(|case| case.operation == target.id())
        {
            for (name, example) in response_examples(&spec, case.operation, case.status) {
                let label = format!(
                    "{} {} {name} with unknown fields",
                    case.operation, case.status
                );
                let example = one_page(&example);
                let outcome = target
                    .answer(json_response(
                        case.status,
                        &with_unknown_fields(&example, case.status),
                    ))
                    .await;
                match (&outcome.result, case.expected) {
                    (Ok(returned), expected) if expected.is_success() => {
                        assert_round_trip(&label, &example, returned)
                    }
                    (Err(error), expected) => {
                        let same = matches!(
                            (expected, error),
                            (
                                Expected::Unauthorized,
                                Error::Unauthorized {
                                    message: Some(_),
                                    ..
                                }
                            ) | (
                                Expected::Forbidden,
                                Error::Forbidden {
                                    message: Some(_),
                                    ..
                                }
                            ) | (
                                Expected::NotFound,
                                Error::NotFound {
                                    message: Some(_),
                                    ..
                                }
                            ) | (
                                Expected::ServerError,
                                Error::Server {
                                    message: Some(_),
                                    ..
                                }
                            ) | (Expected::Rejected, Error::Rejected { .. })
                        );
                        assert!(same, "{label}: expected {expected}, got {error:?}");
                        assert_eq!(
                            error.field_errors().len(),
                            example
                                .get("errors")
                                .and_then(Value::as_array)
                                .map_or(0, Vec::len),
                            "{label}"
                        );
                        report.add(&format!("{} {name}", case.status), error);
                    }
                    (Ok(_), expected) => panic!("{label}: succeeded, expected {expected}"),
                }
            }
        }
        report.assert();
    }
}

#[tokio::test]
async fn a_success_body_missing_a_required_field_is_a_decode_error_naming_it() {
    let spec = spec();
    let mut checked = 0;
    for target in targets() {
        let (status, example) = target.success();
        let Some(example) = example else {
            // Nothing is read from a success without a body, so nothing can be missing.
            continue;
        };
        checked += 1;
        let schema = response_schema(&spec, target.id(), status).expect("a success body");
        let required = required_names(&schema);
        assert!(!required.is_empty(), "{}: nothing is required", target.id());
        let mut report = Report::new("missing_required_field", &target);
        for field in required {
            let mut body = example.clone();
            body.as_object_mut().map(|fields| fields.remove(&field));
            let error = target.error(&field, json_response(status, &body)).await;
            let Error::Decode {
                status: got,
                reason,
                ..
            } = &error
            else {
                panic!("{} without {field}: {error:?}", target.id());
            };
            assert_eq!(*got, status);
            assert!(reason.contains(&format!("`{field}`")), "{reason}");
            assert!(!error.is_retryable());
            report.add(&format!("{status} without `{field}`"), &error);
        }
        report.assert();
    }
    assert!(checked > 0);
}

/// `value` as JSON text, cut off in the middle.
fn truncated(value: &Value) -> String {
    let text = canonical_json(value);
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

#[tokio::test]
async fn truncated_json_is_a_decode_error_on_success_and_keeps_the_error_status_otherwise() {
    for target in targets() {
        let (status, example) = target.success();
        let mut report = Report::new("truncated_json", &target);
        // A success without a body reads none, so there is nothing to truncate.
        if let Some(example) = example {
            let error = target
                .error(
                    "truncated success",
                    ResponseTemplate::new(status)
                        .set_body_raw(truncated(&example), "application/json"),
                )
                .await;
            assert!(
                matches!(error, Error::Decode { status: got, .. } if got == status),
                "{}: {error:?}",
                target.id()
            );
            report.add(&format!("{status}, truncated"), &error);
        }

        let unauthorized = target
            .error(
                "truncated 401",
                ResponseTemplate::new(401).set_body_raw(
                    truncated(&json!({"error": "Unauthorized"})),
                    "application/json",
                ),
            )
            .await;
        assert!(
            matches!(unauthorized, Error::Unauthorized { message: None, .. }),
            "{}: {unauthorized:?}",
            target.id()
        );
        report.add("401, truncated", &unauthorized);

        let server = target
            .error(
                "truncated 500",
                ResponseTemplate::new(500).set_body_raw(
                    truncated(&json!({"error": "Internal Server Error"})),
                    "application/json",
                ),
            )
            .await;
        assert!(
            matches!(
                server,
                Error::Server {
                    status: 500,
                    message: None,
                    body: Some(_),
                    ..
                }
            ),
            "{}: {server:?}",
            target.id()
        );
        assert!(server.is_retryable());
        report.add("500, truncated", &server);
        report.assert();
    }
}

#[tokio::test]
async fn valid_json_under_a_wrong_content_type_is_read_and_an_html_success_is_a_decode_error() {
    for target in targets() {
        let (status, example) = target.success();
        let mut report = Report::new("wrong_content_type", &target);
        // A success without a body reads none, whatever its content type.
        if let Some(example) = example {
            let label = format!("{} JSON labelled text/plain", target.id());
            let outcome = target
                .answer(
                    ResponseTemplate::new(status)
                        .set_body_raw(canonical_json(&example), "text/plain"),
                )
                .await;
            let returned = outcome
                .result
                .as_ref()
                .unwrap_or_else(|error| panic!("{label}: {error}"));
            assert_round_trip(&label, &example, returned);

            let error = target
                .error(
                    "HTML success",
                    ResponseTemplate::new(status).set_body_raw(html_page("Welcome"), "text/html"),
                )
                .await;
            assert!(
                matches!(error, Error::Decode { status: got, body: Some(_), .. } if got == status),
                "{}: {error:?}",
                target.id()
            );
            report.add(&format!("{status} text/html page"), &error);
        }

        let unauthorized = target
            .error(
                "JSON 401 labelled text/html",
                ResponseTemplate::new(401).set_body_raw(
                    canonical_json(&json!({"error": "Unauthorized"})),
                    "text/html",
                ),
            )
            .await;
        assert!(
            matches!(&unauthorized, Error::Unauthorized { message: Some(m), .. } if m == "Unauthorized"),
            "{}: {unauthorized:?}",
            target.id()
        );
        report.add("401 JSON labelled text/html", &unauthorized);
        report.assert();
    }
}

#[tokio::test]
async fn an_empty_body_at_each_documented_status_keeps_the_status_meaning() {
    for target in targets() {
        let mut report = Report::new("empty_body", &target);
        for case in RESPONSE_CASES
            .iter()
            .filter(|case| case.operation == target.id())
        {
            let status = case.status;
            let outcome = target.answer(ResponseTemplate::new(status)).await;
            if case.expected == Expected::NoContent {
                assert!(
                    matches!(outcome.result, Ok(crate::driver::Returned::Nothing)),
                    "{} empty {status}: {}",
                    target.id(),
                    outcome.debug
                );
                report.add_success(&format!("{status}, empty body"), &outcome);
                continue;
            }
            let error = match outcome.result {
                Err(error) => error,
                Ok(_) => panic!("{} empty {status}: succeeded, but must fail", target.id()),
            };
            let right = match case.expected {
                Expected::TokenPair | Expected::Token | Expected::Subscriber | Expected::Page => {
                    matches!(error, Error::Decode { status: got, body: None, .. } if got == status)
                }
                Expected::NoContent => unreachable!("handled above"),
                Expected::Unauthorized => {
                    matches!(error, Error::Unauthorized { message: None, .. })
                }
                Expected::Forbidden => matches!(error, Error::Forbidden { message: None, .. }),
                Expected::NotFound => matches!(error, Error::NotFound { message: None, .. }),
                Expected::ServerError => matches!(
                    error,
                    Error::Server { status: got, message: None, body: None, .. } if got == status
                ),
                Expected::Rejected => {
                    matches!(&error, Error::Rejected { errors, .. } if errors.is_empty())
                }
            };
            assert!(right, "{} empty {status}: {error:?}", target.id());
            report.add(&format!("{status}, empty body"), &error);
        }
        report.assert();
    }
}

/// A success documented without a body (a 204) is `Ok(())` even when a server sends a
/// body anyway: nothing is read from it, and nothing in it can fail the call.
#[tokio::test]
async fn a_204_with_a_body_is_still_ok() {
    let mut checked = 0;
    for target in targets() {
        if expected_for(target.id(), 204) != Some(Expected::NoContent) {
            continue;
        }
        for (what, response) in [
            ("JSON", json_response(204, &json!({"deleted": true}))),
            (
                "HTML",
                ResponseTemplate::new(204).set_body_raw(html_page("Deleted"), "text/html"),
            ),
            (
                "truncated JSON",
                ResponseTemplate::new(204).set_body_raw(r#"{"deleted": "#, "application/json"),
            ),
        ] {
            let outcome = target.answer(response).await;
            assert!(
                matches!(outcome.result, Ok(crate::driver::Returned::Nothing)),
                "{} 204 with a {what} body: {}",
                target.id(),
                outcome.debug
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no operation documents a 204 without a body");
}

/// A 422 whose reasons cannot be read is still a rejection (with no field errors), the
/// way 401, 404 and 5xx keep their meaning whatever their body.
#[tokio::test]
async fn an_unreadable_422_body_is_still_a_rejection() {
    for target in targets().into_iter().filter(|target| target.documents(422)) {
        let without_code =
            json!({"errors": [{"type": "validation_error", "message": "m", "url": "u"}]});
        for (what, response) in [
            ("empty", ResponseTemplate::new(422)),
            (
                "truncated",
                ResponseTemplate::new(422)
                    .set_body_raw(r#"{"errors": [{"type": "#, "application/json"),
            ),
            (
                "HTML",
                ResponseTemplate::new(422).set_body_raw(html_page("Unprocessable"), "text/html"),
            ),
            ("entry without code", json_response(422, &without_code)),
        ] {
            let error = target.error(what, response).await;
            assert!(
                matches!(&error, Error::Rejected { errors, .. } if errors.is_empty()),
                "{} {what} 422: {error:?}",
                target.id()
            );
        }
    }
}

/// `Retry-After` survives a documented 5xx whose body is not the error JSON.
#[tokio::test]
async fn retry_after_is_kept_on_a_documented_500_with_an_html_body() {
    for target in targets() {
        let error = target
            .error(
                "500 HTML with Retry-After",
                ResponseTemplate::new(500)
                    .insert_header("retry-after", "5")
                    .set_body_raw(html_page("500 Internal Server Error"), "text/html"),
            )
            .await;
        assert_eq!(
            error.retry_after(),
            Some(Duration::from_secs(5)),
            "{}: {error:?}",
            target.id()
        );
    }
}

/// One secret a request carries, named for the report.
struct Carried {
    what: &'static str,
    text: String,
}

/// Every secret a request case sends: its credentials and every secret-named body field.
fn carried_secrets(operation: &str, body: &Value) -> Vec<Carried> {
    let mut carried: Vec<Carried> = match credentials(&spec(), operation) {
        Credentials::Basic => vec![Carried {
            what: "the API token",
            text: fixtures::API_TOKEN.to_owned(),
        }],
        Credentials::Bearer => vec![Carried {
            what: "the subscriber's access token",
            text: fixtures::access_token(),
        }],
        Credentials::None => Vec::new(),
    };
    for (key, what) in [
        ("password", "the password"),
        ("token", "the body's token"),
        ("refresh_token", "the refresh token"),
    ] {
        if let Some(text) = body.get(key).and_then(Value::as_str) {
            carried.push(Carried {
                what,
                text: text.to_owned(),
            });
        }
    }
    carried
}

/// Answers that echo `secrets` back: in an `error` text, in a 422 entry's message and
/// attribute, and in an HTML page.
fn echoing(secrets: &[Carried]) -> Vec<(String, ResponseTemplate)> {
    let all = secrets
        .iter()
        .map(|secret| secret.text.as_str())
        .collect::<Vec<_>>()
        .join(" and ");
    let error = json!({"error": format!("cannot use {all}")});
    let rejected = json!({"errors": secrets.iter().map(|secret| json!({
        "type": "validation_error",
        "code": "invalid_parameter",
        "message": format!("{} is not accepted", secret.text),
        "attribute": secret.text,
        "url": "https://developer.signalwire.com/rest/overview/error-codes#invalid_parameter",
    })).collect::<Vec<_>>()});
    vec![
        ("401 echoing".to_owned(), json_response(401, &error)),
        ("422 echoing".to_owned(), json_response(422, &rejected)),
        ("500 echoing".to_owned(), json_response(500, &error)),
        (
            "502 HTML echoing".to_owned(),
            ResponseTemplate::new(502)
                .set_body_raw(html_page(&format!("Bad Gateway for {all}")), "text/html"),
        ),
        (
            "400 echoing".to_owned(),
            json_response(400, &json!({"error": format!("bad request: {all}")})),
        ),
    ]
}

/// Every (request case, answer, secret) where a secret the request sent, echoed back by
/// the server, shows in the error's `Debug` or `Display`.
async fn echoed_secret_leaks(kind: impl Fn(&Carried) -> bool) -> (usize, Vec<String>) {
    let spec = spec();
    let mut checked = 0;
    let mut leaks = Vec::new();
    for case in REQUEST_CASES {
        let operation = spec
            .operation(case.operation)
            .unwrap_or_else(|| panic!("{} is not in the spec", case.operation));
        let body = driver::intended_body(&spec, case);
        let secrets: Vec<Carried> = carried_secrets(case.operation, &body)
            .into_iter()
            .filter(|secret| kind(secret))
            .collect();
        if secrets.is_empty() {
            continue;
        }
        for (what, response) in echoing(&secrets) {
            let server = serve(operation, response).await;
            let outcome = driver::call(&client_for(&server), case.operation, &body).await;
            let error = match outcome.result {
                Err(error) => error,
                Ok(_) => panic!("{}/{} {what}: succeeded", case.operation, case.name),
            };
            let shown = format!("{error:?}\n{error}\n{error:#}");
            for secret in &secrets {
                checked += 1;
                if shown.contains(&secret.text) {
                    leaks.push(format!(
                        "{}/{} {what}: {} shows in the error",
                        case.operation, case.name, secret.what
                    ));
                }
            }
        }
    }
    (checked, leaks)
}

#[tokio::test]
async fn a_credential_or_token_the_request_sent_never_shows_in_an_error_even_when_echoed() {
    let (checked, leaks) = echoed_secret_leaks(|secret| secret.what != "the password").await;
    assert!(checked >= 20, "only {checked} checks");
    assert!(leaks.is_empty(), "secrets in errors:\n{}", leaks.join("\n"));
}

/// A password sent by create_subscriber_token, create_subscriber or update_subscriber is
/// scrubbed from errors even when a server echoes it (401, 422, 5xx, HTML, other 4xx).
#[tokio::test]
async fn a_password_the_request_sent_never_shows_in_an_error_even_when_echoed() {
    let (checked, leaks) = echoed_secret_leaks(|secret| secret.what == "the password").await;
    assert!(checked >= 5, "only {checked} checks");
    assert!(
        leaks.is_empty(),
        "passwords in errors:\n{}",
        leaks.join("\n")
    );
}
