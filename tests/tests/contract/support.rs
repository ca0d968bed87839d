//! Mock servers, clients and snapshot settings shared by the contract tests.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use signalwire_codegen::{Operation, Spec};
use signalwire_fabric::{Client, Error, Subscriber, SubscriberAddress, TokenPair};
use signalwire_fabric_contract_tests::{fixtures, success_answer};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::driver::Returned;

pub use signalwire_fabric_contract_tests::fixtures::{API_TOKEN, PROJECT_ID};

/// Where every snapshot of the suite lives.
pub fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// A client of the facade aimed at `server`, with the suite's credentials.
pub fn client_for(server: &MockServer) -> Client {
    signalwire_fabric::testing::client_for(&server.uri())
}

/// A fresh server that answers `operation`'s method and path (with the suite's path
/// parameters) with `response`, and answers anything else with 599 (so a request to the
/// wrong place cannot look right).
pub async fn serve(operation: &Operation, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(operation.method.as_str()))
        .and(path(fixtures::request_path(&operation.path)))
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

/// A wiremock matcher on the exact query string (`None`: no query at all).
pub struct QueryIs(pub Option<String>);

impl wiremock::Match for QueryIs {
    fn matches(&self, request: &wiremock::Request) -> bool {
        request.url.query() == self.0.as_deref()
    }
}

/// A URL's path and query, as a request line carries them.
pub fn path_and_query(url: &reqwest::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
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

/// Asserts that `returned` holds exactly what the success body `example` says (`null`
/// for a response without a body), without ever printing a token.
pub fn assert_round_trip(label: &str, example: &Value, returned: &Returned) {
    match returned {
        Returned::Pair {
            subscriber_id,
            pair,
        } => assert_pair(label, example, subscriber_id.as_deref(), pair),
        Returned::Invite(_) | Returned::Embed(_) => {
            let fields = success_fields(label, example);
            for key in fields.keys() {
                if key != "token" {
                    unknown_success_field(label, key);
                }
            }
            let expected = fields
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{label}: the example has no `token` text"));
            assert!(
                returned.token_text() == Some(expected),
                "{label}: the token differs from the example's `token`"
            );
        }
        Returned::Subscriber(subscriber) => {
            assert_eq!(
                subscriber_facts(subscriber),
                expected_subscriber_facts(label, example),
                "{label}"
            );
        }
        Returned::Subscribers(subscribers) => {
            let items = page_items(label, example);
            assert_eq!(
                subscribers.len(),
                items.len(),
                "{label}: every item of `data` arrives through the stream, and nothing else"
            );
            for (index, (subscriber, item)) in subscribers.iter().zip(items).enumerate() {
                assert_eq!(
                    subscriber_facts(subscriber),
                    expected_subscriber_facts(&format!("{label} data[{index}]"), item),
                    "{label} data[{index}]"
                );
            }
        }
        Returned::Addresses(addresses) => {
            let items = page_items(label, example);
            assert_eq!(
                addresses.len(),
                items.len(),
                "{label}: every item of `data` arrives through the stream, and nothing else"
            );
            for (index, (address, item)) in addresses.iter().zip(items).enumerate() {
                assert_eq!(
                    address_facts(address),
                    expected_address_facts(&format!("{label} data[{index}]"), item),
                    "{label} data[{index}]"
                );
            }
        }
        Returned::Nothing => assert!(
            example.is_null(),
            "{label}: Ok(()) for a response the spec documents with a body"
        ),
    }
}

fn success_fields<'a>(label: &str, example: &'a Value) -> &'a serde_json::Map<String, Value> {
    example
        .as_object()
        .unwrap_or_else(|| panic!("{label}: a success example is an object"))
}

fn unknown_success_field(label: &str, key: &str) -> ! {
    panic!(
        "{label}: the suite does not know how to compare success field `{key}`; \
         teach support::assert_round_trip"
    )
}

fn assert_pair(label: &str, example: &Value, subscriber_id: Option<&str>, pair: &TokenPair) {
    let fields = success_fields(label, example);
    for (key, value) in fields {
        let expected = value
            .as_str()
            .unwrap_or_else(|| panic!("{label}: success field {key} is not a string"));
        match key.as_str() {
            "token" => assert!(
                pair.access_token().expose_secret() == expected,
                "{label}: the access token differs from the example's `token`"
            ),
            "refresh_token" => assert!(
                pair.refresh_token().expose_secret() == expected,
                "{label}: the refresh token differs from the example's `refresh_token`"
            ),
            "subscriber_id" => assert_eq!(
                subscriber_id,
                Some(expected),
                "{label}: the subscriber id differs from the example's"
            ),
            other => unknown_success_field(label, other),
        }
    }
    assert_eq!(
        subscriber_id.is_some(),
        fields.contains_key("subscriber_id"),
        "{label}: a subscriber id is returned exactly when the body has one"
    );
}

/// The items of a page example's `data`; `links` is the paging tests' business.
fn page_items<'a>(label: &str, example: &'a Value) -> &'a [Value] {
    let fields = success_fields(label, example);
    for key in fields.keys() {
        if !matches!(key.as_str(), "data" | "links") {
            unknown_success_field(label, key);
        }
    }
    fields
        .get("data")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{label}: a page example has a `data` list"))
}

/// A fact the round trip compares: a field's value in one comparable form.
type Facts = std::collections::BTreeMap<&'static str, Option<String>>;

/// `2026-11-20T09:30:00Z` as the instant it names, in unix nanoseconds.
fn instant(label: &str, text: &str) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("{label}: {text:?} is not RFC 3339: {error}"));
    unix_nanos(SystemTime::from(at))
}

fn unix_nanos(at: SystemTime) -> String {
    match at.duration_since(UNIX_EPOCH) {
        Ok(since) => format!("{} ns after the epoch", since.as_nanos()),
        Err(before) => format!("{} ns before the epoch", before.duration().as_nanos()),
    }
}

fn subscriber_facts(subscriber: &Subscriber) -> Facts {
    let time = |at: Option<SystemTime>| at.map(unix_nanos);
    Facts::from([
        ("id", Some(subscriber.id.to_string())),
        (
            "subscriber.id",
            subscriber
                .subscriber_id
                .as_ref()
                .map(|id| id.as_str().to_owned()),
        ),
        (
            "project_id",
            subscriber.project_id.as_ref().map(ToString::to_string),
        ),
        ("email", subscriber.email.clone()),
        ("display_name", subscriber.display_name.clone()),
        ("first_name", subscriber.first_name.clone()),
        ("last_name", subscriber.last_name.clone()),
        ("job_title", subscriber.job_title.clone()),
        ("timezone", subscriber.timezone.clone()),
        ("country", subscriber.country.clone()),
        ("company_name", subscriber.company_name.clone()),
        ("created_at", time(subscriber.created_at)),
        ("updated_at", time(subscriber.updated_at)),
    ])
}

/// What a `Subscriber` made from the wire object `example` must hold: every field the
/// example gives, and nothing where it gives none. The resource's `display_name` wins
/// over the person's, as the facade documents.
fn expected_subscriber_facts(label: &str, example: &Value) -> Facts {
    let fields = success_fields(label, example);
    let text = |key: &str, value: &Value| {
        value
            .as_str()
            .unwrap_or_else(|| panic!("{label}: `{key}` is not a string"))
            .to_owned()
    };
    let mut facts: Facts = SUBSCRIBER_FACTS.iter().map(|key| (*key, None)).collect();
    let mut person_display_name = None;
    for (key, value) in fields {
        match key.as_str() {
            "id" => facts.insert("id", Some(text(key, value))),
            "project_id" => facts.insert("project_id", Some(text(key, value))),
            "display_name" => facts.insert("display_name", Some(text(key, value))),
            "created_at" => facts.insert("created_at", Some(instant(label, &text(key, value)))),
            "updated_at" => facts.insert("updated_at", Some(instant(label, &text(key, value)))),
            // The schema's only value; the facade has no field for it.
            "type" => {
                assert_eq!(value, "subscriber", "{label}: an unknown resource type");
                None
            }
            "subscriber" => {
                let person = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{label}: `subscriber` is not an object"));
                for (key, value) in person {
                    let fact = match key.as_str() {
                        "id" => "subscriber.id",
                        "email" => "email",
                        "first_name" => "first_name",
                        "last_name" => "last_name",
                        "job_title" => "job_title",
                        "timezone" => "timezone",
                        "country" => "country",
                        "company_name" => "company_name",
                        "display_name" => {
                            person_display_name = Some(text(key, value));
                            continue;
                        }
                        other => unknown_success_field(label, &format!("subscriber.{other}")),
                    };
                    facts.insert(fact, Some(text(key, value)));
                }
                None
            }
            other => unknown_success_field(label, other),
        };
    }
    if facts.get("display_name").is_some_and(Option::is_none) {
        facts.insert("display_name", person_display_name);
    }
    facts
}

const SUBSCRIBER_FACTS: &[&str] = &[
    "id",
    "subscriber.id",
    "project_id",
    "email",
    "display_name",
    "first_name",
    "last_name",
    "job_title",
    "timezone",
    "country",
    "company_name",
    "created_at",
    "updated_at",
];

const ADDRESS_FACTS: &[&str] = &[
    "id",
    "name",
    "display_name",
    "cover_url",
    "preview_url",
    "locked",
    "channels.audio",
    "channels.messaging",
    "channels.video",
    "created_at",
];

fn address_facts(address: &SubscriberAddress) -> Facts {
    Facts::from([
        ("id", Some(address.id.to_string())),
        ("name", address.name.clone()),
        ("display_name", address.display_name.clone()),
        ("cover_url", address.cover_url.clone()),
        ("preview_url", address.preview_url.clone()),
        ("locked", address.locked.map(|locked| locked.to_string())),
        ("channels.audio", address.channels.audio.clone()),
        ("channels.messaging", address.channels.messaging.clone()),
        ("channels.video", address.channels.video.clone()),
        ("created_at", address.created_at.map(unix_nanos)),
    ])
}

/// What a `SubscriberAddress` made from the wire object `example` must hold.
fn expected_address_facts(label: &str, example: &Value) -> Facts {
    let fields = success_fields(label, example);
    let text = |key: &str, value: &Value| {
        value
            .as_str()
            .unwrap_or_else(|| panic!("{label}: `{key}` is not a string"))
            .to_owned()
    };
    let mut facts: Facts = ADDRESS_FACTS.iter().map(|key| (*key, None)).collect();
    for (key, value) in fields {
        let (fact, shown) = match key.as_str() {
            "id" => ("id", text(key, value)),
            "name" => ("name", text(key, value)),
            "display_name" => ("display_name", text(key, value)),
            "cover_url" => ("cover_url", text(key, value)),
            "preview_url" => ("preview_url", text(key, value)),
            "locked" => (
                "locked",
                value
                    .as_bool()
                    .unwrap_or_else(|| panic!("{label}: `locked` is not a boolean"))
                    .to_string(),
            ),
            "created_at" => ("created_at", instant(label, &text(key, value))),
            "type" => {
                assert_eq!(value, "subscriber", "{label}: an unknown address type");
                continue;
            }
            "channels" => {
                let channels = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{label}: `channels` is not an object"));
                for (key, value) in channels {
                    let fact = match key.as_str() {
                        "audio" => "channels.audio",
                        "messaging" => "channels.messaging",
                        "video" => "channels.video",
                        other => unknown_success_field(label, &format!("channels.{other}")),
                    };
                    facts.insert(fact, Some(text(key, value)));
                }
                continue;
            }
            other => unknown_success_field(label, other),
        };
        facts.insert(fact, Some(shown));
    }
    facts
}

/// What a snapshot records about a successful call that issued a token pair: the
/// lifetimes in whole minutes (rounded up), which do not change between runs. Nothing
/// for any other success.
pub fn lifetimes(returned: &Returned) -> String {
    let Returned::Pair { pair, .. } = returned else {
        return String::new();
    };
    let minutes = |left: Duration| left.as_secs().div_ceil(60);
    format!(
        "lifetimes (whole minutes, rounded up): access {} min, refresh {} min\n",
        minutes(pair.access_expires_in()),
        minutes(pair.refresh_expires_in()),
    )
}

/// `example` as the only page of a listing: without `links.next`, so a single response
/// is a whole exchange. Anything that is not a page is returned unchanged.
pub fn one_page(example: &Value) -> Value {
    let mut body = example.clone();
    if let Some(Value::Object(links)) = body.get_mut("links") {
        links.remove("next");
    }
    body
}

/// The first success the spec documents for `operation` and its first example as one
/// whole exchange (see [`one_page`]); `None` when the success has no body.
pub fn success(spec: &Spec, operation: &str) -> (u16, Option<Value>) {
    let (status, example) = success_answer(spec, operation);
    (status, example.as_ref().map(one_page))
}

/// A response with `status` and `body` as canonical JSON, or no body at all.
pub fn answer(status: u16, body: Option<&Value>) -> ResponseTemplate {
    match body {
        Some(body) => json_response(status, body),
        None => ResponseTemplate::new(status),
    }
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
