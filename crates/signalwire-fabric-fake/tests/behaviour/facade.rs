//! The facade client against the fake: the typed errors a caller acts on.

use std::time::{Duration, SystemTime};

use signalwire_fabric::{CreateSubscriberToken, Error, ErrorCode, RefreshToken};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};

fn refresh_token_of(fake: &FakeSpace, reference: &str) -> RefreshToken {
    RefreshToken::parse(fake.create_subscriber_token(reference).refresh_token)
        .expect("the fake issues refresh tokens the facade accepts")
}

fn single_code(error: &Error) -> ErrorCode {
    match error {
        Error::Rejected { errors, .. } if errors.len() == 1 => errors[0].code.clone(),
        other => panic!("expected one 422 entry, got {other:?}"),
    }
}

#[tokio::test]
async fn create_then_refresh_through_the_facade() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    assert_eq!(client.base_url(), fake.base_url());

    let created = client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("alice@example.com").display_name("Alice"))
        .await
        .expect("created");
    assert_eq!(
        Some(created.subscriber_id.as_str().to_owned()),
        fake.subscriber_id("alice@example.com")
            .map(|id| id.to_string())
    );
    let pair = client
        .subscriber_tokens()
        .refresh(created.pair.refresh_token())
        .await
        .expect("refreshed");
    assert_ne!(pair.refresh_token(), created.pair.refresh_token());
    assert_eq!(
        fake.token_subscriber(pair.access_token().expose_secret())
            .map(|id| id.to_string())
            .as_deref(),
        Some(created.subscriber_id.as_str())
    );
    assert_eq!(fake.answered_count(Operation::Create, 200), 1);
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
    assert_eq!(
        fake.journal()[0]
            .body
            .as_ref()
            .map(|body| body["display_name"].clone()),
        Some(serde_json::json!("Alice"))
    );
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_is_token_invalid_and_needs_a_new_subscriber_token() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let old = refresh_token_of(&fake, "alice@example.com");
    client
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect("the first exchange works");
    let error = client
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("the token is spent");
    assert_eq!(single_code(&error), ErrorCode::TokenInvalid);
    assert_eq!(
        error.field_errors()[0].attribute.as_deref(),
        Some("refresh_token")
    );
    assert!(error.requires_new_subscriber_token());
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn an_expired_refresh_token_is_token_expired() {
    let fake = FakeSpace::start().await;
    let old = refresh_token_of(&fake, "alice@example.com");
    fake.clock()
        .advance(signalwire_fabric::REFRESH_TOKEN_LIFETIME + Duration::from_secs(1));
    let error = fake
        .client()
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("expired");
    assert_eq!(single_code(&error), ErrorCode::TokenExpired);
    assert!(error.requires_new_subscriber_token());
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let fake = FakeSpace::start().await;
    let client = fake
        .client_builder()
        .api_token("PTwrong")
        .build()
        .expect("a valid client");
    let error = client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("alice@example.com"))
        .await
        .expect_err("unauthorized");
    match &error {
        Error::Unauthorized { message, .. } => assert_eq!(message.as_deref(), Some("Unauthorized")),
        other => panic!("{other:?}"),
    }
    assert!(!fake.journal()[0].credentials_valid);
}

#[tokio::test]
async fn injected_server_faults_are_retryable_server_errors() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let old = refresh_token_of(&fake, "alice@example.com");
    fake.inject(Operation::Refresh, Fault::status(503), 1);
    fake.inject(Operation::Refresh, Fault::status(502).html(), 1);
    fake.inject(
        Operation::Refresh,
        Fault::rate_limited(Some(Duration::from_secs(2))),
        1,
    );

    let error = client
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("503");
    match &error {
        // 503 is not in the contract, so the facade keeps a snippet of the body rather
        // than reading it as the error shape.
        Error::Server {
            status: 503,
            message,
            body,
            ..
        } => {
            let said = message.iter().chain(body).cloned().collect::<String>();
            assert!(said.contains("Service Unavailable"), "{said}");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_retryable());
    assert!(!error.requires_new_subscriber_token());

    let error = client
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("502");
    match &error {
        Error::Server {
            status: 502,
            body: Some(body),
            ..
        } => {
            assert!(body.contains("502 Bad Gateway"), "{body}");
        }
        other => panic!("{other:?}"),
    }

    let error = client
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("429");
    match &error {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("{other:?}"),
    }

    // None of that spent the token.
    client
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect("the token still works after the faults");
}

#[tokio::test]
async fn a_response_lost_to_a_timeout_still_spent_the_refresh_token() {
    let fake = FakeSpace::start().await;
    let impatient = fake
        .client_builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("a valid client");
    let old = refresh_token_of(&fake, "alice@example.com");
    fake.inject(Operation::Refresh, Fault::delay(Duration::from_secs(2)), 1);

    let error = impatient
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("timed out");
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.may_have_reached_server());

    let error = fake
        .client()
        .subscriber_tokens()
        .refresh(&old)
        .await
        .expect_err("spent by the lost exchange");
    assert_eq!(single_code(&error), ErrorCode::TokenInvalid);
}

#[tokio::test]
async fn an_expire_at_the_client_accepted_can_be_past_on_the_fakes_clock() {
    // The facade refuses an expire_at that is not in the future on the local clock; the
    // fake, on its own clock, issues a token that has expired already, as the spec allows.
    let fake = FakeSpace::start().await;
    fake.clock().advance(Duration::from_secs(24 * 3600));
    let created = fake
        .client()
        .subscriber_tokens()
        .create(
            CreateSubscriberToken::new("alice@example.com")
                .expire_at(SystemTime::now() + Duration::from_secs(3600)),
        )
        .await
        .expect("the spec allows any expire_at");
    let access = created.pair.access_token().expose_secret();
    let expires_at = fake.token_expires_at(access).expect("issued by the fake");
    assert!(
        expires_at < fake.clock().now(),
        "expired on the fake's clock"
    );
    let error = fake
        .client()
        .invite_tokens()
        .create(
            created.pair.access_token(),
            &fake
                .subscriber("alice@example.com")
                .expect("created")
                .address_ids[0]
                .to_string(),
            None,
        )
        .await
        .expect_err("an expired access token is refused");
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
}
