use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use signalwire_fabric::{AccessToken, RefreshToken, TokenKind};
use signalwire_fabric_fake::wire::{RefreshSubscriberTokenResponse, SubscriberTokenResponse};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{call, create, fake_unix_now, refresh};

// The documented lifetimes, written out rather than taken from the crate under test.
const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60 + 5 * 60);
const SCOPED_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

#[test]
fn the_exported_lifetimes_are_the_documented_ones() {
    assert_eq!(
        signalwire_fabric_fake::ACCESS_TOKEN_LIFETIME,
        ACCESS_TOKEN_LIFETIME
    );
    assert_eq!(
        signalwire_fabric_fake::REFRESH_TOKEN_LIFETIME,
        REFRESH_TOKEN_LIFETIME
    );
    assert_eq!(
        signalwire_fabric_fake::SCOPED_ACCESS_TOKEN_LIFETIME,
        SCOPED_ACCESS_TOKEN_LIFETIME
    );
}

/// Checks a token's JWE shape and returns its decoded header.
fn jwe_header(token: &str) -> serde_json::Value {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 5, "five segments");
    assert_eq!(segments[1], "", "an empty key segment (alg dir)");
    let decoded_len = |segment: &str| URL_SAFE_NO_PAD.decode(segment).expect("base64url").len();
    assert_eq!(decoded_len(segments[2]), 12, "iv");
    assert!(
        (380..=420).contains(&decoded_len(segments[3])),
        "ciphertext"
    );
    assert_eq!(decoded_len(segments[4]), 16, "tag");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[0]).expect("base64url"))
        .expect("a JSON header")
}

#[tokio::test]
async fn create_answers_200_with_jwe_shaped_tokens_of_the_right_kinds() {
    let fake = FakeSpace::start().await;
    let answer = create(&fake, "alice@example.com").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let body: SubscriberTokenResponse = serde_json::from_slice(&answer.body).expect("the shape");

    assert_eq!(
        uuid::Uuid::parse_str(&body.subscriber_id).ok(),
        fake.subscriber_id("alice@example.com")
    );
    assert_eq!(
        jwe_header(&body.token),
        json!({"alg": "dir", "enc": "A256GCM", "typ": "SAT", "ch": "fake.signalwire.test"})
    );
    assert_eq!(
        jwe_header(&body.refresh_token),
        json!({"alg": "dir", "enc": "A256GCM", "typ": "Refresh", "ch": "fake.signalwire.test"})
    );
    let access = AccessToken::parse(body.token.as_str()).expect("an access token");
    let refresh = RefreshToken::parse(body.refresh_token.as_str()).expect("a refresh token");
    assert_eq!(access.kind(), Some(TokenKind::Access));
    assert_eq!(refresh.kind(), Some(TokenKind::Refresh));
}

#[tokio::test]
async fn a_reference_keeps_its_subscriber_id() {
    let fake = FakeSpace::start().await;
    let first = create(&fake, "alice@example.com").await.json();
    let second = create(&fake, "alice@example.com").await.json();
    let seeded = fake.create_subscriber_token("alice@example.com");
    let other = create(&fake, "bob@example.com").await.json();

    assert_eq!(first["subscriber_id"], second["subscriber_id"]);
    assert_eq!(first["subscriber_id"], seeded.subscriber_id.to_string());
    assert_ne!(first["subscriber_id"], other["subscriber_id"]);
    assert_ne!(
        first["token"], second["token"],
        "every create issues a new pair"
    );
    assert_eq!(
        fake.token_subscriber(&seeded.refresh_token),
        Some(seeded.subscriber_id)
    );
}

#[tokio::test]
async fn refresh_answers_201_with_a_new_pair_for_the_same_subscriber() {
    let fake = FakeSpace::start().await;
    let seeded = fake.create_subscriber_token("alice@example.com");
    let mut refresh_token = seeded.refresh_token.clone();
    for round in 0..3 {
        let answer = refresh(&fake, &refresh_token).await;
        assert_eq!(answer.status, 201, "round {round}: {}", answer.text());
        let body: RefreshSubscriberTokenResponse =
            serde_json::from_slice(&answer.body).expect("the shape");
        assert_eq!(
            answer.json().as_object().map(|fields| fields.len()),
            Some(2),
            "only token and refresh_token"
        );
        assert_ne!(body.refresh_token, refresh_token);
        assert_eq!(jwe_header(&body.token)["typ"], "SAT");
        assert_eq!(jwe_header(&body.refresh_token)["typ"], "Refresh");
        assert_eq!(
            fake.token_subscriber(&body.token),
            Some(seeded.subscriber_id)
        );
        assert_eq!(
            fake.token_subscriber(&body.refresh_token),
            Some(seeded.subscriber_id)
        );
        refresh_token = body.refresh_token;
    }
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 3);
}

/// How far `at` is from `now + lifetime`, in whole seconds.
fn off_by(at: Option<SystemTime>, now: SystemTime, lifetime: Duration) -> u64 {
    let at = at.expect("an issued token");
    let expected = now + lifetime;
    match at.duration_since(expected) {
        Ok(after) => after.as_secs(),
        Err(before) => before.duration().as_secs(),
    }
}

#[tokio::test]
async fn lifetimes_follow_the_documented_rules() {
    let fake = FakeSpace::start().await;
    let pair = |body: serde_json::Value| {
        let fake = &fake;
        async move {
            let answer = call(fake, Operation::Create, body).await;
            assert_eq!(answer.status, 200, "{}", answer.text());
            let body = answer.json();
            (
                body["token"].as_str().expect("token").to_owned(),
                body["refresh_token"]
                    .as_str()
                    .expect("refresh_token")
                    .to_owned(),
            )
        }
    };
    let fingerprint = "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE";

    let (access, refresh_token) = pair(json!({"reference": "a"})).await;
    let now = fake.clock().now();
    assert_eq!(
        off_by(fake.token_expires_at(&access), now, ACCESS_TOKEN_LIFETIME),
        0
    );
    assert_eq!(
        off_by(
            fake.token_expires_at(&refresh_token),
            now,
            REFRESH_TOKEN_LIFETIME
        ),
        0
    );

    let expire_at = fake_unix_now(&fake) + 600;
    let (access, refresh_token) = pair(json!({"reference": "a", "expire_at": expire_at})).await;
    let wanted = UNIX_EPOCH + Duration::from_secs(u64::try_from(expire_at).expect("positive"));
    assert_eq!(fake.token_expires_at(&access), Some(wanted));
    let now = fake.clock().now();
    assert_eq!(
        off_by(
            fake.token_expires_at(&refresh_token),
            now,
            REFRESH_TOKEN_LIFETIME
        ),
        0,
        "expire_at does not change the refresh token's lifetime"
    );

    let (access, _) = pair(json!({"reference": "a", "scope": "sat:refresh"})).await;
    let now = fake.clock().now();
    assert_eq!(
        off_by(
            fake.token_expires_at(&access),
            now,
            SCOPED_ACCESS_TOKEN_LIFETIME
        ),
        0
    );

    let (access, _) = pair(json!({
        "reference": "a", "scope": "sat:refresh", "fingerprint": fingerprint
    }))
    .await;
    let now = fake.clock().now();
    assert_eq!(
        off_by(fake.token_expires_at(&access), now, ACCESS_TOKEN_LIFETIME),
        0
    );

    let seeded = fake.create_subscriber_token("a");
    let answer = refresh(&fake, &seeded.refresh_token).await.json();
    let now = fake.clock().now();
    let new_access = answer["token"].as_str().expect("token");
    let new_refresh = answer["refresh_token"].as_str().expect("refresh_token");
    assert_eq!(
        off_by(
            fake.token_expires_at(new_access),
            now,
            ACCESS_TOKEN_LIFETIME
        ),
        0
    );
    assert_eq!(
        off_by(
            fake.token_expires_at(new_refresh),
            now,
            REFRESH_TOKEN_LIFETIME
        ),
        0
    );
    assert_eq!(fake.token_expires_at("never.issued.token"), None);
}

#[tokio::test]
async fn a_refresh_token_expires_after_two_hours_five_minutes_on_the_fake_clock() {
    let fake = FakeSpace::start().await;
    let early = fake.create_subscriber_token("alice@example.com");
    let late = fake.create_subscriber_token("alice@example.com");

    fake.clock()
        .advance(REFRESH_TOKEN_LIFETIME - Duration::from_secs(10));
    assert_eq!(refresh(&fake, &early.refresh_token).await.status, 201);

    fake.clock().advance(Duration::from_secs(10));
    let answer = refresh(&fake, &late.refresh_token).await;
    assert_eq!(answer.code(), "token_expired");
    assert_eq!(answer.attribute().as_deref(), Some("refresh_token"));
}
