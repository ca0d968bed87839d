//! The fake against the spec, over real HTTP: every kind of answer
//! `signalwire_fabric_fake::FakeSpace` gives (success, wrong credentials, unknown paths,
//! each 422 rule it enforces, injected faults) has a status the spec documents for the
//! operation and a JSON body that fits the spec's schema for that status; and the fake
//! accepts every request example of the spec.
//!
//! Requests go out with reqwest rather than the facade, so that the suite can send what
//! the facade never would (bad bodies, wrong credentials, other paths). Each scenario gets
//! a fake of its own, so no scenario's tokens or clock can change another's answer.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use signalwire_codegen::Spec;
use signalwire_fabric_contract_tests::coverage::documented_pairs;
use signalwire_fabric_contract_tests::schema::{
    closed, request_schema, required_names, response_schema, validator, violations,
};
use signalwire_fabric_contract_tests::{request_examples, response_media, spec};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation, REFRESH_TOKEN_LIFETIME};

const CREATE: &str = "create_subscriber_token";
const REFRESH: &str = "refresh_subscriber_token";

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
];

/// Stands for a refresh token the scenario's fake has just issued; replaced before the
/// request is sent.
const ISSUED_REFRESH_TOKEN: &str = "{a refresh token this fake issued}";

/// The reference of the subscriber the suite issues tokens for.
const REFERENCE: &str = "fake-vs-spec@example.com";

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
}

/// Which credentials a request carries.
#[derive(Debug, Clone, Copy)]
enum Credentials {
    /// The fake's project id and API token.
    Valid,
    /// The right project id with another API token.
    WrongApiToken,
    /// Another project id with the right API token.
    WrongProjectId,
    /// No `Authorization` header.
    Missing,
    /// The API token as a bearer token instead of Basic credentials.
    Bearer,
    /// `Basic` with text that is not base64.
    NotBase64,
}

/// What a request carries as its body.
#[derive(Debug, Clone)]
enum Body {
    /// JSON; strings equal to [`ISSUED_REFRESH_TOKEN`] are replaced first.
    Json(Value),
    /// These bytes, labelled `application/json`.
    Raw(&'static str),
}

/// Sends one request to the fake.
async fn send(fake: &FakeSpace, path: &str, credentials: Credentials, body: &Body) -> Answer {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain reqwest client builds");
    let mut request = http
        .post(format!("{}{path}", fake.base_url()))
        .header(reqwest::header::CONTENT_TYPE, JSON);
    request = match credentials {
        Credentials::Valid => request.basic_auth(fake.project_id(), Some(fake.api_token())),
        Credentials::WrongApiToken => {
            request.basic_auth(fake.project_id(), Some("PTnot-the-fakes-token"))
        }
        Credentials::WrongProjectId => request.basic_auth(
            "00000000-0000-4000-8000-000000000000",
            Some(fake.api_token()),
        ),
        Credentials::Missing => request,
        Credentials::Bearer => request.bearer_auth(fake.api_token()),
        Credentials::NotBase64 => {
            request.header(reqwest::header::AUTHORIZATION, "Basic !!not-base64!!")
        }
    };
    request = match body {
        Body::Json(value) => request.body(substitute(fake, value).to_string()),
        Body::Raw(text) => request.body(*text),
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {path}: no answer from the fake: {error}"));
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

/// `value` with every [`ISSUED_REFRESH_TOKEN`] replaced by a refresh token `fake` issues
/// for it.
fn substitute(fake: &FakeSpace, value: &Value) -> Value {
    match value {
        Value::String(text) if text == ISSUED_REFRESH_TOKEN => {
            Value::String(fake.create_subscriber_token(REFERENCE).refresh_token)
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

fn fake_operation(operation_id: &str) -> Operation {
    Operation::ALL
        .into_iter()
        .find(|operation| operation.operation_id() == operation_id)
        .unwrap_or_else(|| panic!("the fake does not serve {operation_id}"))
}

/// The spec's request example `example` of `operation_id`, with every property the request
/// schema marks `format: jwt` (a token only the server that issued it accepts) replaced by
/// [`ISSUED_REFRESH_TOKEN`].
fn with_issued_tokens(spec: &Spec, operation_id: &str, example: &Value) -> Value {
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
    }
    body
}

/// A body the fake accepts for `operation_id`: the spec's first request example, with
/// tokens this fake issued.
fn valid_body(spec: &Spec, operation_id: &str) -> Value {
    let (_, example) = request_examples(spec, operation_id)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{operation_id} has no request example"));
    with_issued_tokens(spec, operation_id, &example)
}

// ---------------------------------------------------------------------------------------
// The scenarios: every kind of answer the fake can give.

/// How a scenario makes the fake answer.
#[derive(Debug, Clone)]
enum Provoke {
    /// A request to the operation's path with these credentials and this body.
    Send(Credentials, Body),
    /// A valid request to the operation's path with this suffix added (a path the fake
    /// does not serve).
    PathSuffix(&'static str),
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

/// For every property of `operation_id`'s request schema, values that break the spec's
/// rules for it: the wrong JSON type, a string outside its `format`, `enum`, lengths or
/// `pattern`, a fraction for an integer. Derived from the spec, so a property or rule
/// added there is sent to the fake too.
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
        match property.get("type").and_then(Value::as_str) {
            Some("string") => add("a number instead of a string", json!(42)),
            Some("integer") => {
                add("a string instead of an integer", json!("soon"));
                add("a fraction instead of an integer", json!(1.5));
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
        let length = |keyword: &str| {
            property
                .get(keyword)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        if let Some(min) = length("minLength").filter(|min| *min > 0) {
            add("shorter than minLength", json!("A".repeat(min - 1)));
        }
        if let Some(max) = length("maxLength") {
            add("longer than maxLength", json!("A".repeat(max + 1)));
        }
        if property.get("pattern").is_some() {
            let len = length("minLength").unwrap_or(1).max(1);
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

/// Rules the fake enforces that the spec's schema does not state (SignalWire's documented
/// behaviour beyond the schema): valid by the spec's schema, refused with a documented
/// 422 all the same.
fn fake_only_rules() -> Vec<(
    &'static str,
    &'static str,
    Value,
    &'static str,
    &'static str,
)> {
    vec![
        (
            CREATE,
            "expire_at in the past",
            json!({"reference": REFERENCE, "expire_at": 0}),
            "invalid_parameter",
            "expire_at",
        ),
        (
            CREATE,
            "a reference of only spaces",
            json!({"reference": "   "}),
            "missing_required_parameter",
            "reference",
        ),
    ]
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
        let valid = valid_body(spec, id);
        let send = |credentials, body: Value| Provoke::Send(credentials, Body::Json(body));

        // Success.
        scenarios.push(scenario(
            id,
            "the spec's first request example",
            send(Credentials::Valid, valid.clone()),
            Expect::Success,
        ));
        if let Some(every) = signalwire_fabric_contract_tests::fixtures::every_property(id) {
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

        // 401.
        for credentials in [
            Credentials::WrongApiToken,
            Credentials::WrongProjectId,
            Credentials::Missing,
            Credentials::Bearer,
            Credentials::NotBase64,
        ] {
            scenarios.push(scenario(
                id,
                format!("credentials {credentials:?}"),
                send(credentials, valid.clone()),
                Expect::Status(401),
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

        // 422: every required property left out or null, every rule of every property
        // broken, each on its own.
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

/// Runs `scenario` against a fake of its own and returns the answer.
async fn run(spec: &Spec, scenario: &Scenario) -> Answer {
    let fake = FakeSpace::start().await;
    let operation = fake_operation(scenario.operation);
    let valid = Body::Json(valid_body(spec, scenario.operation));
    let refresh_with = |token: String| Body::Json(json!({"refresh_token": token}));
    match &scenario.provoke {
        Provoke::Send(credentials, body) => send(&fake, operation.path(), *credentials, body).await,
        Provoke::PathSuffix(suffix) => {
            let path = format!("{}{suffix}", operation.path());
            send(&fake, &path, Credentials::Valid, &valid).await
        }
        Provoke::AccessTokenAsRefreshToken => {
            let issued = fake.create_subscriber_token(REFERENCE);
            send(
                &fake,
                operation.path(),
                Credentials::Valid,
                &refresh_with(issued.token),
            )
            .await
        }
        Provoke::ExpiredRefreshToken => {
            let issued = fake.create_subscriber_token(REFERENCE);
            fake.clock()
                .advance(REFRESH_TOKEN_LIFETIME + Duration::from_secs(1));
            let body = refresh_with(issued.refresh_token);
            send(&fake, operation.path(), Credentials::Valid, &body).await
        }
        Provoke::SpentRefreshToken => {
            let body = refresh_with(fake.create_subscriber_token(REFERENCE).refresh_token);
            let first = send(&fake, operation.path(), Credentials::Valid, &body).await;
            assert!(
                (200..300).contains(&first.status),
                "{}: the first exchange must succeed, got {} {}",
                scenario.what,
                first.status,
                first.shown()
            );
            send(&fake, operation.path(), Credentials::Valid, &body).await
        }
        Provoke::Fault(fault) => {
            fake.inject(operation, fault.clone(), 1);
            let answer = send(&fake, operation.path(), Credentials::Valid, &valid).await;
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

    // The body: JSON, labelled as the spec documents, fitting the spec's schema, with no
    // field the spec does not name.
    let media = response_media(spec, scenario.operation, answer.status);
    assert!(
        media.is_some(),
        "{label}: the spec documents no {JSON} body for this status"
    );
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
    let mut table = String::from("operation                  status  fake answers\n");
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
        table.push_str(&format!("{operation:25}  {status:<6}  {note}\n"));
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
    let mut accepted = 0;
    for operation in spec.operations() {
        for (name, example) in request_examples(&spec, &operation.id) {
            let body = with_issued_tokens(&spec, &operation.id, &example);
            let scenario = scenario(
                fake_operation(&operation.id).operation_id(),
                format!("request example `{name}`"),
                Provoke::Send(Credentials::Valid, Body::Json(body)),
                Expect::Success,
            );
            let answer = run(&spec, &scenario).await;
            check(&spec, &scenario, &answer);
            accepted += 1;
        }
    }
    assert!(
        accepted >= 3,
        "only {accepted} request examples were sent: the spec has both create examples and \
         the refresh example"
    );
}

#[tokio::test]
async fn a_token_in_a_request_example_must_be_replaced_by_one_the_fake_issued() {
    // Why the previous test substitutes tokens: the example's own token text was never
    // issued by this fake, so it is refused like any unknown token.
    let spec = spec();
    let mut refused = 0;
    for operation in spec.operations() {
        for (name, example) in request_examples(&spec, &operation.id) {
            if with_issued_tokens(&spec, &operation.id, &example) == example {
                continue;
            }
            let scenario = scenario(
                fake_operation(&operation.id).operation_id(),
                format!("request example `{name}` as written"),
                Provoke::Send(Credentials::Valid, Body::Json(example)),
                rejected("token_invalid", Some("refresh_token")),
            );
            let answer = run(&spec, &scenario).await;
            check(&spec, &scenario, &answer);
            refused += 1;
        }
    }
    assert_eq!(refused, 1, "the refresh example is the one with a token");
}

#[test]
fn every_invalid_value_the_suite_sends_breaks_the_spec_and_every_fake_only_rule_does_not() {
    let spec = spec();
    let mut checked = 0;
    for operation in spec.operations() {
        let request = validator(&request_schema(&spec, &operation.id));
        let valid = valid_body(&spec, &operation.id);
        let with_token = |mut body: Value| {
            // Any JWT-shaped text stands in for the issued token here.
            if body.get("refresh_token") == Some(&json!(ISSUED_REFRESH_TOKEN)) {
                body["refresh_token"] = json!("a.b.c");
            }
            body
        };
        assert!(
            violations(&request, &with_token(valid.clone())).is_empty(),
            "{}: the valid body breaks the spec",
            operation.id
        );
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
            let mut body = with_token(valid.clone());
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
            violations(&request, &body).is_empty(),
            "{operation} {what}: the spec's schema refuses it too; move it to the spec-derived \
             invalid values"
        );
    }
    assert!(checked >= 20, "only {checked} invalid values");
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
