//! Inputs the spec calls valid that a stricter fake used to refuse (issue 12, item 10):
//! the fake accepts what the spec accepts, and answers as the spec documents.

use serde_json::json;
use signalwire_fabric::{Error, SubscriberFields};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{call, call_at, embed, fake_unix_now, invite};

#[tokio::test]
async fn an_email_of_0_is_a_subscriber_and_a_reference_of_0_gets_a_pair() {
    // The spec: `email` is any non-empty string; the reference page gives it no format.
    let fake = FakeSpace::start().await;
    let created = call(&fake, Operation::CreateSubscriber, json!({"email": "0"})).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let resource = created.json();
    assert_eq!(resource["subscriber"]["email"], "0");
    let id = resource["id"].as_str().expect("an id").to_owned();

    let renamed = call_at(
        &fake,
        Operation::UpdateSubscriber,
        &id,
        Some(json!({"email": " "})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["subscriber"]["email"], " ");

    let pair = call(&fake, Operation::Create, json!({"reference": "0"})).await;
    assert_eq!(pair.status, 200, "{}", pair.text());
    assert!(
        fake.subscriber("0").is_some(),
        "the reference names a subscriber"
    );

    let through_the_facade = fake
        .client()
        .subscribers()
        .create(SubscriberFields::new("1"))
        .await
        .expect("the facade sends a one-character email and the fake takes it");
    assert_eq!(through_the_facade.email.as_deref(), Some("1"));
}

#[tokio::test]
async fn an_embed_token_of_0_is_well_formed_but_unknown_so_403() {
    // The spec: `token` has `minLength: 1`; 403 is the documented answer for a
    // click-to-call token the space does not know.
    let fake = FakeSpace::start().await;
    for token in [
        "0",
        " ",
        "widget-token",
        "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f90123",
    ] {
        let answer = embed(&fake, json!({ "token": token })).await;
        assert_eq!(answer.status, 403, "{token:?}: {}", answer.text());
        assert_eq!(answer.json(), json!({"error": "Forbidden"}), "{token:?}");
    }
    assert_eq!(
        fake.answered_count(Operation::EmbedToken, 403),
        4,
        "every one reached the handler"
    );
    let error = fake
        .client()
        .embed_tokens()
        .create("0")
        .await
        .expect_err("unknown to the fake");
    assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
}

#[tokio::test]
async fn an_expire_at_in_the_past_issues_tokens_that_have_expired_already() {
    // The spec: `expire_at` (and an invite's `expires_at`) is any int64.
    let fake = FakeSpace::start().await;
    let now = fake_unix_now(&fake);
    let alice = fake.create_subscriber("alice@example.com");
    let address = alice.address_ids[0].to_string();
    let expired = |token: &str| {
        let expires_at = fake.token_expires_at(token).expect("issued by the fake");
        expires_at <= fake.clock().now()
    };

    for past in [now - 60, 0, -1, i64::MIN] {
        let created = call(
            &fake,
            Operation::Create,
            json!({"reference": "alice@example.com", "expire_at": past}),
        )
        .await;
        assert_eq!(created.status, 200, "{past}: {}", created.text());
        let access = created.json()["token"]
            .as_str()
            .expect("a token")
            .to_owned();
        assert!(expired(&access), "{past}");
        // Refused as expired when used: the invite operation takes it as Bearer.
        let used = invite(&fake, &access, json!({ "address_id": address })).await;
        assert_eq!(used.status, 401, "{past}: {}", used.text());
    }

    let guest = call(
        &fake,
        Operation::GuestToken,
        json!({"allowed_addresses": [address], "expire_at": now - 60}),
    )
    .await;
    assert_eq!(guest.status, 201, "{}", guest.text());
    assert!(expired(guest.json()["token"].as_str().expect("a token")));

    let live = fake.create_subscriber_token("alice@example.com");
    let invited = invite(
        &fake,
        &live.token,
        json!({"address_id": address, "expires_at": -1}),
    )
    .await;
    assert_eq!(invited.status, 201, "{}", invited.text());
    assert!(expired(invited.json()["token"].as_str().expect("a token")));

    // A refresh token is not bound by the access token's expire_at.
    let refreshed = crate::common::refresh(&fake, &live.refresh_token).await;
    assert_eq!(refreshed.status, 201, "{}", refreshed.text());
}
