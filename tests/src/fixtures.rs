//! The values the suite sends, and the list of secrets no snapshot may contain.

use base64::Engine as _;
use serde_json::{Value, json};
use signalwire_codegen::Spec;

/// The project id and API token every suite client is configured with (the Basic
/// credentials' user name and password): the workspace's suite credentials.
pub use signalwire_fabric::testing::{API_TOKEN, PROJECT_ID};

/// The subscriber password the every-field create request sends.
pub const PASSWORD: &str = "contract-suite-subscriber-passphrase";

/// The `expire_at` the every-field create request sends: 2100-01-01T00:00:00Z, fixed so
/// the request is the same on every run and stays in the future.
pub const EXPIRE_AT: u64 = 4_102_444_800;

/// The subscriber resource every request with an `{id}` in its path names: the resource
/// id of the spec's own subscriber example.
pub const SUBSCRIBER_RESOURCE_ID: &str = "b997405e-c510-45cf-b599-261bd6dd6d8c";

/// The address the suite's guest and invite requests name (the spec's address example).
pub const ADDRESS_ID: &str = "f371a4d1-68fc-4be1-92ba-1728b766cf1c";

/// The subscriber access token the suite passes where an operation is authenticated as
/// a subscriber (a Bearer token): a JWE-shaped text whose header says `typ` "SAT", made
/// for the suite so a leak of it is told apart from a leak of a served token.
pub fn access_token() -> String {
    signalwire_fabric::testing::jwe("SAT", "contract-suite-bearer")
}

/// The value the suite puts in the path parameter `name`.
pub fn path_parameter(name: &str) -> &'static str {
    match name {
        "id" => SUBSCRIBER_RESOURCE_ID,
        other => panic!(
            "the suite has no value for the path parameter `{other}`: add one to \
             fixtures::path_parameter"
        ),
    }
}

/// `template` (a spec path such as `/api/fabric/resources/subscribers/{id}`) with every
/// parameter replaced by the suite's value for it.
pub fn request_path(template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|close| open + close)
            .unwrap_or_else(|| panic!("an unclosed parameter in {template}"));
        path.push_str(&rest[..open]);
        path.push_str(path_parameter(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    path
}

/// The value of the `Authorization` header the suite's clients must send.
pub fn basic_authorization() -> String {
    format!("Basic {}", basic_credentials())
}

/// `base64(PROJECT_ID:API_TOKEN)`: as secret as the API token itself.
pub fn basic_credentials() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT_ID}:{API_TOKEN}"))
}

/// A request body for `operation` that sets every property of its request schema, or
/// `None` when the suite has none for it.
pub fn every_property(operation: &str) -> Option<Value> {
    match operation {
        "create_subscriber_token" => Some(json!({
            "reference": "alice@example.com",
            "expire_at": EXPIRE_AT,
            "application_id": "6f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10",
            "password": PASSWORD,
            "fingerprint": "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE",
            "scope": "sat:refresh",
            "first_name": "Alice",
            "last_name": "Lind",
            "display_name": "Alice L.",
            "job_title": "Field engineer",
            "time_zone": "Europe/Stockholm",
            "country": "SE",
            "company_name": "Example AB",
            "region": "us-central",
        })),
        "create_subscriber_guest_token" => Some(json!({
            "allowed_addresses": [ADDRESS_ID, "0b6a2f1d-3c4e-4d5f-8a6b-7c8d9e0f1a2b"],
            "expire_at": EXPIRE_AT,
            "region": "us-central",
            "ch": "us-central",
        })),
        "update_subscriber" => Some(json!({
            "email": "alice@example.com",
            "password": PASSWORD,
            "first_name": "Alice",
            "last_name": "Lind",
            "display_name": "Alice Lind",
            "job_title": "Field engineer",
            "timezone": "Europe/Stockholm",
            "country": "SE",
            "company_name": "Example AB",
        })),
        _ => None,
    }
}

/// The JSON keys whose values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &["token", "refresh_token", "password"];

/// Every secret the suite uses or serves: the API token, the Basic credentials, the
/// subscriber access token it authenticates invites with, the password, and every token
/// (access, refresh, guest, invite, embed, click-to-call) or password in the spec's
/// request and response examples and in the suite's own request bodies.
pub fn secrets(spec: &Spec) -> Vec<String> {
    let mut secrets = vec![
        API_TOKEN.to_owned(),
        basic_credentials(),
        access_token(),
        PASSWORD.to_owned(),
    ];
    for operation in spec.operations() {
        let mut bodies: Vec<Value> = crate::request_examples(spec, &operation.id)
            .into_iter()
            .map(|(_, example)| example)
            .collect();
        bodies.extend(every_property(&operation.id));
        for status in operation.statuses() {
            bodies.extend(
                crate::response_examples(spec, &operation.id, status)
                    .into_iter()
                    .map(|(_, example)| example),
            );
        }
        for body in &bodies {
            collect_secret_values(body, &mut secrets);
        }
    }
    secrets.sort();
    secrets.dedup();
    secrets
}

/// The values of every secret-named field (`token`, `refresh_token`, `password`) in
/// `value`, however deep.
pub fn secrets_in(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_secret_values(value, &mut found);
    found
}

fn collect_secret_values(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                match value {
                    Value::String(text) if SECRET_KEYS.contains(&key.as_str()) => {
                        into.push(text.clone());
                    }
                    _ => collect_secret_values(value, into),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_secret_values(item, into);
            }
        }
        _ => {}
    }
}
