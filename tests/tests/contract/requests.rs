//! What the facade puts on the wire for every registered request case, checked against
//! the spec: method, path, headers, credentials and a body that fits the request schema.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use signalwire_codegen::{Operation, Spec};
use signalwire_fabric_contract_tests::cases::{REQUEST_CASES, RequestBody, RequestCase};
use signalwire_fabric_contract_tests::schema::{
    property_names, request_schema, validator, violations,
};
use signalwire_fabric_contract_tests::{spec, success_example};
use wiremock::ResponseTemplate;

use crate::driver;
use crate::support::{API_TOKEN, PROJECT_ID, assert_json_snapshot, client_for, serve};

/// One request case, sent through the facade to a mock server.
struct Captured {
    case: RequestCase,
    operation: Operation,
    intended: Value,
    request: wiremock::Request,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.request
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    }

    fn body(&self) -> Value {
        serde_json::from_slice(&self.request.body).unwrap_or_else(|error| {
            panic!("{}: the request body is not JSON: {error}", self.label())
        })
    }

    fn label(&self) -> String {
        format!("{}/{}", self.case.operation, self.case.name)
    }
}

/// Sends `case` through the facade to a server answering with the spec's first success
/// example, and returns the one request that arrived.
async fn capture(spec: &Spec, case: &RequestCase) -> Captured {
    let operation = spec
        .operation(case.operation)
        .unwrap_or_else(|| panic!("{} is not in the spec", case.operation))
        .clone();
    let intended = driver::intended_body(spec, case);
    let (status, example) = success_example(spec, &operation.id);
    let server = serve(
        &operation,
        ResponseTemplate::new(status).set_body_json(&example),
    )
    .await;
    let outcome = driver::call(&client_for(&server), &operation.id, &intended).await;
    if let Err(error) = &outcome.result {
        panic!(
            "{}/{}: the facade did not complete the exchange: {error}",
            case.operation, case.name
        );
    }
    let mut requests = server
        .received_requests()
        .await
        .expect("wiremock records requests by default");
    assert_eq!(
        requests.len(),
        1,
        "{}/{}: exactly one request must be sent",
        case.operation,
        case.name
    );
    Captured {
        case: *case,
        operation,
        intended,
        request: requests.remove(0),
    }
}

async fn capture_all() -> Vec<Captured> {
    let spec = spec();
    let mut captured = Vec::new();
    for case in REQUEST_CASES {
        captured.push(capture(&spec, case).await);
    }
    captured
}

#[tokio::test]
async fn every_request_uses_the_documented_method_and_path_and_no_query() {
    for captured in capture_all().await {
        let request = &captured.request;
        assert_eq!(
            request.method.as_str(),
            captured.operation.method,
            "{}",
            captured.label()
        );
        assert_eq!(
            request.url.path(),
            captured.operation.path,
            "{}",
            captured.label()
        );
        assert_eq!(request.url.query(), None, "{}", captured.label());
    }
}

#[tokio::test]
async fn every_request_declares_a_json_body_and_asks_for_json() {
    for captured in capture_all().await {
        assert_eq!(
            captured.header("content-type"),
            Some("application/json"),
            "{}",
            captured.label()
        );
        assert_eq!(
            captured.header("accept"),
            Some("application/json"),
            "{}",
            captured.label()
        );
    }
}

#[tokio::test]
async fn every_request_carries_basic_credentials_of_the_configured_project_and_token() {
    for captured in capture_all().await {
        let label = captured.label();
        let value = captured
            .header("authorization")
            .unwrap_or_else(|| panic!("{label}: no Authorization header"));
        let encoded = value
            .strip_prefix("Basic ")
            .unwrap_or_else(|| panic!("{label}: not Basic credentials"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|error| panic!("{label}: credentials are not base64: {error}"));
        let decoded = String::from_utf8(decoded).expect("credentials are UTF-8");
        let (user, password) = decoded
            .split_once(':')
            .unwrap_or_else(|| panic!("{label}: credentials have no ':'"));
        assert_eq!(user, PROJECT_ID, "{label}: the user name is the project id");
        assert!(
            password == API_TOKEN,
            "{label}: the password is not the configured API token"
        );
    }
}

#[tokio::test]
async fn every_request_body_validates_against_the_spec_request_schema() {
    let spec = spec();
    for captured in capture_all().await {
        let schema = request_schema(&spec, &captured.operation.id);
        let broken = violations(&validator(&schema), &captured.body());
        assert!(
            broken.is_empty(),
            "{}: the body breaks the request schema:\n{}",
            captured.label(),
            broken.join("\n")
        );
    }
}

#[tokio::test]
async fn every_request_body_holds_exactly_the_fields_asked_for_and_only_declared_ones() {
    let spec = spec();
    for captured in capture_all().await {
        let body = captured.body();
        let declared = property_names(&request_schema(&spec, &captured.operation.id));
        let fields = body.as_object().expect("checked against an object schema");
        let undeclared: Vec<&String> = fields
            .keys()
            .filter(|key| !declared.contains(key))
            .collect();
        assert!(
            undeclared.is_empty(),
            "{}: fields the spec does not declare: {undeclared:?}",
            captured.label()
        );
        assert!(
            body == captured.intended,
            "{}: the wire body differs from the body asked for (fields: {:?} vs {:?})",
            captured.label(),
            fields.keys().collect::<Vec<_>>(),
            captured
                .intended
                .as_object()
                .map(|o| o.keys().collect::<Vec<_>>())
        );
    }
}

#[test]
fn the_every_field_cases_set_every_property_of_the_request_schema() {
    let spec = spec();
    let every_field: Vec<&RequestCase> = REQUEST_CASES
        .iter()
        .filter(|case| case.body == RequestBody::EveryProperty)
        .collect();
    assert!(!every_field.is_empty(), "no request case sets every field");
    for case in every_field {
        let mut declared = property_names(&request_schema(&spec, case.operation));
        let body = driver::intended_body(&spec, case);
        let mut set: Vec<String> = body
            .as_object()
            .map(|fields| fields.keys().cloned().collect())
            .unwrap_or_default();
        declared.sort();
        set.sort();
        assert_eq!(
            set, declared,
            "{}/{}: fixtures::every_property must set every property the spec declares",
            case.operation, case.name
        );
    }
}

#[tokio::test]
async fn every_request_matches_its_reviewed_snapshot() {
    for captured in capture_all().await {
        let headers: BTreeMap<String, String> = captured
            .request
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "host")
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or("[not text]").to_owned(),
                )
            })
            .collect();
        let snapshot = json!({
            "method": captured.request.method.as_str(),
            "path": captured.request.url.path(),
            "query": captured.request.url.query(),
            "headers": headers,
            "body": captured.body(),
        });
        assert_json_snapshot(
            &format!(
                "request__{}__{}",
                captured.case.operation, captured.case.name
            ),
            &snapshot,
            &[
                (
                    ".headers.authorization",
                    "Basic [redacted: project id and API token]",
                ),
                (".body.refresh_token", "[redacted: refresh token]"),
                (".body.token", "[redacted: token]"),
                (".body.password", "[redacted: password]"),
                (
                    ".body.fingerprint",
                    "[redacted: 43-character device fingerprint]",
                ),
            ],
        );
    }
}
