//! Mock servers, clients and snapshot settings shared by the contract tests.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use signalwire_codegen::Operation;
use signalwire_fabric::{Client, Error};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::driver::Issued;

pub use signalwire_fabric_contract_tests::fixtures::{API_TOKEN, PROJECT_ID};

/// Where every snapshot of the suite lives.
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// A client of the facade aimed at `server`, with the suite's credentials.
pub fn client_for(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN)
        .build()
        .expect("a loopback base URL and non-empty credentials are valid")
}

/// A fresh server that answers `operation`'s method and path with `response`, and
/// answers anything else with 599 (so a request to the wrong place cannot look right).
pub async fn serve(operation: &Operation, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(operation.method.as_str()))
        .and(path(operation.path.as_str()))
        .respond_with(response)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// The settings every snapshot is taken with: stored in `tests/snapshots`, named without
/// a module prefix, and filtered so nothing that changes between runs is recorded (mock
/// server ports, the crate version in the user agent, durations that count down).
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshot_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_sort_maps(true);
    settings.add_filter(r"http://127\.0\.0\.1:\d+", "http://[mock server]");
    settings.add_filter(
        r"signalwire-fabric/\d+\.\d+\.\d+[0-9A-Za-z.+-]*",
        "signalwire-fabric/[version]",
    );
    settings.add_filter(
        r"(access|refresh)_expires_in: \d+(\.\d+)?(s|ms|µs|ns)",
        "${1}_expires_in: [counting down; see lifetimes]",
    );
    settings
}

/// Asserts a text snapshot named `name` in `tests/snapshots`.
pub fn assert_text_snapshot(name: &str, text: &str) {
    settings().bind(|| insta::assert_snapshot!(name, text));
}

/// Asserts a JSON snapshot named `name` in `tests/snapshots`, with `redactions` (selector,
/// replacement) applied first.
pub fn assert_json_snapshot(name: &str, value: &serde_json::Value, redactions: &[(&str, &str)]) {
    let mut settings = settings();
    for (selector, replacement) in redactions {
        settings.add_redaction(selector, *replacement);
    }
    settings.bind(|| insta::assert_json_snapshot!(name, value));
}

/// What a snapshot records about an error: the variant with its fields, what it displays
/// and what a caller would ask of it.
pub fn describe_error(error: &Error) -> String {
    format!("{error:#?}\n{}", error_facts(error))
}

/// What an error displays and what a caller would ask of it.
pub fn error_facts(error: &Error) -> String {
    format!(
        "display: {error}\nstatus: {:?}\nis_retryable: {}\nrequires_new_subscriber_token: {}\n",
        error.status(),
        error.is_retryable(),
        error.requires_new_subscriber_token(),
    )
}

/// Asserts that `issued` holds exactly the token texts (and subscriber id) of the success
/// body `example`, without ever printing a token.
pub fn assert_round_trip(label: &str, example: &Value, issued: &Issued) {
    let fields = example
        .as_object()
        .unwrap_or_else(|| panic!("{label}: a success example is an object"));
    for (key, value) in fields {
        let expected = value
            .as_str()
            .unwrap_or_else(|| panic!("{label}: success field {key} is not a string"));
        match key.as_str() {
            "token" => assert!(
                issued.pair.access_token().expose_secret() == expected,
                "{label}: the access token differs from the example's `token`"
            ),
            "refresh_token" => assert!(
                issued.pair.refresh_token().expose_secret() == expected,
                "{label}: the refresh token differs from the example's `refresh_token`"
            ),
            "subscriber_id" => assert_eq!(
                issued.subscriber_id.as_deref(),
                Some(expected),
                "{label}: the subscriber id differs from the example's"
            ),
            other => panic!(
                "{label}: the suite does not know how to compare success field `{other}`; \
                 teach support::assert_round_trip"
            ),
        }
    }
    assert_eq!(
        issued.subscriber_id.is_some(),
        fields.contains_key("subscriber_id"),
        "{label}: a subscriber id is returned exactly when the body has one"
    );
}

/// What a snapshot records about a successful call: the lifetimes in whole minutes
/// (rounded up), which do not change between runs.
pub fn lifetimes(issued: &Issued) -> String {
    let minutes = |left: Duration| left.as_secs().div_ceil(60);
    format!(
        "lifetimes (whole minutes, rounded up): access {} min, refresh {} min\n",
        minutes(issued.pair.access_expires_in()),
        minutes(issued.pair.refresh_expires_in()),
    )
}

/// `value` as JSON text with every object's keys sorted, so what is served (and any
/// position an error message quotes) does not depend on serde_json's map order.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let mut fields: Vec<(&String, &Value)> = fields.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let fields: Vec<String> = fields
                .into_iter()
                .map(|(key, value)| {
                    format!("{}:{}", Value::from(key.as_str()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// A response with `status` and `body` as canonical JSON.
pub fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(canonical_json(body), "application/json")
}

/// Lowercase snapshot-safe form of a name.
pub fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}
