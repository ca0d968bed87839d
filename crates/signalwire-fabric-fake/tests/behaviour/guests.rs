//! Guest pairs, invites and embed tokens over raw HTTP: each operation's own
//! authentication, its rules, and the tokens it issues.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use signalwire_fabric_fake::wire::{
    GuestEmbedTokenResponse, SubscriberGuestTokenResponse, SubscriberInviteTokenResponse,
};
use signalwire_fabric_fake::{
    ACCESS_TOKEN_LIFETIME, EMBED_TOKEN_LIFETIME, FakeSpace, INVITE_TOKEN_LIFETIME, Operation,
    REFRESH_TOKEN_LIFETIME,
};

use crate::common::{
    Auth, basic, bearer, call, call_at, embed, fake_unix_now, foreign_token, invite, refresh, send,
};

const C2C: &str = "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f9012";

fn typ(token: &str) -> String {
    let header = token.split('.').next().expect("a header");
    let json: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON");
    json["typ"].as_str().expect("a typ").to_owned()
}

fn at_unix(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).expect("positive"))
}

fn whole_seconds_between(a: SystemTime, b: SystemTime) -> u64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs(),
        Err(e) => e.duration().as_secs(),
    }
}

#[tokio::test]
async fn a_guest_pair_is_issued_for_known_addresses_and_refreshes_like_a_subscribers() {
    let fake = FakeSpace::start().await;
    let alice = fake.create_subscriber("alice@example.com");
    let bob = fake.create_subscriber("bob@example.com");
    let addresses = [alice.address_ids[0], bob.address_ids[0]];
    let expire_at = fake_unix_now(&fake) + 600;
    let answer = call(
        &fake,
        Operation::GuestToken,
        json!({
            "allowed_addresses": addresses,
            "expire_at": expire_at,
            "region": "us-central",
            "ch": "us-central",
        }),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let pair: SubscriberGuestTokenResponse =
        serde_json::from_slice(&answer.body).expect("the shape");
    assert_eq!(answer.json().as_object().map(|o| o.len()), Some(2));
    assert_eq!(
        (typ(&pair.token), typ(&pair.refresh_token)),
        ("SAT".to_owned(), "Refresh".to_owned())
    );
    assert_eq!(pair.token.split('.').count(), 5, "JWE-shaped");
    assert_eq!(fake.token_expires_at(&pair.token), Some(at_unix(expire_at)));
    assert_eq!(
        fake.token_subscriber(&pair.token),
        None,
        "a guest is no subscriber"
    );
    assert_eq!(
        fake.token_allowed_addresses(&pair.refresh_token),
        Some(addresses.to_vec())
    );

    let refreshed = refresh(&fake, &pair.refresh_token).await;
    assert_eq!(refreshed.status, 201, "{}", refreshed.text());
    let new_access = refreshed.json()["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        fake.token_allowed_addresses(&new_access),
        Some(addresses.to_vec()),
        "the refreshed pair is still the guest's"
    );
    assert_eq!(
        refresh(&fake, &pair.refresh_token).await.code(),
        "token_invalid",
        "spent, as any refresh token"
    );
    assert_eq!(
        refresh(&fake, &pair.token).await.code(),
        "not_a_refresh_token"
    );

    // Without expire_at: the standard lifetimes.
    let body = call(
        &fake,
        Operation::GuestToken,
        json!({"allowed_addresses": [alice.address_ids[0]]}),
    )
    .await
    .json();
    let now = fake.clock().now();
    let expires = |key: &str| fake.token_expires_at(body[key].as_str().expect("a token"));
    assert_eq!(
        whole_seconds_between(
            expires("token").expect("issued"),
            now + ACCESS_TOKEN_LIFETIME
        ),
        0
    );
    assert_eq!(
        whole_seconds_between(
            expires("refresh_token").expect("issued"),
            now + REFRESH_TOKEN_LIFETIME
        ),
        0
    );
}

#[tokio::test]
async fn a_guest_request_is_validated_and_only_known_addresses_are_allowed() {
    let fake = FakeSpace::start().await;
    let known = fake.create_subscriber("alice@example.com").address_ids[0].to_string();
    let unknown = "f371a4d1-68fc-4be1-92ba-1728b766cf1c";
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({}),
            "missing_required_parameter",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": null}),
            "missing_required_parameter",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": []}),
            "invalid_parameter",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": vec![known.clone(); 11]}),
            "invalid_parameter",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": [known, "nope"]}),
            "invalid_parameter",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": known}),
            "invalid_parameter",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": [known, unknown]}),
            "must_belong_to_project",
            Some("allowed_addresses"),
        ),
        (
            json!({"allowed_addresses": [known], "expire_at": "soon"}),
            "invalid_parameter",
            Some("expire_at"),
        ),
        (
            json!({"allowed_addresses": [known], "region": "eu-west"}),
            "invalid_parameter",
            Some("region"),
        ),
        (
            json!({"allowed_addresses": [known], "ch": "eu-west"}),
            "invalid_parameter",
            Some("ch"),
        ),
        (
            json!("allowed_addresses"),
            "missing_required_parameter",
            None,
        ),
    ];
    for (body, code, attribute) in cases {
        let answer = call(&fake, Operation::GuestToken, body.clone()).await;
        assert_eq!(answer.code(), code, "{body}");
        assert_eq!(answer.attribute().as_deref(), attribute, "{body}");
    }
    let ten = call(
        &fake,
        Operation::GuestToken,
        json!({"allowed_addresses": vec![known; 10]}),
    )
    .await;
    assert_eq!(ten.status, 201, "ten is the limit, not past it");
}

#[tokio::test]
async fn an_invite_needs_a_live_subscriber_access_token_as_bearer() {
    let fake = FakeSpace::start().await;
    let pair = fake.create_subscriber_token("alice@example.com");
    let address = fake
        .subscriber("alice@example.com")
        .expect("alice")
        .address_ids[0];
    let body = json!({"address_id": address});

    let guest = call(
        &fake,
        Operation::GuestToken,
        json!({"allowed_addresses": [address]}),
    )
    .await
    .json();
    let guest_access = guest["token"].as_str().expect("token").to_owned();
    let embed_token = embed(&fake, json!({"token": fake.click_to_call_token()}))
        .await
        .json()["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let project = basic(fake.project_id(), fake.api_token());
    let lower_case = format!("bearer {}", pair.token).into_bytes();
    let refused: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("no credentials", None),
        ("the project's Basic credentials", Some(project)),
        ("the refresh token", Some(bearer(&pair.refresh_token))),
        (
            "a token the fake never issued",
            Some(bearer(&foreign_token("SAT"))),
        ),
        ("a guest's access token", Some(bearer(&guest_access))),
        ("an embed token", Some(bearer(&embed_token))),
        ("the API token as Bearer", Some(bearer(fake.api_token()))),
        ("Bearer and nothing", Some(b"Bearer".to_vec())),
    ];
    for (what, header) in &refused {
        let auth = header.as_deref().map_or(Auth::None, Auth::Header);
        let answer = send(
            &fake,
            "POST",
            Operation::InviteToken.path(),
            auth,
            body.to_string(),
        )
        .await;
        assert_eq!(answer.status, 401, "{what}");
        assert_eq!(answer.json(), json!({"error": "Unauthorized"}), "{what}");
    }
    let answer = send(
        &fake,
        "POST",
        Operation::InviteToken.path(),
        Auth::Header(&lower_case),
        body.to_string(),
    )
    .await;
    assert_eq!(answer.status, 201, "the scheme is case-insensitive");
    let entry = fake.journal().pop().expect("journaled");
    assert!(entry.credentials_valid && entry.authorization_sent);

    // Past its lifetime on the fake's clock, the access token no longer authenticates.
    fake.clock()
        .advance(ACCESS_TOKEN_LIFETIME + Duration::from_secs(1));
    assert_eq!(invite(&fake, &pair.token, body.clone()).await.status, 401);
    let fresh = fake.create_subscriber_token("alice@example.com");
    assert_eq!(invite(&fake, &fresh.token, body.clone()).await.status, 201);

    // A deleted subscriber's token authenticates nobody.
    let id = fake
        .subscriber("alice@example.com")
        .expect("alice")
        .resource_id
        .to_string();
    assert_eq!(
        call_at(&fake, Operation::DeleteSubscriber, &id, None)
            .await
            .status,
        204
    );
    assert_eq!(invite(&fake, &fresh.token, body).await.status, 401);
}

#[tokio::test]
async fn an_invite_is_only_to_one_of_the_callers_own_addresses() {
    let fake = FakeSpace::start().await;
    let alice = fake.create_subscriber_token("alice@example.com");
    let bob = fake.create_subscriber_token("bob@example.com");
    let alice_address = fake
        .subscriber("alice@example.com")
        .expect("alice")
        .address_ids[0];
    let bob_address = fake.subscriber("bob@example.com").expect("bob").address_ids[0];

    let answer = invite(&fake, &alice.token, json!({"address_id": alice_address})).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let body: SubscriberInviteTokenResponse =
        serde_json::from_slice(&answer.body).expect("the shape");
    assert_eq!(answer.json().as_object().map(|o| o.len()), Some(1));
    assert_eq!(typ(&body.token), "Invite");
    assert_eq!(body.token.split('.').count(), 5, "JWE-shaped");
    assert_eq!(
        fake.token_subscriber(&body.token),
        Some(alice.subscriber_id)
    );
    let now = fake.clock().now();
    assert_eq!(
        whole_seconds_between(
            fake.token_expires_at(&body.token).expect("issued"),
            now + INVITE_TOKEN_LIFETIME
        ),
        0
    );
    assert_eq!(
        refresh(&fake, &body.token).await.code(),
        "not_a_refresh_token",
        "an invite is no refresh token"
    );

    let expires_at = fake_unix_now(&fake) + 90;
    let answer = invite(
        &fake,
        &bob.token,
        json!({"address_id": bob_address, "expires_at": expires_at}),
    )
    .await;
    let token = answer.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(fake.token_expires_at(&token), Some(at_unix(expires_at)));

    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"address_id": bob_address}),
            "must_belong_to_project",
            "address_id",
        ),
        (
            json!({"address_id": "f371a4d1-68fc-4be1-92ba-1728b766cf1c"}),
            "must_belong_to_project",
            "address_id",
        ),
        (json!({}), "missing_required_parameter", "address_id"),
        (
            json!({"address_id": ""}),
            "missing_required_parameter",
            "address_id",
        ),
        (json!({"address_id": 7}), "invalid_parameter", "address_id"),
        (
            json!({"address_id": "room-1"}),
            "invalid_parameter",
            "address_id",
        ),
        (
            json!({"address_id": alice_address, "expires_at": 1.5}),
            "invalid_parameter",
            "expires_at",
        ),
    ];
    for (body, code, attribute) in cases {
        let answer = invite(&fake, &alice.token, body.clone()).await;
        assert_eq!(answer.code(), code, "{body}");
        assert_eq!(answer.attribute().as_deref(), Some(attribute), "{body}");
    }
}

#[tokio::test]
async fn an_embed_token_needs_no_credentials_and_ignores_any_sent() {
    let fake = FakeSpace::builder()
        .click_to_call_token(C2C)
        .start()
        .await
        .expect("a random loopback port");
    assert_eq!(fake.click_to_call_token(), C2C);
    let wrong = basic(fake.project_id(), "PTwrong");
    let body = json!({"token": C2C}).to_string();
    for auth in [
        Auth::None,
        Auth::Fake,
        Auth::Header(&wrong),
        Auth::Header(b"Bearer x"),
    ] {
        let answer = send(
            &fake,
            "POST",
            Operation::EmbedToken.path(),
            auth,
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, 201, "{}", answer.text());
        let token: GuestEmbedTokenResponse =
            serde_json::from_slice(&answer.body).expect("the shape");
        assert_eq!(typ(&token.token), "SAT");
        let now = fake.clock().now();
        assert_eq!(
            whole_seconds_between(
                fake.token_expires_at(&token.token).expect("issued"),
                now + EMBED_TOKEN_LIFETIME
            ),
            0
        );
        assert_eq!(fake.token_subscriber(&token.token), None);
    }
    let sent: Vec<(bool, bool)> = fake
        .journal()
        .iter()
        .map(|entry| (entry.authorization_sent, entry.credentials_valid))
        .collect();
    assert_eq!(
        sent,
        [(false, true), (true, true), (true, true), (true, true)]
    );
}

#[tokio::test]
async fn an_unknown_click_to_call_token_is_403_and_a_missing_one_422() {
    let fake = FakeSpace::start().await;
    let known = fake.click_to_call_token().to_owned();
    assert!(
        known.starts_with("c2c_") && known.len() == 36,
        "generated at start"
    );
    let other = FakeSpace::start().await;
    assert_ne!(other.click_to_call_token(), known, "each fake has its own");

    let answer = embed(&fake, json!({"token": other.click_to_call_token()})).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.json(), json!({"error": "Forbidden"}));
    assert_eq!(embed(&fake, json!({"token": known})).await.status, 201);

    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (json!({}), "missing_required_parameter", Some("token")),
        (
            json!({"token": ""}),
            "missing_required_parameter",
            Some("token"),
        ),
        (
            json!({"token": null}),
            "missing_required_parameter",
            Some("token"),
        ),
        (json!({"token": 42}), "invalid_parameter", Some("token")),
        (json!([known]), "missing_required_parameter", None),
    ];
    for (body, code, attribute) in cases {
        let answer = embed(&fake, body.clone()).await;
        assert_eq!(answer.code(), code, "{body}");
        assert_eq!(answer.attribute().as_deref(), attribute, "{body}");
    }
}

#[tokio::test]
async fn a_click_to_call_token_the_fake_cannot_accept_is_refused_at_start() {
    for bad in ["", "c2c_", "c2c_xyz", "7a1e9d40b2c64f1e8d3b5a6c7e8f9012"] {
        let error = FakeSpace::builder()
            .click_to_call_token(bad)
            .start()
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
        if bad.len() > "c2c_".len() {
            assert!(!error.to_string().contains(bad), "{error}");
        }
    }
}
