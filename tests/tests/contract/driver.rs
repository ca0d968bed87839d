//! How each operation of the spec is called through the facade.
//!
//! The suite describes every request as the JSON body it wants on the wire; this module
//! turns that JSON into the facade's typed request and calls it. An operation the driver
//! does not know fails loudly, naming itself: add an arm here when the spec gains one.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use signalwire_codegen::Spec;
use signalwire_fabric::{
    Client, CreateSubscriberToken, Error, RefreshToken, Region, Scope, TokenPair,
};
use signalwire_fabric_contract_tests::cases::{RequestBody, RequestCase, default_request};
use signalwire_fabric_contract_tests::{fixtures, request_examples};

/// What a successful call gave, in the terms the suite compares with the wire.
#[derive(Debug)]
pub struct Issued {
    /// The subscriber id, for operations that return one.
    pub subscriber_id: Option<String>,
    /// The token pair.
    pub pair: TokenPair,
}

/// The facade's answer to one call.
#[derive(Debug)]
pub struct Outcome {
    /// `{:#?}` of the facade's own result type (`Result<TokenPair, Error>`, ...).
    pub debug: String,
    /// The result, reduced to what the suite checks.
    pub result: Result<Issued, Error>,
}

/// The JSON body a request case asks for.
pub fn intended_body(spec: &Spec, case: &RequestCase) -> Value {
    match case.body {
        RequestBody::SpecExample(name) => request_examples(spec, case.operation)
            .into_iter()
            .find(|(example, _)| example == name)
            .map(|(_, body)| body)
            .unwrap_or_else(|| panic!("{}: no request example `{name}`", case.operation)),
        RequestBody::EveryProperty => {
            fixtures::every_property(case.operation).unwrap_or_else(|| {
                panic!(
                    "{}/{}: fixtures::every_property has no body for this operation",
                    case.operation, case.name
                )
            })
        }
    }
}

/// The body the response and beyond-the-spec cases send for `operation`: that of its
/// first registered request case.
pub fn default_body(spec: &Spec, operation: &str) -> Value {
    let case = default_request(operation)
        .unwrap_or_else(|| panic!("{operation} has no registered request case"));
    intended_body(spec, case)
}

/// Asks the facade to send `body` as `operation` and returns what it made of the answer.
pub async fn call(client: &Client, operation: &str, body: &Value) -> Outcome {
    match operation {
        "create_subscriber_token" => {
            let result = client
                .subscriber_tokens()
                .create(create_request(body))
                .await;
            Outcome {
                debug: format!("{result:#?}"),
                result: result.map(|created| Issued {
                    subscriber_id: Some(created.subscriber_id.as_str().to_owned()),
                    pair: created.pair,
                }),
            }
        }
        "refresh_subscriber_token" => {
            let text = body
                .get("refresh_token")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("a refresh body needs a refresh_token string: {body}"));
            assert_eq!(
                body.as_object().map(|fields| fields.len()),
                Some(1),
                "the facade's refresh sends only refresh_token; the suite cannot ask for {body}"
            );
            let token =
                RefreshToken::parse(text).expect("the suite's refresh token is well formed");
            let result = client.subscriber_tokens().refresh(&token).await;
            Outcome {
                debug: format!("{result:#?}"),
                result: result.map(|pair| Issued {
                    subscriber_id: None,
                    pair,
                }),
            }
        }
        other => panic!(
            "the contract driver cannot call `{other}`: add an arm to tests/tests/contract/driver.rs"
        ),
    }
}

/// The facade request that sends exactly `body` (a create body in wire form).
fn create_request(body: &Value) -> CreateSubscriberToken {
    let fields = body
        .as_object()
        .unwrap_or_else(|| panic!("a create body is an object: {body}"));
    let text = |key: &str| -> String {
        fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("create field {key} must be a string in {body}"))
            .to_owned()
    };
    let mut request = CreateSubscriberToken::new(text("reference"));
    for key in fields.keys() {
        request = match key.as_str() {
            "reference" => request,
            "expire_at" => {
                let seconds = fields[key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("expire_at must be unix seconds in {body}"));
                request.expire_at(UNIX_EPOCH + Duration::from_secs(seconds))
            }
            "application_id" => request.application_id(text(key)),
            "password" => request.password(text(key)),
            "fingerprint" => request.fingerprint(text(key)),
            "scope" => match text(key).as_str() {
                "sat:refresh" => request.scope(Scope::SatRefresh),
                other => panic!("the facade has no Scope for {other:?}"),
            },
            "first_name" => request.first_name(text(key)),
            "last_name" => request.last_name(text(key)),
            "display_name" => request.display_name(text(key)),
            "job_title" => request.job_title(text(key)),
            "time_zone" => request.time_zone(text(key)),
            "country" => request.country(text(key)),
            "company_name" => request.company_name(text(key)),
            "region" => match text(key).as_str() {
                "us-central" => request.region(Region::UsCentral),
                other => panic!("the facade has no Region for {other:?}"),
            },
            other => panic!(
                "the contract driver does not know the create field `{other}`: add it to \
                 tests/tests/contract/driver.rs (and check the facade has a setter for it)"
            ),
        };
    }
    request
}
