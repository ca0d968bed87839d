//! How each operation of the spec is called through the facade.
//!
//! The suite describes every request as the JSON body it wants on the wire (`null` for an
//! operation that takes none); this module turns that JSON into the facade's typed
//! request and calls it. Path parameters take the suite's values
//! (`fixtures::path_parameter`), and an operation authenticated as a subscriber is given
//! `fixtures::access_token()`. An operation the driver does not know fails loudly, naming
//! itself: add an arm here when the spec gains one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use serde_json::{Map, Value};
use signalwire_codegen::Spec;
use signalwire_fabric::{
    AccessToken, Client, CreateGuestToken, CreateSubscriberToken, EmbedToken, Error, InviteToken,
    RefreshToken, Region, Scope, Subscriber, SubscriberAddress, SubscriberFields, TokenPair,
};
use signalwire_fabric_contract_tests::cases::{RequestBody, RequestCase, default_request};
use signalwire_fabric_contract_tests::schema::{request_schema, required_names};
use signalwire_fabric_contract_tests::{fixtures, request_examples};

/// The most items the driver reads from a listing: far more than any page the suite
/// serves, so a facade that pages forever fails instead of hanging.
const MAX_ITEMS: usize = 1_000;

/// What a successful call gave, in the terms the suite compares with the wire.
#[derive(Debug)]
pub enum Returned {
    /// A token pair, with the subscriber id for operations that return one.
    Pair {
        /// The subscriber id, for operations that return one.
        subscriber_id: Option<String>,
        /// The token pair.
        pair: TokenPair,
    },
    /// An invite token.
    Invite(InviteToken),
    /// An embed token.
    Embed(EmbedToken),
    /// One subscriber.
    Subscriber(Box<Subscriber>),
    /// Every subscriber a listing yielded, in order.
    Subscribers(Vec<Subscriber>),
    /// Every address a listing yielded, in order.
    Addresses(Vec<SubscriberAddress>),
    /// `Ok(())`.
    Nothing,
}

impl Returned {
    /// The single token's text, for the variants that are one token.
    pub fn token_text(&self) -> Option<&str> {
        match self {
            Returned::Invite(token) => Some(token.expose_secret()),
            Returned::Embed(token) => Some(token.expose_secret()),
            _ => None,
        }
    }
}

/// The facade's answer to one call.
#[derive(Debug)]
pub struct Outcome {
    /// `{:#?}` of the facade's own result (`Result<TokenPair, Error>`, ...; for a listing,
    /// every item the stream yielded, `Vec<Result<Subscriber, Error>>`).
    pub debug: String,
    /// The result, reduced to what the suite checks (for a listing, its first error).
    pub result: Result<Returned, Error>,
}

/// The JSON body a request case asks for (`null` for none).
pub fn intended_body(spec: &Spec, case: &RequestCase) -> Value {
    let first_example = || {
        request_examples(spec, case.operation)
            .into_iter()
            .next()
            .map(|(_, body)| body)
            .unwrap_or_else(|| panic!("{}: the spec gives no request example", case.operation))
    };
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
        RequestBody::RequiredOnly => {
            let required = required_names(&request_schema(spec, case.operation));
            let mut body = first_example();
            if let Some(fields) = body.as_object_mut() {
                fields.retain(|key, _| required.contains(key));
            }
            body
        }
        RequestBody::None => Value::Null,
    }
}

/// The body the response and beyond-the-spec cases send for `operation`: that of its
/// first registered request case.
pub fn default_body(spec: &Spec, operation: &str) -> Value {
    let case = default_request(operation)
        .unwrap_or_else(|| panic!("{operation} has no registered request case"));
    intended_body(spec, case)
}

/// The access token the suite authenticates as a subscriber with.
pub fn access_token() -> AccessToken {
    AccessToken::parse(fixtures::access_token()).expect("the suite's access token is well formed")
}

/// Asks the facade to send `body` as `operation` and returns what it made of the answer.
pub async fn call(client: &Client, operation: &str, body: &Value) -> Outcome {
    let id = fixtures::path_parameter("id");
    match operation {
        "create_subscriber_token" => {
            let result = client
                .subscriber_tokens()
                .create(create_request(body))
                .await;
            outcome(result, |created| Returned::Pair {
                subscriber_id: Some(created.subscriber_id.as_str().to_owned()),
                pair: created.pair,
            })
        }
        "refresh_subscriber_token" => {
            let fields = object(operation, body);
            let text = fields
                .get("refresh_token")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("a refresh body needs a refresh_token string: {body}"));
            assert_eq!(
                fields.len(),
                1,
                "the facade's refresh sends only refresh_token; the suite cannot ask for {body}"
            );
            let token =
                RefreshToken::parse(text).expect("the suite's refresh token is well formed");
            let result = client.subscriber_tokens().refresh(&token).await;
            outcome(result, |pair| Returned::Pair {
                subscriber_id: None,
                pair,
            })
        }
        "create_subscriber_guest_token" => {
            let result = client.guest_tokens().create(guest_request(body)).await;
            outcome(result, |pair| Returned::Pair {
                subscriber_id: None,
                pair,
            })
        }
        "create_subscriber_invite_token" => {
            let fields = object(operation, body);
            let mut address_id = None;
            let mut expires_at = None;
            for (key, value) in fields {
                match key.as_str() {
                    "address_id" => address_id = Some(text(operation, key, value)),
                    "expires_at" => expires_at = Some(unix_time(operation, key, value)),
                    other => unknown_field(operation, other),
                }
            }
            let address_id =
                address_id.unwrap_or_else(|| panic!("an invite body needs address_id: {body}"));
            let result = client
                .invite_tokens()
                .create(&access_token(), &address_id, expires_at)
                .await;
            outcome(result, Returned::Invite)
        }
        "create_guest_embed_token" => {
            let fields = object(operation, body);
            let mut token = None;
            for (key, value) in fields {
                match key.as_str() {
                    "token" => token = Some(text(operation, key, value)),
                    other => unknown_field(operation, other),
                }
            }
            let token = token.unwrap_or_else(|| panic!("an embed body needs token: {body}"));
            let result = client.embed_tokens().create(&token).await;
            outcome(result, Returned::Embed)
        }
        "list_subscribers" => {
            no_body(operation, body);
            let items: Vec<Result<Subscriber, Error>> =
                client.subscribers().list().take(MAX_ITEMS).collect().await;
            listed(&items, Returned::Subscribers)
        }
        "create_subscriber" => {
            let result = client
                .subscribers()
                .create(subscriber_fields(operation, body))
                .await;
            outcome(result, |subscriber| {
                Returned::Subscriber(Box::new(subscriber))
            })
        }
        "get_subscriber" => {
            no_body(operation, body);
            let result = client.subscribers().get(id).await;
            outcome(result, |subscriber| {
                Returned::Subscriber(Box::new(subscriber))
            })
        }
        "update_subscriber" => {
            let result = client
                .subscribers()
                .update(id, subscriber_fields(operation, body))
                .await;
            outcome(result, |subscriber| {
                Returned::Subscriber(Box::new(subscriber))
            })
        }
        "delete_subscriber" => {
            no_body(operation, body);
            let result = client.subscribers().delete(id).await;
            outcome(result, |()| Returned::Nothing)
        }
        "list_subscriber_addresses" => {
            no_body(operation, body);
            let items: Vec<Result<SubscriberAddress, Error>> = client
                .subscribers()
                .addresses(id)
                .take(MAX_ITEMS)
                .collect()
                .await;
            listed(&items, Returned::Addresses)
        }
        other => panic!(
            "the contract driver cannot call `{other}`: add an arm to tests/tests/contract/driver.rs"
        ),
    }
}

/// An outcome from the facade's `result`: its `{:#?}`, then the result reduced to what
/// the suite checks.
fn outcome<T: std::fmt::Debug>(
    result: Result<T, Error>,
    returned: impl FnOnce(T) -> Returned,
) -> Outcome {
    Outcome {
        debug: format!("{result:#?}"),
        result: result.map(returned),
    }
}

/// An outcome from every item a listing yielded: its items, or its first error.
fn listed<T: std::fmt::Debug + Clone>(
    items: &[Result<T, Error>],
    returned: impl FnOnce(Vec<T>) -> Returned,
) -> Outcome {
    Outcome {
        debug: format!("{items:#?}"),
        result: items
            .iter()
            .cloned()
            .collect::<Result<Vec<T>, Error>>()
            .map(returned),
    }
}

fn object<'a>(operation: &str, body: &'a Value) -> &'a Map<String, Value> {
    body.as_object()
        .unwrap_or_else(|| panic!("a {operation} body is an object: {body}"))
}

fn no_body(operation: &str, body: &Value) {
    assert!(
        body.is_null(),
        "{operation} takes no body; the suite cannot ask it to send {body}"
    );
}

fn text(operation: &str, key: &str, value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{operation} field {key} must be a string, not {value}"))
        .to_owned()
}

fn unix_time(operation: &str, key: &str, value: &Value) -> SystemTime {
    let seconds = value
        .as_u64()
        .unwrap_or_else(|| panic!("{operation} field {key} must be unix seconds, not {value}"));
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn region(operation: &str, key: &str, value: &Value) -> Region {
    match text(operation, key, value).as_str() {
        "us-central" => Region::UsCentral,
        other => panic!("the facade has no Region for {other:?}"),
    }
}

fn unknown_field(operation: &str, field: &str) -> ! {
    panic!(
        "the contract driver does not know the {operation} field `{field}`: add it to \
         tests/tests/contract/driver.rs (and check the facade has a setter for it)"
    )
}

/// The facade request that sends exactly `body` (a create body in wire form).
fn create_request(body: &Value) -> CreateSubscriberToken {
    const OPERATION: &str = "create_subscriber_token";
    let fields = object(OPERATION, body);
    let reference = fields
        .get("reference")
        .map(|value| text(OPERATION, "reference", value))
        .unwrap_or_else(|| panic!("a create body needs reference: {body}"));
    let mut request = CreateSubscriberToken::new(reference);
    for (key, value) in fields {
        let text = || text(OPERATION, key, value);
        request = match key.as_str() {
            "reference" => request,
            "expire_at" => request.expire_at(unix_time(OPERATION, key, value)),
            "application_id" => request.application_id(text()),
            "password" => request.password(text()),
            "fingerprint" => request.fingerprint(text()),
            "scope" => match text().as_str() {
                "sat:refresh" => request.scope(Scope::SatRefresh),
                other => panic!("the facade has no Scope for {other:?}"),
            },
            "first_name" => request.first_name(text()),
            "last_name" => request.last_name(text()),
            "display_name" => request.display_name(text()),
            "job_title" => request.job_title(text()),
            "time_zone" => request.time_zone(text()),
            "country" => request.country(text()),
            "company_name" => request.company_name(text()),
            "region" => request.region(region(OPERATION, key, value)),
            other => unknown_field(OPERATION, other),
        };
    }
    request
}

/// The facade request that sends exactly `body` (a guest token body in wire form).
fn guest_request(body: &Value) -> CreateGuestToken {
    const OPERATION: &str = "create_subscriber_guest_token";
    let fields = object(OPERATION, body);
    let addresses: Vec<String> = fields
        .get("allowed_addresses")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("a guest body needs an allowed_addresses list: {body}"))
        .iter()
        .map(|address| text(OPERATION, "allowed_addresses[]", address))
        .collect();
    let mut request = CreateGuestToken::new(addresses);
    for (key, value) in fields {
        request = match key.as_str() {
            "allowed_addresses" => request,
            "expire_at" => request.expire_at(unix_time(OPERATION, key, value)),
            "region" => request.region(region(OPERATION, key, value)),
            "ch" => request.ch(region(OPERATION, key, value)),
            other => unknown_field(OPERATION, other),
        };
    }
    request
}

/// The facade's subscriber details that send exactly `body` (create and update).
fn subscriber_fields(operation: &str, body: &Value) -> SubscriberFields {
    let fields = object(operation, body);
    let email = fields
        .get("email")
        .map(|value| text(operation, "email", value))
        .unwrap_or_else(|| panic!("a {operation} body needs email: {body}"));
    let mut request = SubscriberFields::new(email);
    for (key, value) in fields {
        let text = || text(operation, key, value);
        request = match key.as_str() {
            "email" => request,
            "password" => request.password(text()),
            "first_name" => request.first_name(text()),
            "last_name" => request.last_name(text()),
            "display_name" => request.display_name(text()),
            "job_title" => request.job_title(text()),
            "timezone" => request.timezone(text()),
            "country" => request.country(text()),
            "company_name" => request.company_name(text()),
            other => unknown_field(operation, other),
        };
    }
    request
}
