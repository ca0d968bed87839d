//! What the facade puts on the wire for every registered request case, checked against
//! the spec: method, path (with its parameters), headers, the credentials the spec
//! documents for the operation, and a body that fits the request schema (or no body).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use signalwire_codegen::{Operation, Spec};
use signalwire_fabric_contract_tests::cases::{REQUEST_CASES, RequestBody, RequestCase};
use signalwire_fabric_contract_tests::schema::{
    property_names, request_schema, validator, violations,
};
use signalwire_fabric_contract_tests::{Credentials, credentials, fixtures, spec};

use crate::driver;
use crate::support::{
    API_TOKEN, PROJECT_ID, answer, assert_json_snapshot, client_for, serve, success,
};

/// One request case, sent through the facade to a mock server.
struct Captured {
    case: RequestCase,
    operation: Operation,
    credentials: Credentials,
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

    /// The body as JSON; `null` when none was sent.
    fn body(&self) -> Value {
        if self.request.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.request.body).unwrap_or_else(|error| {
            panic!("{}: the request body is not JSON: {error}", self.label())
        })
    }

    fn sends_a_body(&self) -> bool {
        self.case.body.sends_a_body()
    }

    fn label(&self) -> String {
        format!("{}/{}", self.case.operation, self.case.name)
    }

    /// Every header value, as text.
    fn header_texts(&self) -> Vec<(String, String)> {
        self.request
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect()
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
    let (status, example) = success(spec, &operation.id);
    let server = serve(&operation, answer(status, example.as_ref())).await;
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
        credentials: credentials(spec, &operation.id),
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
        let expected = fixtures::request_path(&captured.operation.path);
        assert_eq!(request.url.path(), expected, "{}", captured.label());
        assert_eq!(request.url.query(), None, "{}", captured.label());
    }
}

#[tokio::test]
async fn every_path_parameter_is_filled_in_and_none_is_left_as_a_template() {
    let captured = capture_all().await;
    let with_parameters: Vec<&Captured> = captured
        .iter()
        .filter(|captured| captured.operation.path.contains('{'))
        .collect();
    assert!(
        !with_parameters.is_empty(),
        "no operation has a path parameter: this test proves nothing"
    );
    for captured in with_parameters {
        let path = captured.request.url.path();
        assert!(
            !path.contains('{') && !path.contains("%7B"),
            "{}: {path}",
            captured.label()
        );
        assert!(
            path.contains(fixtures::SUBSCRIBER_RESOURCE_ID),
            "{}: the subscriber id is not in {path}",
            captured.label()
        );
    }
}

#[tokio::test]
async fn a_request_with_a_body_declares_json_and_every_request_asks_for_json() {
    for captured in capture_all().await {
        let label = captured.label();
        if captured.sends_a_body() {
            assert_eq!(
                captured.header("content-type"),
                Some("application/json"),
                "{label}"
            );
        } else {
            assert_eq!(captured.header("content-type"), None, "{label}");
        }
        assert_eq!(
            captured.header("accept"),
            Some("application/json"),
            "{label}"
        );
    }
}

#[tokio::test]
async fn every_request_carries_exactly_the_credentials_its_operation_documents() {
    let basic = fixtures::basic_credentials();
    let access_token = fixtures::access_token();
    let mut seen = Vec::new();
    for captured in capture_all().await {
        let label = captured.label();
        let authorization = captured.header("authorization");
        match captured.credentials {
            Credentials::Basic => {
                let value =
                    authorization.unwrap_or_else(|| panic!("{label}: no Authorization header"));
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
            Credentials::Bearer => {
                assert!(
                    authorization == Some(format!("Bearer {access_token}").as_str()),
                    "{label}: the Authorization header is not `Bearer <the access token passed>`"
                );
            }
            Credentials::None => {
                assert!(
                    authorization.is_none(),
                    "{label}: an Authorization header was sent where the spec says none"
                );
            }
        }
        // Whatever else is sent, the project's secret goes only where Basic is documented,
        // and the subscriber's token only where Bearer is.
        for (name, value) in captured.header_texts() {
            if captured.credentials != Credentials::Basic {
                assert!(
                    !value.contains(&basic) && !value.contains(API_TOKEN),
                    "{label}: header {name} carries the project's credentials"
                );
            }
            if captured.credentials != Credentials::Bearer {
                assert!(
                    !value.contains(&access_token),
                    "{label}: header {name} carries the subscriber's access token"
                );
            }
        }
        let body = String::from_utf8_lossy(&captured.request.body).into_owned();
        assert!(
            !body.contains(API_TOKEN) && !body.contains(&basic) && !body.contains(&access_token),
            "{label}: the body carries credentials"
        );
        seen.push(captured.credentials);
    }
    for kind in [Credentials::Basic, Credentials::Bearer, Credentials::None] {
        assert!(
            seen.contains(&kind),
            "no request case is sent with {kind:?}: that branch proves nothing"
        );
    }
}

#[tokio::test]
async fn a_request_without_a_body_sends_none() {
    let mut checked = 0;
    for captured in capture_all().await {
        if captured.sends_a_body() {
            continue;
        }
        assert!(
            captured.request.body.is_empty(),
            "{}: {} bytes of body",
            captured.label(),
            captured.request.body.len()
        );
        assert!(
            captured
                .header("content-length")
                .is_none_or(|length| length == "0"),
            "{}",
            captured.label()
        );
        checked += 1;
    }
    assert!(checked > 0, "no request case sends no body");
}

#[tokio::test]
async fn every_request_body_validates_against_the_spec_request_schema() {
    let spec = spec();
    for captured in capture_all().await {
        if !captured.sends_a_body() {
            continue;
        }
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
        if !captured.sends_a_body() {
            continue;
        }
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

#[test]
fn the_required_only_cases_leave_out_an_optional_field_the_example_sets() {
    let spec = spec();
    let required_only: Vec<&RequestCase> = REQUEST_CASES
        .iter()
        .filter(|case| case.body == RequestBody::RequiredOnly)
        .collect();
    assert!(
        !required_only.is_empty(),
        "no request case is required-only"
    );
    for case in required_only {
        let body = driver::intended_body(&spec, case);
        let first = signalwire_fabric_contract_tests::request_examples(&spec, case.operation)
            .into_iter()
            .next()
            .map(|(_, example)| example)
            .expect("an operation with a body has an example");
        let count = |value: &Value| value.as_object().map_or(0, |fields| fields.len());
        assert!(
            count(&body) >= 1 && count(&body) < count(&first),
            "{}/{}: a required-only body must leave something out of the example it is cut \
             from, or it proves nothing ({} of {} fields)",
            case.operation,
            case.name,
            count(&body),
            count(&first)
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
        let authorization = match captured.credentials {
            Credentials::Basic => "Basic [redacted: project id and API token]",
            Credentials::Bearer => "Bearer [redacted: the subscriber's access token]",
            Credentials::None => "[sent where the spec documents no credentials]",
        };
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
                (".headers.authorization", authorization),
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
