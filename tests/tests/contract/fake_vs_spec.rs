//! The fake against the spec, over real HTTP: every kind of answer
//! `signalwire_fabric_fake::FakeSpace` gives (success, wrong credentials, unknown paths
//! and ids, forged page tokens, each 422 rule it enforces, unknown click-to-call tokens,
//! injected faults) has a status the spec documents for the operation and a body that
//! fits the spec's schema for that status (or no body, where the spec documents none);
//! and the fake accepts every request example of the spec.
//!
//! Requests go out with reqwest rather than the facade, so that the suite can send what
//! the facade never would (bad bodies, wrong credentials, other paths). Each scenario gets
//! a fake of its own, so no scenario's tokens, subscribers or clock can change another's
//! answer. Every fake is seeded with two subscribers (so `{id}` paths have a subscriber to
//! name and lists have a second page) and pages one item at a time.
//!
//! Each operation is sent with the credentials the spec's `security` names for it:
//! Basic for most, a subscriber's access token as Bearer for invites, nothing for embed
//! tokens (where any credentials sent are ignored, so every "wrong" credential still
//! succeeds).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openapiv3::{ReferenceOr, SecurityScheme};
use serde_json::{Value, json};
use signalwire_codegen::Spec;
use signalwire_fabric_contract_tests::coverage::documented_pairs;
use signalwire_fabric_contract_tests::schema::{
    closed, request_schema, required_names, response_schema, validator, violations,
};
use signalwire_fabric_contract_tests::{openapi_operation, request_examples, response_media, spec};
use signalwire_fabric_fake::{
    ACCESS_TOKEN_LIFETIME, FakeSpace, Fault, Operation, PAGE_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME,
};

const CREATE: &str = "create_subscriber_token";
const REFRESH: &str = "refresh_subscriber_token";
const GUEST: &str = "create_subscriber_guest_token";
const INVITE: &str = "create_subscriber_invite_token";
const EMBED: &str = "create_guest_embed_token";
const LIST: &str = "list_subscribers";
const CREATE_SUBSCRIBER: &str = "create_subscriber";
const UPDATE_SUBSCRIBER: &str = "update_subscriber";
const LIST_ADDRESSES: &str = "list_subscriber_addresses";

/// The media type the spec documents for every body, and the fake must label JSON with.
const JSON: &str = "application/json";

/// Documented (operationId, status) pairs the fake has no way to produce, and why. Every
/// other documented pair must be observed; a pair listed here that is observed, or that
/// the spec no longer documents, fails the suite too.
const NEVER_PRODUCED: &[(&str, u16, &str)] = &[
    (
        CREATE,
        201,
        "the fake answers a create with 200, as SignalWire does (the spec accepts 201 for \
         other servers); a 201 status fault would send {\"error\": \"Created\"}, which is a \
         fault's body, not a success body",
    ),
    (
        REFRESH,
        200,
        "the fake answers a refresh with 201, as SignalWire does (the spec accepts 200 for \
         other servers); a 200 status fault would send {\"error\": \"OK\"}, which is a \
         fault's body, not a success body",
    ),
    (
        GUEST,
        200,
        "the fake answers a guest token with 201, as SignalWire does (the spec accepts 200 \
         for other servers); a 200 status fault would send a fault's body",
    ),
    (
        INVITE,
        200,
        "the fake answers an invite with 201, as SignalWire does (the spec accepts 200 for \
         other servers); a 200 status fault would send a fault's body",
    ),
    (
        EMBED,
        200,
        "the fake answers an embed token with 201, as SignalWire does (the spec accepts 200 \
         for other servers); a 200 status fault would send a fault's body",
    ),
];

/// Stands for a refresh token the scenario's fake has just issued; replaced before the
/// request is sent.
const ISSUED_REFRESH_TOKEN: &str = "{a refresh token this fake issued}";
/// Stands for the first address of the subscriber the requests act as (the one whose
/// access token authenticates invites).
const CALLER_ADDRESS: &str = "{an address of the calling subscriber}";
/// Stands for the first address of the other seeded subscriber.
const OTHER_ADDRESS: &str = "{an address of another subscriber}";
/// Stands for the click-to-call token the scenario's fake accepts.
const CLICK_TO_CALL: &str = "{the click-to-call token this fake accepts}";

/// The request properties whose example values name things only the server that made
/// them knows, and what the suite sends instead. Tokens (`format: jwt`) are found from
/// the schema; these are not (an address id is just a `uuid`, a click-to-call token just
/// a string).
const FAKE_STATE_VALUES: &[(&str, &str, &str)] = &[
    (GUEST, "allowed_addresses", CALLER_ADDRESS),
    (INVITE, "address_id", CALLER_ADDRESS),
    (EMBED, "token", CLICK_TO_CALL),
];

/// The email of the subscriber the suite acts as (`{id}` paths name it, invites are sent
/// with its access token).
const REFERENCE: &str = "fake-vs-spec@example.com";
/// The email of the second seeded subscriber.
const OTHER_REFERENCE: &str = "fake-vs-spec-other@example.com";

/// An address id no fake holds.
const UNKNOWN_ADDRESS: &str = "0b8e2f7d-4c10-4a51-9e3c-6f1c2b9e4d7a";

// ---------------------------------------------------------------------------------------
// Talking to the fake.

/// What the fake answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// The media type without parameters, lowercased.
    fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// An error body for a failure message (never a success body: those hold tokens).
    fn shown(&self) -> String {
        if (200..300).contains(&self.status) {
            format!("[a {}-byte success body]", self.body.len())
        } else {
            self.text()
        }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.shown()))
    }
}

/// How an operation is authenticated, as the spec's `security` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// The project's Basic credentials.
    Basic,
    /// A subscriber's access token as a Bearer token.
    Bearer,
    /// Nothing.
    None,
}

/// The scheme `operation_id` is authenticated with: its own `security`, else the
/// document's.
fn scheme(spec: &Spec, operation_id: &str) -> Scheme {
    let document = spec.document();
    let requirements = openapi_operation(spec, operation_id)
        .security
        .as_ref()
        .or(document.security.as_ref());
    let names: Vec<&String> = requirements
        .map(|requirements| requirements.iter().flat_map(|r| r.keys()).collect())
        .unwrap_or_default();
    let name = match names.as_slice() {
        [] => return Scheme::None,
        [name] => *name,
        several => panic!("{operation_id}: teach the suite about {several:?} together"),
    };
    let scheme = document
        .components
        .as_ref()
        .and_then(|components| components.security_schemes.get(name));
    match scheme {
        Some(ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. }))
            if scheme.eq_ignore_ascii_case("basic") =>
        {
            Scheme::Basic
        }
        Some(ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. }))
            if scheme.eq_ignore_ascii_case("bearer") =>
        {
            Scheme::Bearer
        }
        other => panic!("{operation_id}: teach the suite about the scheme {name}: {other:?}"),
    }
}

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credentials {
    /// What the operation's scheme asks for: the project's Basic credentials, the calling
    /// subscriber's access token as Bearer, or nothing.
    Valid,
    /// The fake's project id and API token, whatever the operation asks for.
    ProjectBasic,
    /// A live access token the fake issued to the calling subscriber, as Bearer.
    SubscriberBearer,
    /// The right project id with another API token.
    WrongApiToken,
    /// Another project id with the right API token.
    WrongProjectId,
    /// No `Authorization` header.
    Missing,
    /// The API token as a bearer token instead of Basic credentials.
    ApiTokenAsBearer,
    /// `Basic` with text that is not base64.
    NotBase64,
    /// A refresh token the fake issued, as Bearer.
    RefreshTokenAsBearer,
    /// An access token the fake issued, as Bearer, after the fake's clock has passed its
    /// lifetime.
    ExpiredAccessToken,
    /// An access token the fake never issued, as Bearer.
    UnissuedAccessToken,
}

impl Credentials {
    /// Every credential but [`Credentials::Valid`].
    const ALL_SPECIFIC: [Credentials; 10] = [
        Credentials::ProjectBasic,
        Credentials::SubscriberBearer,
        Credentials::WrongApiToken,
        Credentials::WrongProjectId,
        Credentials::Missing,
        Credentials::ApiTokenAsBearer,
        Credentials::NotBase64,
        Credentials::RefreshTokenAsBearer,
        Credentials::ExpiredAccessToken,
        Credentials::UnissuedAccessToken,
    ];

    /// Whether these credentials authenticate an operation with `scheme`.
    fn satisfy(self, scheme: Scheme) -> bool {
        matches!(
            (self, scheme),
            (Credentials::Valid, _)
                | (_, Scheme::None)
                | (Credentials::ProjectBasic, Scheme::Basic)
                | (Credentials::SubscriberBearer, Scheme::Bearer)
        )
    }
}

/// What a request carries as its body.
#[derive(Debug, Clone)]
enum Body {
    /// JSON; placeholder strings are replaced first (see [`substitute`]).
    Json(Value),
    /// These bytes, labelled `application/json`.
    Raw(&'static str),
    /// Nothing (the operations that take no body).
    Empty,
}

/// One request: where, how authenticated, with what.
struct Request<'a> {
    method: &'a str,
    /// The path, and the query if any.
    path: &'a str,
    scheme: Scheme,
    credentials: Credentials,
    body: &'a Body,
}

/// A request with the operation's valid credentials and `body`.
fn valid_request<'a>(
    method: &'a str,
    path: &'a str,
    scheme: Scheme,
    body: &'a Body,
) -> Request<'a> {
    Request {
        method,
        path,
        scheme,
        credentials: Credentials::Valid,
        body,
    }
}

/// Sends one request to the fake.
async fn send(fake: &FakeSpace, request: Request<'_>) -> Answer {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain reqwest client builds");
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("a method");
    let path = request.path;
    let mut builder = http.request(method, format!("{}{path}", fake.base_url()));
    let credentials = match (request.credentials, request.scheme) {
        (Credentials::Valid, Scheme::Basic) => Credentials::ProjectBasic,
        (Credentials::Valid, Scheme::Bearer) => Credentials::SubscriberBearer,
        (Credentials::Valid, Scheme::None) => Credentials::Missing,
        (other, _) => other,
    };
    builder = match credentials {
        Credentials::Valid | Credentials::Missing => builder,
        Credentials::ProjectBasic => builder.basic_auth(fake.project_id(), Some(fake.api_token())),
        Credentials::SubscriberBearer => {
            builder.bearer_auth(fake.create_subscriber_token(REFERENCE).token)
        }
        Credentials::WrongApiToken => {
            builder.basic_auth(fake.project_id(), Some("PTnot-the-fakes-token"))
        }
        Credentials::WrongProjectId => builder.basic_auth(
            "00000000-0000-4000-8000-000000000000",
            Some(fake.api_token()),
        ),
        Credentials::ApiTokenAsBearer => builder.bearer_auth(fake.api_token()),
        Credentials::NotBase64 => {
            builder.header(reqwest::header::AUTHORIZATION, "Basic !!not-base64!!")
        }
        Credentials::RefreshTokenAsBearer => {
            builder.bearer_auth(fake.create_subscriber_token(REFERENCE).refresh_token)
        }
        Credentials::ExpiredAccessToken => {
            let token = fake.create_subscriber_token(REFERENCE).token;
            fake.clock()
                .advance(ACCESS_TOKEN_LIFETIME + Duration::from_secs(1));
            builder.bearer_auth(token)
        }
        Credentials::UnissuedAccessToken => builder.bearer_auth(unissued_access_token()),
    };
    builder = match request.body {
        Body::Json(value) => builder
            .header(reqwest::header::CONTENT_TYPE, JSON)
            .body(substitute(fake, value).to_string()),
        Body::Raw(text) => builder
            .header(reqwest::header::CONTENT_TYPE, JSON)
            .body(*text),
        Body::Empty => builder,
    };
    let response = builder.send().await.unwrap_or_else(|error| {
        panic!(
            "{} {path}: no answer from the fake: {error}",
            request.method
        )
    });
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header").to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        content_type: header(reqwest::header::CONTENT_TYPE),
        retry_after: header(reqwest::header::RETRY_AFTER),
        body: response
            .bytes()
            .await
            .expect("the fake's body arrives whole")
            .to_vec(),
    }
}

/// `value` with every placeholder replaced by what `fake` holds: a refresh token it
/// issues for [`REFERENCE`], an address of either seeded subscriber, its click-to-call
/// token.
fn substitute(fake: &FakeSpace, value: &Value) -> Value {
    let address = |email: &str| {
        let subscriber = fake
            .subscriber(email)
            .unwrap_or_else(|| panic!("the fake was seeded with {email}"));
        Value::String(subscriber.address_ids[0].to_string())
    };
    match value {
        Value::String(text) if text == ISSUED_REFRESH_TOKEN => {
            Value::String(fake.create_subscriber_token(REFERENCE).refresh_token)
        }
        Value::String(text) if text == CALLER_ADDRESS => address(REFERENCE),
        Value::String(text) if text == OTHER_ADDRESS => address(OTHER_REFERENCE),
        Value::String(text) if text == CLICK_TO_CALL => {
            Value::String(fake.click_to_call_token().to_owned())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(fake, v)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, v)| (key.clone(), substitute(fake, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `value` with every placeholder replaced by text of the right shape (for checking a
/// body against the spec's schema without a fake).
fn stand_ins(value: &Value) -> Value {
    match value {
        Value::String(text) if text == ISSUED_REFRESH_TOKEN => json!("a.b.c"),
        Value::String(text) if text == CALLER_ADDRESS || text == OTHER_ADDRESS => {
            json!(UNKNOWN_ADDRESS)
        }
        Value::String(text) if text == CLICK_TO_CALL => {
            json!("c2c_00000000000000000000000000000000")
        }
        Value::Array(items) => Value::Array(items.iter().map(stand_ins).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, v)| (key.clone(), stand_ins(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn fake_operation(operation_id: &str) -> Operation {
    Operation::ALL
        .into_iter()
        .find(|operation| operation.operation_id() == operation_id)
        .unwrap_or_else(|| panic!("the fake does not serve {operation_id}"))
}

/// Whether the spec gives `operation_id` a request body.
fn has_body(spec: &Spec, operation_id: &str) -> bool {
    openapi_operation(spec, operation_id).request_body.is_some()
}

/// The spec's request example `example` of `operation_id`, with every value only a
/// server that made it would know replaced by a placeholder: tokens (`format: jwt`) by
/// [`ISSUED_REFRESH_TOKEN`], and the [`FAKE_STATE_VALUES`] (array items one by one).
fn with_fake_values(spec: &Spec, operation_id: &str, example: &Value) -> Value {
    let schema = request_schema(spec, operation_id);
    let mut body = example.clone();
    if let (Some(fields), Some(properties)) = (
        body.as_object_mut(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for (name, property) in properties {
            if property.get("format") == Some(&json!("jwt")) && fields.contains_key(name) {
                fields.insert(name.clone(), json!(ISSUED_REFRESH_TOKEN));
            }
        }
        for (operation, name, placeholder) in FAKE_STATE_VALUES {
            if *operation != operation_id {
                continue;
            }
            match fields.get_mut(*name) {
                Some(Value::Array(items)) => {
                    for item in items {
                        *item = json!(placeholder);
                    }
                }
                Some(value) => *value = json!(placeholder),
                None => {}
            }
        }
    }
    body
}

/// A body the fake accepts for `operation_id`: the spec's first request example, with
/// values this fake knows; `None` for an operation without a request body.
fn valid_body(spec: &Spec, operation_id: &str) -> Option<Value> {
    if !has_body(spec, operation_id) {
        return None;
    }
    let (_, example) = request_examples(spec, operation_id)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{operation_id} has no request example"));
    Some(with_fake_values(spec, operation_id, &example))
}

/// A body for `operation_id` that sets every property of its request schema, when the
/// first example does not already.
fn every_property(operation_id: &str) -> Option<Value> {
    match operation_id {
        GUEST => Some(json!({
            "allowed_addresses": [CALLER_ADDRESS, OTHER_ADDRESS],
            "expire_at": signalwire_fabric_contract_tests::fixtures::EXPIRE_AT,
            "region": "us-central",
            "ch": "us-central",
        })),
        other => signalwire_fabric_contract_tests::fixtures::every_property(other),
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios: every kind of answer the fake can give.

/// Which `{id}` a scenario puts in the path.
#[derive(Debug, Clone, Copy)]
enum Id {
    /// A UUID no subscriber has.
    Unknown,
    /// Text that is not a UUID.
    NotAUuid,
    /// The calling subscriber's subscriber id (the one token responses name), which is not
    /// its resource id.
    SubscriberIdInstead,
}

/// How a scenario makes the fake answer.
#[derive(Debug, Clone)]
enum Provoke {
    /// A request to the operation's path (`{id}`: the calling subscriber's resource id)
    /// with these credentials and this body.
    Send(Credentials, Body),
    /// A valid request to the operation's path with this suffix added (a path the fake
    /// does not serve, or an `{id}` it does not hold), with the project's credentials.
    PathSuffix(&'static str),
    /// A valid request with this `{id}` in the path.
    Id(Id),
    /// A valid request with this query.
    Query(&'static str),
    /// A list's second page, by following the first page's `links.next`.
    FollowNext,
    /// A list's `links.next`, followed after the fake's clock has passed the page
    /// token's lifetime.
    StalePageToken,
    /// A refresh that sends the access token of a pair the fake issued.
    AccessTokenAsRefreshToken,
    /// A refresh that sends an issued refresh token after the fake's clock has passed its
    /// lifetime.
    ExpiredRefreshToken,
    /// A refresh that sends a refresh token which was already exchanged.
    SpentRefreshToken,
    /// A valid request while this fault is injected.
    Fault(Fault),
}

/// What a scenario's answer must be.
#[derive(Debug, Clone)]
enum Expect {
    /// One of the operation's documented success statuses.
    Success,
    /// This documented status.
    Status(u16),
    /// A documented 422 with exactly one entry, with this code and attribute.
    Rejected {
        code: &'static str,
        attribute: Option<String>,
    },
    /// Exactly what an injected fault says: status, media type, a piece of the body, and
    /// `Retry-After`. For statuses the spec does not document, and for faults that send
    /// an HTML page instead of the documented JSON.
    AsFaultSays {
        status: u16,
        media_type: &'static str,
        body_contains: &'static str,
        retry_after: Option<&'static str>,
    },
}

#[derive(Debug, Clone)]
struct Scenario {
    operation: &'static str,
    what: String,
    provoke: Provoke,
    expect: Expect,
}

fn scenario(
    operation: &'static str,
    what: impl Into<String>,
    provoke: Provoke,
    expect: Expect,
) -> Scenario {
    Scenario {
        operation,
        what: what.into(),
        provoke,
        expect,
    }
}

fn rejected(code: &'static str, attribute: Option<&str>) -> Expect {
    Expect::Rejected {
        code,
        attribute: attribute.map(str::to_owned),
    }
}

/// A value of a property's schema that breaks it, with what is wrong with it.
#[derive(Debug, Clone)]
struct Invalid {
    property: String,
    why: &'static str,
    value: Value,
}

/// An item that fits `items` (a uuid, or a plain string), numbered so items differ.
fn fitting_item(items: &Value, n: usize) -> Value {
    match items.get("format").and_then(Value::as_str) {
        Some("uuid") => json!(format!("00000000-0000-4000-8000-{n:012}")),
        None => json!(format!("item-{n}")),
        Some(other) => panic!("teach fitting_item about items of format {other}"),
    }
}

/// For every property of `operation_id`'s request schema, values that break the spec's
/// rules for it: the wrong JSON type, a string outside its `format`, `enum`, lengths or
/// `pattern`, a fraction for an integer, an array with a bad item or too few or too many
/// items. Derived from the spec, so a property or rule added there is sent to the fake
/// too.
fn invalid_values(spec: &Spec, operation_id: &str) -> Vec<Invalid> {
    let schema = request_schema(spec, operation_id);
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{operation_id}: the request schema lists no properties"));
    let mut invalid = Vec::new();
    for (name, property) in properties {
        let mut add = |why: &'static str, value: Value| {
            invalid.push(Invalid {
                property: name.clone(),
                why,
                value,
            });
        };
        let count = |keyword: &str| {
            property
                .get(keyword)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        match property.get("type").and_then(Value::as_str) {
            Some("string") => add("a number instead of a string", json!(42)),
            Some("integer") => {
                add("a string instead of an integer", json!("soon"));
                add("a fraction instead of an integer", json!(1.5));
            }
            Some("array") => {
                add("a string instead of an array", json!("not-an-array"));
                let items = property.get("items").cloned().unwrap_or(json!({}));
                match items.get("type").and_then(Value::as_str) {
                    Some("string") => add("an item that is a number", json!([42])),
                    other => panic!(
                        "{operation_id}.{name}: teach invalid_values about items of type {other:?}"
                    ),
                }
                if items.get("format") == Some(&json!("uuid")) {
                    add("an item that is not a uuid", json!(["not-a-uuid"]));
                }
                if let Some(min) = count("minItems").filter(|min| *min > 0) {
                    let fewer: Vec<Value> = (0..min - 1).map(|n| fitting_item(&items, n)).collect();
                    add("fewer items than minItems", Value::Array(fewer));
                }
                if let Some(max) = count("maxItems") {
                    let more: Vec<Value> = (0..=max).map(|n| fitting_item(&items, n)).collect();
                    add("more items than maxItems", Value::Array(more));
                }
            }
            other => panic!(
                "{operation_id}.{name}: teach invalid_values about properties of type {other:?}"
            ),
        }
        match property.get("format").and_then(Value::as_str) {
            Some("uuid") => add("not a uuid", json!("not-a-uuid")),
            Some("jwt") => add("not a jwt", json!("not a token")),
            Some("int64" | "int32") | None => {}
            Some(other) => {
                panic!("{operation_id}.{name}: teach invalid_values about format {other}")
            }
        }
        if let Some(first) = property
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|values| values.first())
            .and_then(Value::as_str)
        {
            add("outside the enum", json!(format!("{first}-unknown")));
        }
        if let Some(min) = count("minLength").filter(|min| *min > 0) {
            add("shorter than minLength", json!("A".repeat(min - 1)));
        }
        if let Some(max) = count("maxLength") {
            add("longer than maxLength", json!("A".repeat(max + 1)));
        }
        if property.get("pattern").is_some() {
            let len = count("minLength").unwrap_or(1).max(1);
            add("outside the pattern", json!("!".repeat(len)));
        }
    }
    invalid
}

/// The code the fake answers a broken rule with: an empty required string counts as
/// missing, a malformed token has its own code, anything else is `invalid_parameter`.
fn expected_code(required: bool, invalid: &Invalid) -> &'static str {
    match (invalid.why, &invalid.value) {
        (_, Value::String(text)) if required && text.is_empty() => "missing_required_parameter",
        ("not a jwt", _) => "invalid_token_format",
        _ => "invalid_parameter",
    }
}

/// Answers that depend on what the fake holds: bodies valid by the spec's schema that
/// are refused with a documented 422 all the same, because they name an address the fake
/// does not hold (or that is not the caller's), or an email another subscriber has. No
/// body is refused for its shape alone beyond the spec: the fake accepts what the spec
/// accepts (see [`boundary_values`]). Bodies may hold placeholders.
fn fake_only_rules() -> Vec<(
    &'static str,
    &'static str,
    Value,
    &'static str,
    &'static str,
)> {
    vec![
        (
            GUEST,
            "an address the fake does not hold",
            json!({"allowed_addresses": [CALLER_ADDRESS, UNKNOWN_ADDRESS]}),
            "must_belong_to_project",
            "allowed_addresses",
        ),
        (
            INVITE,
            "another subscriber's address",
            json!({"address_id": OTHER_ADDRESS}),
            "must_belong_to_project",
            "address_id",
        ),
        (
            INVITE,
            "an address the fake does not hold",
            json!({"address_id": UNKNOWN_ADDRESS}),
            "must_belong_to_project",
            "address_id",
        ),
        (
            CREATE_SUBSCRIBER,
            "an email another subscriber has",
            json!({"email": OTHER_REFERENCE}),
            "invalid_parameter",
            "email",
        ),
        (
            UPDATE_SUBSCRIBER,
            "an email another subscriber has",
            json!({"email": OTHER_REFERENCE}),
            "invalid_parameter",
            "email",
        ),
    ]
}

/// The answer to a body with a boundary value in a property whose meaning depends on what
/// the fake holds; every other boundary value must be a success. A click-to-call token
/// other than the fake's own is one it does not know: 403, as the spec documents.
const BOUNDARY_ANSWERS: &[(&str, &str, u16)] = &[(EMBED, "token", 403)];

/// A value at the edge of what the spec allows for a property.
#[derive(Debug, Clone)]
struct Boundary {
    property: String,
    why: &'static str,
    value: Value,
}

/// For every property of `operation_id`'s request schema, values at the edges of what
/// the spec allows, kept only when the spec's schema accepts them in the valid body:
/// the shortest text (`"0"`), text of exactly `minLength` and `maxLength`, blank text, the
/// nil UUID, and whole numbers at and before the unix epoch and at both ends of int64
/// (for times: already past, or as late as can be). Properties whose values name what
/// only the fake knows (placeholders, tokens) and enums are left to other scenarios.
/// A fake that refuses any of these refuses what the spec accepts.
fn boundary_values(spec: &Spec, operation_id: &str) -> Vec<Boundary> {
    let Some(valid) = valid_body(spec, operation_id) else {
        return Vec::new();
    };
    let schema = request_schema(spec, operation_id);
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let request = validator(&schema);
    let mut found = Vec::new();
    for (name, property) in properties {
        let names_fake_state = FAKE_STATE_VALUES
            .iter()
            .any(|(operation, state, _)| *operation == operation_id && state == name)
            && !BOUNDARY_ANSWERS
                .iter()
                .any(|(operation, answered, _)| *operation == operation_id && answered == name);
        if names_fake_state
            || property.get("enum").is_some()
            || property.get("format") == Some(&json!("jwt"))
        {
            continue;
        }
        let length = |keyword: &str| {
            property
                .get(keyword)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        let mut candidates: Vec<(&'static str, Value)> = Vec::new();
        match property.get("type").and_then(Value::as_str) {
            Some("string") => {
                candidates.push(("the shortest text", json!("0")));
                candidates.push(("blank text", json!(" ")));
                if let Some(min) = length("minLength") {
                    candidates.push(("text of exactly minLength", json!("0".repeat(min))));
                }
                if let Some(max) = length("maxLength") {
                    candidates.push(("text of exactly maxLength", json!("0".repeat(max))));
                }
                candidates.push((
                    "the nil uuid",
                    json!("00000000-0000-0000-0000-000000000000"),
                ));
            }
            Some("integer") => {
                candidates.push(("zero (the unix epoch, long past)", json!(0)));
                candidates.push(("a negative number (before the epoch)", json!(-1)));
                candidates.push(("the smallest int64", json!(i64::MIN)));
                candidates.push(("the largest int64", json!(i64::MAX)));
            }
            _ => {}
        }
        for (why, value) in candidates {
            let mut body = stand_ins(&valid);
            body[name.as_str()] = value.clone();
            if violations(&request, &body).is_empty() {
                found.push(Boundary {
                    property: name.clone(),
                    why,
                    value,
                });
            }
        }
    }
    found
}

/// A JWE-shaped token whose header says `typ` "SAT", which this fake never issued.
fn unissued_access_token() -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256GCM","typ":"SAT"}"#);
    format!("{header}..aXZpdml2aXZpdg.Y2lwaGVydGV4dA.dGFndGFndGFndGFn")
}

/// Every scenario whose answer must be documented by the spec, for every operation.
fn documented_scenarios(spec: &Spec) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for operation in spec.operations() {
        let id: &'static str = fake_operation(&operation.id).operation_id();
        let scheme = scheme(spec, id);
        let valid = valid_body(spec, id);
        let valid_as_sent = valid.clone().map_or(Body::Empty, Body::Json);
        let send = |credentials, body: Value| Provoke::Send(credentials, Body::Json(body));

        // Success.
        scenarios.push(scenario(
            id,
            if valid.is_some() {
                "the spec's first request example"
            } else {
                "the request as documented"
            },
            Provoke::Send(Credentials::Valid, valid_as_sent.clone()),
            Expect::Success,
        ));
        if let Some(every) = every_property(id) {
            scenarios.push(scenario(
                id,
                "every property set",
                send(Credentials::Valid, every),
                Expect::Success,
            ));
        }
        scenarios.push(scenario(
            id,
            "an answer held back by a delay fault",
            Provoke::Fault(Fault::delay(Duration::from_millis(50))),
            Expect::Success,
        ));

        // 401, or success where the operation takes no credentials (any sent are
        // ignored).
        for credentials in Credentials::ALL_SPECIFIC {
            let expect = if credentials.satisfy(scheme) {
                Expect::Success
            } else {
                Expect::Status(401)
            };
            scenarios.push(scenario(
                id,
                format!("credentials {credentials:?} ({scheme:?} operation)"),
                Provoke::Send(credentials, valid_as_sent.clone()),
                expect,
            ));
        }

        // 404: the fake serves nothing else; the spec documents 404 on each operation,
        // so the fake's 404 near each operation's path must fit that operation's schema.
        for suffix in ["/", "/unknown"] {
            scenarios.push(scenario(
                id,
                format!("the path with {suffix:?} added"),
                Provoke::PathSuffix(suffix),
                Expect::Status(404),
            ));
        }
        if operation.path.contains("{id}") {
            for choice in [Id::Unknown, Id::NotAUuid, Id::SubscriberIdInstead] {
                scenarios.push(scenario(
                    id,
                    format!("the id {choice:?}"),
                    Provoke::Id(choice),
                    Expect::Status(404),
                ));
            }
        }

        // Lists: the next page, and page links the fake did not hand out.
        if id == LIST || id == LIST_ADDRESSES {
            scenarios.push(scenario(
                id,
                "the second page, by links.next",
                Provoke::FollowNext,
                Expect::Success,
            ));
            scenarios.push(scenario(
                id,
                "a page_size on the first page",
                Provoke::Query("page_size=5"),
                Expect::Success,
            ));
            for (what, query) in [
                (
                    "a forged page_token",
                    "page_number=1&page_size=1&page_token=PA0f3c9a1e2b",
                ),
                (
                    "a later page without a page_token",
                    "page_number=1&page_size=1",
                ),
                ("a page_size of 0", "page_size=0"),
            ] {
                scenarios.push(scenario(
                    id,
                    what,
                    Provoke::Query(query),
                    Expect::Status(404),
                ));
            }
            scenarios.push(scenario(
                id,
                "a page_token past its lifetime",
                Provoke::StalePageToken,
                Expect::Status(404),
            ));
        }

        // 403: a click-to-call token of the right shape that this fake does not know.
        if id == EMBED {
            scenarios.push(scenario(
                id,
                "a click-to-call token this fake does not know",
                send(
                    Credentials::Valid,
                    json!({"token": "c2c_00000000000000000000000000000000"}),
                ),
                Expect::Status(403),
            ));
        }

        if let Some(valid) = &valid {
            // 422: bodies that are no JSON object at all.
            for (what, body) in [
                ("an empty body", Body::Raw("")),
                ("a body that is not JSON", Body::Raw("reference=alice")),
                ("a JSON array", Body::Raw("[]")),
                ("a JSON string", Body::Raw("\"alice\"")),
            ] {
                scenarios.push(scenario(
                    id,
                    what,
                    Provoke::Send(Credentials::Valid, body),
                    rejected("missing_required_parameter", None),
                ));
            }

            // 422: every required property left out or null, every rule of every
            // property broken, each on its own.
            let schema = request_schema(spec, id);
            let required = required_names(&schema);
            for name in &required {
                for (what, value) in [("left out", None), ("null", Some(Value::Null))] {
                    let mut body = valid.clone();
                    let fields = body.as_object_mut().expect("a request body is an object");
                    match value {
                        None => fields.remove(name),
                        Some(value) => fields.insert(name.clone(), value),
                    };
                    scenarios.push(scenario(
                        id,
                        format!("required {name} {what}"),
                        send(Credentials::Valid, body),
                        rejected("missing_required_parameter", Some(name)),
                    ));
                }
            }
            for invalid in invalid_values(spec, id) {
                let mut body = valid.clone();
                body[invalid.property.as_str()] = invalid.value.clone();
                let code = expected_code(required.contains(&invalid.property), &invalid);
                scenarios.push(scenario(
                    id,
                    format!("{}: {}", invalid.property, invalid.why),
                    send(Credentials::Valid, body),
                    rejected(code, Some(&invalid.property)),
                ));
            }
            for boundary in boundary_values(spec, id) {
                let mut body = valid.clone();
                body[boundary.property.as_str()] = boundary.value.clone();
                let expect = BOUNDARY_ANSWERS
                    .iter()
                    .find(|(operation, property, _)| {
                        *operation == id && *property == boundary.property
                    })
                    .map_or(Expect::Success, |(_, _, status)| Expect::Status(*status));
                scenarios.push(scenario(
                    id,
                    format!(
                        "{}: {} ({}), which the spec allows",
                        boundary.property, boundary.why, boundary.value
                    ),
                    send(Credentials::Valid, body),
                    expect,
                ));
            }
            for (operation, what, body, code, attribute) in fake_only_rules() {
                if operation == id {
                    scenarios.push(scenario(
                        id,
                        what,
                        send(Credentials::Valid, body),
                        rejected(code, Some(attribute)),
                    ));
                }
            }
        }

        // 422: the refresh token's life cycle.
        if id == REFRESH {
            let token = |text: String| send(Credentials::Valid, json!({"refresh_token": text}));
            let example_token = request_examples(spec, REFRESH)
                .into_iter()
                .find_map(|(_, example)| example["refresh_token"].as_str().map(str::to_owned))
                .expect("the refresh example has a refresh_token");
            for (what, provoke, code) in [
                (
                    "the access token of an issued pair",
                    Provoke::AccessTokenAsRefreshToken,
                    "not_a_refresh_token",
                ),
                (
                    "an access token the fake never issued",
                    token(unissued_access_token()),
                    "not_a_refresh_token",
                ),
                (
                    "an issued refresh token past its lifetime",
                    Provoke::ExpiredRefreshToken,
                    "token_expired",
                ),
                (
                    "a refresh token that was already exchanged",
                    Provoke::SpentRefreshToken,
                    "token_invalid",
                ),
                (
                    "the spec example's refresh token, which this fake never issued",
                    token(example_token),
                    "token_invalid",
                ),
            ] {
                scenarios.push(scenario(
                    id,
                    what,
                    provoke,
                    rejected(code, Some("refresh_token")),
                ));
            }
        }

        // Injected faults at every documented error status: the JSON body a status fault
        // sends must fit the spec's schema for that status.
        for status in operation.error_statuses.iter().copied() {
            scenarios.push(scenario(
                id,
                format!("an injected {status} fault"),
                Provoke::Fault(Fault::status(status)),
                Expect::Status(status),
            ));
        }
    }
    scenarios
}

/// Faults whose answer the spec does not document: the fake must send what the fault
/// says, nothing more is asked of it.
fn fault_scenarios(spec: &Spec) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for operation in spec.operations() {
        let id: &'static str = fake_operation(&operation.id).operation_id();
        let faults = [
            (
                "429 with a Retry-After of 2.5 s",
                Fault::rate_limited(Some(Duration::from_millis(2500))),
                429,
                JSON,
                r#"{"error":"Too Many Requests"}"#,
                Some("3"),
            ),
            (
                "429 without Retry-After",
                Fault::rate_limited(None),
                429,
                JSON,
                r#"{"error":"Too Many Requests"}"#,
                None,
            ),
            (
                "503 as JSON",
                Fault::status(503),
                503,
                JSON,
                r#"{"error":"Service Unavailable"}"#,
                None,
            ),
            (
                "503 as a proxy's HTML page",
                Fault::status(503).html(),
                503,
                "text/html",
                "<h1>503 Service Unavailable</h1>",
                None,
            ),
            (
                "502 as a proxy's HTML page",
                Fault::status(502).html(),
                502,
                "text/html",
                "<h1>502 Bad Gateway</h1>",
                None,
            ),
            // The spec documents 500 with a JSON body; an HTML 500 is a proxy's page the
            // fault asks for on purpose, so only the fault's word is checked.
            (
                "500 as a proxy's HTML page",
                Fault::status(500).html(),
                500,
                "text/html",
                "<h1>500 Internal Server Error</h1>",
                None,
            ),
        ];
        for (what, fault, status, media_type, body_contains, retry_after) in faults {
            scenarios.push(scenario(
                id,
                what,
                Provoke::Fault(fault),
                Expect::AsFaultSays {
                    status,
                    media_type,
                    body_contains,
                    retry_after,
                },
            ));
        }
    }
    scenarios
}

/// A fake for one scenario: pages of one item, and two seeded subscribers, the calling
/// one with two addresses (so both lists have a second page).
async fn seeded_fake() -> FakeSpace {
    let fake = FakeSpace::builder()
        .page_size(1)
        .start()
        .await
        .expect("a fake on a random loopback port");
    fake.create_subscriber(REFERENCE);
    fake.create_subscriber(OTHER_REFERENCE);
    fake.add_address(REFERENCE, "second room")
        .expect("the subscriber was just seeded");
    fake
}

/// Runs `scenario` against a fake of its own and returns the answer.
async fn run(spec: &Spec, scenario: &Scenario) -> Answer {
    let fake = seeded_fake().await;
    let caller = fake.subscriber(REFERENCE).expect("seeded");
    let operation = fake_operation(scenario.operation);
    let scheme = scheme(spec, scenario.operation);
    let method = operation.method();
    let path = operation.path_for(&caller.resource_id.to_string());
    let valid = valid_body(spec, scenario.operation).map_or(Body::Empty, Body::Json);
    let valid_request = |path| valid_request(method, path, scheme, &valid);
    let refresh_with = |token: String| Body::Json(json!({"refresh_token": token}));
    let next_link = |first: &Answer| -> String {
        assert_eq!(first.status, 200, "{}: the first page", scenario.what);
        let next = first.json()["links"]["next"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: the first page has a next link", scenario.what))
            .to_owned();
        next.strip_prefix(fake.base_url())
            .unwrap_or_else(|| panic!("{next} is not on the fake"))
            .to_owned()
    };
    match &scenario.provoke {
        Provoke::Send(credentials, body) => {
            let request = Request {
                method,
                path: &path,
                scheme,
                credentials: *credentials,
                body,
            };
            send(&fake, request).await
        }
        Provoke::PathSuffix(suffix) => {
            let path = format!("{path}{suffix}");
            let request = Request {
                credentials: Credentials::ProjectBasic,
                ..valid_request(&path)
            };
            send(&fake, request).await
        }
        Provoke::Id(choice) => {
            let id = match choice {
                Id::Unknown => UNKNOWN_ADDRESS.to_owned(),
                Id::NotAUuid => "not-a-uuid".to_owned(),
                Id::SubscriberIdInstead => caller.subscriber_id.to_string(),
            };
            send(&fake, valid_request(&operation.path_for(&id))).await
        }
        Provoke::Query(query) => {
            let path = format!("{path}?{query}");
            send(&fake, valid_request(&path)).await
        }
        Provoke::FollowNext => {
            let first = send(&fake, valid_request(&path)).await;
            let next = next_link(&first);
            send(&fake, valid_request(&next)).await
        }
        Provoke::StalePageToken => {
            let first = send(&fake, valid_request(&path)).await;
            let next = next_link(&first);
            fake.clock()
                .advance(PAGE_TOKEN_LIFETIME + Duration::from_secs(1));
            send(&fake, valid_request(&next)).await
        }
        Provoke::AccessTokenAsRefreshToken => {
            let issued = fake.create_subscriber_token(REFERENCE);
            let body = refresh_with(issued.token);
            send(
                &fake,
                Request {
                    body: &body,
                    ..valid_request(&path)
                },
            )
            .await
        }
        Provoke::ExpiredRefreshToken => {
            let issued = fake.create_subscriber_token(REFERENCE);
            fake.clock()
                .advance(REFRESH_TOKEN_LIFETIME + Duration::from_secs(1));
            let body = refresh_with(issued.refresh_token);
            send(
                &fake,
                Request {
                    body: &body,
                    ..valid_request(&path)
                },
            )
            .await
        }
        Provoke::SpentRefreshToken => {
            let body = refresh_with(fake.create_subscriber_token(REFERENCE).refresh_token);
            let request = || Request {
                body: &body,
                ..valid_request(&path)
            };
            let first = send(&fake, request()).await;
            assert!(
                (200..300).contains(&first.status),
                "{}: the first exchange must succeed, got {} {}",
                scenario.what,
                first.status,
                first.shown()
            );
            send(&fake, request()).await
        }
        Provoke::Fault(fault) => {
            fake.inject(operation, fault.clone(), 1);
            let answer = send(&fake, valid_request(&path)).await;
            assert_eq!(
                fake.faults_pending(operation),
                0,
                "{}: the fault was not served",
                scenario.what
            );
            answer
        }
    }
}

/// Checks `answer` against what `scenario` expects and against the spec; returns the
/// documented status it was, if it was one.
fn check(spec: &Spec, scenario: &Scenario, answer: &Answer) -> Option<u16> {
    let label = format!(
        "{} ({}), answered {}",
        scenario.operation, scenario.what, answer.status
    );
    let operation = spec
        .operation(scenario.operation)
        .unwrap_or_else(|| panic!("{label}: not in the spec"));
    if let Expect::AsFaultSays {
        status,
        media_type,
        body_contains,
        retry_after,
    } = &scenario.expect
    {
        assert_eq!(answer.status, *status, "{label}");
        assert_eq!(answer.media_type().as_deref(), Some(*media_type), "{label}");
        assert!(
            answer.text().contains(body_contains),
            "{label}: {body_contains:?} not in {}",
            answer.shown()
        );
        assert_eq!(answer.retry_after.as_deref(), *retry_after, "{label}");
        return None;
    }

    let documented: Vec<u16> = operation.statuses().collect();
    assert!(
        documented.contains(&answer.status),
        "{label}: the spec documents only {documented:?} for {}; body {}",
        scenario.operation,
        answer.shown()
    );
    match &scenario.expect {
        Expect::Success => assert!(
            operation.success_statuses.contains(&answer.status),
            "{label}: expected one of the documented successes {:?}; body {}",
            operation.success_statuses,
            answer.shown()
        ),
        Expect::Status(status) => assert_eq!(answer.status, *status, "{label}: {}", answer.shown()),
        Expect::Rejected { .. } => assert_eq!(answer.status, 422, "{label}: {}", answer.shown()),
        Expect::AsFaultSays { .. } => unreachable!("handled above"),
    }

    // A status the spec documents without a body (204) must come without one.
    let Some(_) = response_media(spec, scenario.operation, answer.status) else {
        assert!(
            answer.body.is_empty(),
            "{label}: the spec documents no body for this status, the fake sent {}",
            answer.shown()
        );
        assert_eq!(answer.content_type, None, "{label}: a type for no body");
        return Some(answer.status);
    };

    // The body: JSON, labelled as the spec documents, fitting the spec's schema, with no
    // field the spec does not name.
    assert_eq!(answer.media_type().as_deref(), Some(JSON), "{label}");
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|error| {
        panic!(
            "{label}: the body is not JSON ({error}): {}",
            answer.shown()
        )
    });
    let schema = response_schema(spec, scenario.operation, answer.status)
        .unwrap_or_else(|| panic!("{label}: the spec gives no schema for this status"));
    let broken = violations(&validator(&schema), &body);
    assert!(
        broken.is_empty(),
        "{label}: the body breaks the spec's schema: {broken:#?}\nbody: {}",
        answer.shown()
    );
    let undocumented = violations(&validator(&closed(&schema)), &body);
    assert!(
        undocumented.is_empty(),
        "{label}: the body has fields the spec does not name: {undocumented:#?}\nbody: {}",
        answer.shown()
    );

    if let Expect::Rejected { code, attribute } = &scenario.expect {
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{label}: a 422 lists `errors`: {body}"));
        assert_eq!(
            errors.len(),
            1,
            "{label}: one broken rule, one entry: {body}"
        );
        assert_eq!(errors[0]["code"], json!(code), "{label}: {body}");
        assert_eq!(errors[0]["attribute"], json!(attribute), "{label}: {body}");
    }
    Some(answer.status)
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn the_fake_serves_exactly_the_operations_of_the_spec_at_their_method_and_path() {
    let spec = spec();
    let in_spec: BTreeSet<(String, String, String)> = spec
        .operations()
        .iter()
        .map(|operation| {
            (
                operation.id.clone(),
                operation.method.to_ascii_uppercase(),
                operation.path.clone(),
            )
        })
        .collect();
    let in_fake: BTreeSet<(String, String, String)> = Operation::ALL
        .iter()
        .map(|operation| {
            (
                operation.operation_id().to_owned(),
                operation.method().to_ascii_uppercase(),
                operation.path().to_owned(),
            )
        })
        .collect();
    assert_eq!(in_fake, in_spec);
}

#[tokio::test]
async fn every_answer_the_fake_gives_has_a_documented_status_and_a_body_that_fits_the_spec() {
    let spec = spec();
    let scenarios = documented_scenarios(&spec);
    let mut observed: BTreeMap<(String, u16), usize> = BTreeMap::new();
    for scenario in &scenarios {
        let answer = run(&spec, scenario).await;
        if let Some(status) = check(&spec, scenario, &answer) {
            *observed
                .entry((scenario.operation.to_owned(), status))
                .or_default() += 1;
        }
    }

    // Every documented pair the fake can produce was produced, and the exceptions hold.
    let mut table = format!("{:32}  status  fake answers\n", "operation");
    let mut problems = Vec::new();
    for (operation, status) in documented_pairs(&spec) {
        let seen = observed
            .get(&(operation.clone(), status))
            .copied()
            .unwrap_or(0);
        let never = NEVER_PRODUCED
            .iter()
            .find(|(id, never, _)| *id == operation && *never == status);
        let note = match (seen, never) {
            (0, Some(_)) => "never: see NEVER_PRODUCED".to_owned(),
            (0, None) => {
                problems.push(format!(
                    "{operation} {status} is documented, but no scenario made the fake answer it"
                ));
                "MISSING".to_owned()
            }
            (seen, Some(_)) => {
                problems.push(format!(
                    "{operation} {status} is listed in NEVER_PRODUCED, but the fake answered \
                     it {seen} times"
                ));
                format!("{seen} (listed as never!)")
            }
            (seen, None) => format!("{seen} scenarios"),
        };
        table.push_str(&format!("{operation:32}  {status:<6}  {note}\n"));
    }
    for (operation, status, _) in NEVER_PRODUCED {
        if !documented_pairs(&spec).contains(&((*operation).to_owned(), *status)) {
            problems.push(format!(
                "NEVER_PRODUCED lists {operation} {status}, which the spec does not document"
            ));
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nthe fake's answers by documented status ({} scenarios):\n{table}",
        scenarios.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn injected_undocumented_faults_send_exactly_what_the_fault_says() {
    let spec = spec();
    let scenarios = fault_scenarios(&spec);
    for scenario in &scenarios {
        let answer = run(&spec, scenario).await;
        check(&spec, scenario, &answer);
    }
    // The list really is about statuses the spec leaves out (and HTML the spec does not
    // document): every JSON fault here answers a status no operation documents.
    for scenario in &scenarios {
        if let Expect::AsFaultSays {
            status,
            media_type: JSON,
            ..
        } = scenario.expect
        {
            let operation = spec.operation(scenario.operation).expect("in the spec");
            assert!(
                !operation.statuses().any(|documented| documented == status),
                "{} ({}): {status} is documented; check it as a documented status",
                scenario.operation,
                scenario.what
            );
        }
    }
}

#[tokio::test]
async fn the_fake_accepts_every_request_example_of_the_spec_with_a_documented_success() {
    let spec = spec();
    let mut accepted = Vec::new();
    for operation in spec.operations() {
        if !has_body(&spec, &operation.id) {
            continue;
        }
        for (name, example) in request_examples(&spec, &operation.id) {
            let body = with_fake_values(&spec, &operation.id, &example);
            let scenario = scenario(
                fake_operation(&operation.id).operation_id(),
                format!("request example `{name}`"),
                Provoke::Send(Credentials::Valid, Body::Json(body)),
                Expect::Success,
            );
            let answer = run(&spec, &scenario).await;
            check(&spec, &scenario, &answer);
            accepted.push(format!("{} {name}", operation.id));
        }
    }
    assert!(
        accepted.len() >= 8,
        "only {accepted:?} were sent: the spec has two create examples and one each for \
         refresh, guest, invite, embed, create_subscriber and update_subscriber"
    );
}

#[tokio::test]
async fn a_request_example_as_written_names_what_only_its_own_server_knows() {
    // Why the previous test substitutes values: the example's own token, address ids and
    // click-to-call token were never issued or held by this fake, so each is refused the
    // way an unknown one is.
    let spec = spec();
    let expected: BTreeMap<&str, Expect> = BTreeMap::from([
        (REFRESH, rejected("token_invalid", Some("refresh_token"))),
        (
            GUEST,
            rejected("must_belong_to_project", Some("allowed_addresses")),
        ),
        (
            INVITE,
            rejected("must_belong_to_project", Some("address_id")),
        ),
        (EMBED, Expect::Status(403)),
    ]);
    let mut refused = BTreeSet::new();
    for operation in spec.operations() {
        if !has_body(&spec, &operation.id) {
            continue;
        }
        for (name, example) in request_examples(&spec, &operation.id) {
            if with_fake_values(&spec, &operation.id, &example) == example {
                continue;
            }
            let id = fake_operation(&operation.id).operation_id();
            let expect = expected
                .get(id)
                .unwrap_or_else(|| panic!("{id}: say how its example as written is refused"))
                .clone();
            let scenario = scenario(
                id,
                format!("request example `{name}` as written"),
                Provoke::Send(Credentials::Valid, Body::Json(example)),
                expect,
            );
            let answer = run(&spec, &scenario).await;
            check(&spec, &scenario, &answer);
            refused.insert(id);
        }
    }
    let expected: BTreeSet<&str> = expected.keys().copied().collect();
    assert_eq!(refused, expected);
}

#[test]
fn every_fake_state_value_names_a_property_of_its_operations_request() {
    let spec = spec();
    for (operation, property, placeholder) in FAKE_STATE_VALUES {
        let schema = request_schema(&spec, operation);
        assert!(
            schema["properties"].get(*property).is_some(),
            "{operation}.{property} ({placeholder}) is not in the spec's request schema"
        );
        let examples = request_examples(&spec, operation);
        assert!(
            examples
                .iter()
                .any(|(_, example)| example.get(*property).is_some()),
            "no request example of {operation} sets {property}: nothing to replace"
        );
    }
}

#[test]
fn the_boundary_values_include_the_inputs_a_stricter_fake_refused() {
    // Issue 12: an email of "0", an embed token of "0" and an expire_at in the past are
    // valid by the spec; the generated scenarios must send them (and such values for
    // every other plain string and integer property), so a fake stricter than the spec
    // fails the suite.
    let spec = spec();
    let sent = |operation: &str, property: &str, value: Value| {
        boundary_values(&spec, operation)
            .iter()
            .any(|boundary| boundary.property == property && boundary.value == value)
    };
    for (operation, property, value) in [
        (CREATE_SUBSCRIBER, "email", json!("0")),
        (UPDATE_SUBSCRIBER, "email", json!("0")),
        (CREATE_SUBSCRIBER, "email", json!(" ")),
        (EMBED, "token", json!("0")),
        (CREATE, "reference", json!("0")),
        (CREATE, "expire_at", json!(0)),
        (CREATE, "expire_at", json!(-1)),
        (CREATE, "expire_at", json!(i64::MIN)),
        (GUEST, "expire_at", json!(0)),
        (INVITE, "expires_at", json!(-1)),
        (CREATE_SUBSCRIBER, "password", json!("0".repeat(8))),
        (CREATE_SUBSCRIBER, "password", json!("0".repeat(72))),
        (CREATE, "fingerprint", json!("0".repeat(43))),
    ] {
        assert!(
            sent(operation, property, value.clone()),
            "{operation}.{property} = {value} is not among the boundary values"
        );
    }
    // Values the spec refuses are never sent as boundary values.
    assert!(!sent(CREATE_SUBSCRIBER, "password", json!("0")));
    assert!(!sent(CREATE, "fingerprint", json!("0")));
    assert!(!sent(CREATE, "application_id", json!("0")));
    for operation in spec.operations() {
        let Some(valid) = valid_body(&spec, &operation.id) else {
            continue;
        };
        let request = validator(&request_schema(&spec, &operation.id));
        for boundary in boundary_values(&spec, &operation.id) {
            let mut body = stand_ins(&valid);
            body[boundary.property.as_str()] = boundary.value.clone();
            assert!(
                violations(&request, &body).is_empty(),
                "{}.{}: {} breaks the spec",
                operation.id,
                boundary.property,
                boundary.value
            );
        }
    }
}

#[test]
fn every_invalid_value_the_suite_sends_breaks_the_spec_and_every_fake_only_rule_does_not() {
    let spec = spec();
    let mut checked = 0;
    for operation in spec.operations() {
        let Some(valid) = valid_body(&spec, &operation.id) else {
            continue;
        };
        let request = validator(&request_schema(&spec, &operation.id));
        // Any text of the right shape stands in for what the fake would issue or hold.
        let valid = stand_ins(&valid);
        assert!(
            violations(&request, &valid).is_empty(),
            "{}: the valid body breaks the spec",
            operation.id
        );
        if let Some(every) = every_property(&operation.id) {
            assert!(
                violations(&request, &stand_ins(&every)).is_empty(),
                "{}: the every-property body breaks the spec",
                operation.id
            );
        }
        let invalid = invalid_values(&spec, &operation.id);
        let properties = request_schema(&spec, &operation.id)["properties"]
            .as_object()
            .map_or(0, serde_json::Map::len);
        let covered: BTreeSet<&str> = invalid.iter().map(|i| i.property.as_str()).collect();
        assert_eq!(
            covered.len(),
            properties,
            "{}: every property gets at least one invalid value",
            operation.id
        );
        for invalid in invalid {
            let mut body = valid.clone();
            body[invalid.property.as_str()] = invalid.value.clone();
            assert!(
                !violations(&request, &body).is_empty(),
                "{}.{} {}: {} does not break the spec's request schema",
                operation.id,
                invalid.property,
                invalid.why,
                invalid.value
            );
            checked += 1;
        }
    }
    for (operation, what, body, _, _) in fake_only_rules() {
        let request = validator(&request_schema(&spec, operation));
        assert!(
            violations(&request, &stand_ins(&body)).is_empty(),
            "{operation} {what}: the spec's schema refuses it too; move it to the spec-derived \
             invalid values"
        );
    }
    assert!(checked >= 40, "only {checked} invalid values");
}

#[test]
fn the_closed_schema_refuses_fields_the_spec_does_not_name_at_every_level() {
    let spec = spec();
    let schema = response_schema(&spec, REFRESH, 422).expect("422 has a schema");
    let entry = json!({"type": "validation_error", "code": "c", "message": "m", "url": "u"});
    let open = validator(&schema);
    let strict = validator(&closed(&schema));
    let extra_top = json!({"errors": [entry], "request_id": "r"});
    let mut extra_entry = entry.clone();
    extra_entry["hint"] = json!("h");
    let extra_nested = json!({"errors": [extra_entry]});
    for body in [&extra_top, &extra_nested] {
        assert!(
            open.is_valid(body),
            "the spec allows unnamed fields: {body}"
        );
        assert!(
            !strict.is_valid(body),
            "the closed schema must refuse {body}"
        );
    }
    assert!(strict.is_valid(&json!({"errors": [entry]})));
}
