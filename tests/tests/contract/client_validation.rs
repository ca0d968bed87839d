//! Inputs the spec forbids are refused by the facade before anything is sent: each
//! becomes `Error::InvalidInput` naming the field at fault, and the server receives
//! nothing. The limits themselves are accepted and sent, and what is sent fits the spec.

use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use serde_json::Value;
use signalwire_fabric::{Client, CreateGuestToken, Error, SubscriberFields};
use signalwire_fabric_contract_tests::fixtures::{ADDRESS_ID, SUBSCRIBER_RESOURCE_ID};
use signalwire_fabric_contract_tests::schema::{request_schema, validator, violations};
use signalwire_fabric_contract_tests::spec;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::driver::access_token;
use crate::support::{answer, assert_text_snapshot, client_for, serve, success};

/// Every snapshot this module writes, for `coverage`'s orphan check.
pub const SNAPSHOTS: &[&str] = &["validation__refused_before_sending"];

/// `n` distinct, valid address ids.
fn addresses(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("0b6a2f1d-3c4e-4d5f-8a6b-{i:012}"))
        .collect()
}

/// A password of `n` characters, `c` repeated.
fn password(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

const NOT_A_UUID: &str = "subscriber-42";

/// One refused input: what it is, the field the error must name, and how to send it.
struct Refused {
    what: &'static str,
    field: &'static str,
    /// A secret the input carries, which the error must not show.
    secret: Option<String>,
}

/// Sends the input `what` through the facade and returns its error.
async fn send(client: &Client, what: &str) -> Result<(), Error> {
    let subscribers = client.subscribers();
    let in_the_past = SystemTime::now() - Duration::from_secs(60);
    match what {
        "guest token with no addresses" => client
            .guest_tokens()
            .create(CreateGuestToken::new(Vec::<String>::new()))
            .await
            .map(drop),
        "guest token with 11 addresses" => client
            .guest_tokens()
            .create(CreateGuestToken::new(addresses(11)))
            .await
            .map(drop),
        "guest token with an address that is not a UUID" => client
            .guest_tokens()
            .create(CreateGuestToken::new([NOT_A_UUID]))
            .await
            .map(drop),
        "guest token with a good address, then one that is not a UUID" => client
            .guest_tokens()
            .create(CreateGuestToken::new([ADDRESS_ID, NOT_A_UUID]))
            .await
            .map(drop),
        "guest token expiring in the past" => client
            .guest_tokens()
            .create(CreateGuestToken::new([ADDRESS_ID]).expire_at(in_the_past))
            .await
            .map(drop),
        "invite to an address id that is not a UUID" => client
            .invite_tokens()
            .create(&access_token(), NOT_A_UUID, None)
            .await
            .map(drop),
        "invite expiring in the past" => client
            .invite_tokens()
            .create(&access_token(), ADDRESS_ID, Some(in_the_past))
            .await
            .map(drop),
        "embed token for an empty click-to-call token" => {
            client.embed_tokens().create("").await.map(drop)
        }
        "embed token for a blank click-to-call token" => {
            client.embed_tokens().create("   ").await.map(drop)
        }
        "create subscriber with a 7-character password" => subscribers
            .create(SubscriberFields::new("alice@example.com").password(password('p', 7)))
            .await
            .map(drop),
        "create subscriber with a 73-character password" => subscribers
            .create(SubscriberFields::new("alice@example.com").password(password('p', 73)))
            .await
            .map(drop),
        "update subscriber with a 7-character password" => subscribers
            .update(
                SUBSCRIBER_RESOURCE_ID,
                SubscriberFields::new("alice@example.com").password(password('p', 7)),
            )
            .await
            .map(drop),
        "update subscriber with a 73-character password" => subscribers
            .update(
                SUBSCRIBER_RESOURCE_ID,
                SubscriberFields::new("alice@example.com").password(password('p', 73)),
            )
            .await
            .map(drop),
        "get subscriber by an id that is not a UUID" => subscribers.get(NOT_A_UUID).await.map(drop),
        "update subscriber by an id that is not a UUID" => subscribers
            .update(NOT_A_UUID, SubscriberFields::new("alice@example.com"))
            .await
            .map(drop),
        "delete subscriber by an id that is not a UUID" => subscribers.delete(NOT_A_UUID).await,
        "list the addresses of an id that is not a UUID" => {
            let yielded: Vec<_> = subscribers.addresses(NOT_A_UUID).take(10).collect().await;
            assert_eq!(
                yielded.len(),
                1,
                "a refused listing yields its error and ends: {yielded:?}"
            );
            yielded.into_iter().next().expect("one item").map(drop)
        }
        other => panic!("no input {other:?}"),
    }
}

fn refused_inputs() -> Vec<Refused> {
    let refused = |what, field| Refused {
        what,
        field,
        secret: None,
    };
    vec![
        refused("guest token with no addresses", "allowed_addresses"),
        refused("guest token with 11 addresses", "allowed_addresses"),
        refused(
            "guest token with an address that is not a UUID",
            "allowed_addresses",
        ),
        refused(
            "guest token with a good address, then one that is not a UUID",
            "allowed_addresses",
        ),
        refused("guest token expiring in the past", "expire_at"),
        refused("invite to an address id that is not a UUID", "address_id"),
        refused("invite expiring in the past", "expires_at"),
        refused("embed token for an empty click-to-call token", "token"),
        refused("embed token for a blank click-to-call token", "token"),
        Refused {
            what: "create subscriber with a 7-character password",
            field: "password",
            secret: Some(password('p', 7)),
        },
        Refused {
            what: "create subscriber with a 73-character password",
            field: "password",
            secret: Some(password('p', 73)),
        },
        Refused {
            what: "update subscriber with a 7-character password",
            field: "password",
            secret: Some(password('p', 7)),
        },
        Refused {
            what: "update subscriber with a 73-character password",
            field: "password",
            secret: Some(password('p', 73)),
        },
        refused("get subscriber by an id that is not a UUID", "id"),
        refused("update subscriber by an id that is not a UUID", "id"),
        refused("delete subscriber by an id that is not a UUID", "id"),
        refused("list the addresses of an id that is not a UUID", "id"),
    ]
}

/// A server that answers everything with 599 and records what it got.
async fn watching() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_input_the_spec_forbids_is_refused_naming_its_field_and_nothing_is_sent() {
    let mut report = String::new();
    for input in refused_inputs() {
        let server = watching().await;
        let error = match send(&client_for(&server), input.what).await {
            Err(error) => error,
            Ok(()) => panic!("{}: accepted", input.what),
        };
        match &error {
            Error::InvalidInput { field, .. } => {
                assert_eq!(*field, input.field, "{}: {error}", input.what);
            }
            other => panic!("{}: expected InvalidInput, got {other:?}", input.what),
        }
        let shown = format!("{error}");
        assert!(
            shown.contains("nothing was sent"),
            "{}: {shown}",
            input.what
        );
        assert!(!error.may_have_reached_server(), "{}", input.what);
        assert!(!error.is_retryable(), "{}", input.what);
        if let Some(secret) = &input.secret {
            assert!(
                !format!("{error:?}{error}").contains(secret.as_str()),
                "{}: the error shows the password",
                input.what
            );
        }
        let received = server
            .received_requests()
            .await
            .expect("wiremock records requests by default");
        assert!(
            received.is_empty(),
            "{}: {} requests reached the server",
            input.what,
            received.len()
        );
        report.push_str(&format!(
            "## {}\n{error:?}\ndisplay: {error}\n\n",
            input.what
        ));
    }
    assert_text_snapshot(SNAPSHOTS[0], &report);
}

/// One accepted limit: the operation, and how to send it.
const LIMITS: &[(&str, &str)] = &[
    (
        "create_subscriber_guest_token",
        "guest token with 1 address",
    ),
    (
        "create_subscriber_guest_token",
        "guest token with 10 addresses",
    ),
    (
        "create_subscriber",
        "create subscriber with an 8-character password",
    ),
    (
        "create_subscriber",
        "create subscriber with a 72-character password",
    ),
    (
        "create_subscriber",
        "create subscriber with a password of 72 two-byte characters",
    ),
    (
        "update_subscriber",
        "update subscriber with a 72-character password",
    ),
];

async fn send_limit(client: &Client, what: &str) -> Result<(), Error> {
    let subscribers = client.subscribers();
    let with_password = |password| SubscriberFields::new("alice@example.com").password(password);
    match what {
        "guest token with 1 address" => client
            .guest_tokens()
            .create(CreateGuestToken::new(addresses(1)))
            .await
            .map(drop),
        "guest token with 10 addresses" => client
            .guest_tokens()
            .create(CreateGuestToken::new(addresses(10)))
            .await
            .map(drop),
        "create subscriber with an 8-character password" => subscribers
            .create(with_password(password('p', 8)))
            .await
            .map(drop),
        "create subscriber with a 72-character password" => subscribers
            .create(with_password(password('p', 72)))
            .await
            .map(drop),
        "create subscriber with a password of 72 two-byte characters" => subscribers
            .create(with_password(password('é', 72)))
            .await
            .map(drop),
        "update subscriber with a 72-character password" => subscribers
            .update(SUBSCRIBER_RESOURCE_ID, with_password(password('p', 72)))
            .await
            .map(drop),
        other => panic!("no limit {other:?}"),
    }
}

#[tokio::test]
async fn the_limits_themselves_are_accepted_and_what_is_sent_fits_the_spec() {
    let spec = spec();
    for (operation_id, what) in LIMITS {
        let operation = spec
            .operation(operation_id)
            .unwrap_or_else(|| panic!("{operation_id} is not in the spec"));
        let (status, example) = success(&spec, operation_id);
        let server = serve(operation, answer(status, example.as_ref())).await;
        if let Err(error) = send_limit(&client_for(&server), what).await {
            panic!("{what}: {error}");
        }
        let received = server
            .received_requests()
            .await
            .expect("wiremock records requests by default");
        assert_eq!(received.len(), 1, "{what}");
        let body: Value =
            serde_json::from_slice(&received[0].body).expect("the request body is JSON");
        let broken = violations(&validator(&request_schema(&spec, operation_id)), &body);
        assert!(broken.is_empty(), "{what}: {broken:#?}");
    }
}
