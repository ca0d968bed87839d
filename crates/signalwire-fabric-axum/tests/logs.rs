//! No secret in any log line, whatever the endpoints go through (a refused token reported
//! included).
//!
//! Its own test binary: `tracing` caches per call site whether anyone listens, and a test
//! running beside it on another thread (with no subscriber) can make a call site silent
//! for this one's thread-local subscriber.

#[path = "endpoints/common.rs"]
mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::json;
use signalwire_fabric::testing::CapturedLogs;
use signalwire_fabric::{AccessToken, Coordinator, InProcessCoordinator, RefreshToken, TokenPair};
use signalwire_fabric_axum::RateLimit;
use signalwire_fabric_fake::{Fault, Operation};
use tokio::time::Instant;

use common::{Harness, key, reference};

/// The longest run of token-alphabet characters in `text`.
fn longest_token_like_run(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_whole_run_of_the_endpoints_logs_no_secret() {
    let (logs, _guard) = CapturedLogs::for_this_thread();

    let coordinator = InProcessCoordinator::new();
    let shared = coordinator.clone();
    let limit = RateLimit::new(NonZeroU32::new(6).expect("6"), Duration::from_secs(3600));
    let h = Harness::start_with(move |builder| builder.coordinator(shared).rate_limit(limit)).await;
    let alice = h.users.sign_in("alice");
    let bob = h.users.sign_in("bob");
    let mut secrets: Vec<String> = vec![h.fake.api_token().to_owned()];
    for cookie in [&alice, &bob] {
        secrets.push(cookie.split('=').nth(1).expect("a session id").to_owned());
    }

    // Alice: a session, then a refresh of a due pair, then a client-bound token.
    secrets.push(
        h.post("/authenticate", Some(&alice), json!({}))
            .await
            .token()
            .to_owned(),
    );
    // Bob's pair is due: the refresh goes upstream.
    let issued = h.fake.create_subscriber_token(&reference("bob"));
    secrets.extend([issued.token.clone(), issued.refresh_token.clone()]);
    let due = TokenPair::new(
        AccessToken::parse(issued.token).expect("access"),
        RefreshToken::parse(issued.refresh_token).expect("refresh"),
        Instant::now(),
        Instant::now() + Duration::from_secs(3600),
    );
    coordinator
        .publish(&key("bob"), &due.to_stored())
        .await
        .expect("published");
    secrets.push(
        h.post("/refresh", Some(&bob), json!({}))
            .await
            .token()
            .to_owned(),
    );
    // Bob reports his token refused: it is refreshed at once; a malformed report is 400.
    let refused = secrets.last().cloned().expect("bob's token");
    secrets.push(
        h.post("/refresh", Some(&bob), json!({ "refused": refused }))
            .await
            .token()
            .to_owned(),
    );
    assert_eq!(
        h.post(
            "/refresh",
            Some(&bob),
            json!({ "refused": format!("{refused}!") })
        )
        .await
        .status,
        400
    );
    let bound = h
        .post(
            "/authenticate",
            Some(&alice),
            json!({"fingerprint": "Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE"}),
        )
        .await;
    secrets.push(bound.token().to_owned());
    // Refusals and failures.
    assert_eq!(
        h.post("/refresh", Some("test_session=forged"), json!({}))
            .await
            .status,
        401
    );
    h.fake.inject(Operation::Create, Fault::status(503), 1);
    let carol = h.users.sign_in("carol");
    secrets.push(carol.split('=').nth(1).expect("an id").to_owned());
    assert_eq!(
        h.post("/authenticate", Some(&carol), json!({}))
            .await
            .status,
        503
    );
    h.fake.inject(Operation::Create, Fault::status(401), 1);
    assert_eq!(
        h.post("/authenticate", Some(&carol), json!({}))
            .await
            .status,
        502
    );
    for _ in 0..4 {
        h.post("/refresh", Some(&alice), json!({})).await;
    }
    assert_eq!(
        h.post("/refresh", Some(&alice), json!({})).await.status,
        429
    );

    // Every refresh token that went upstream, and every pair the service still holds.
    for entry in h.fake.journal() {
        if let Some(token) = entry
            .body
            .as_ref()
            .and_then(|body| body["refresh_token"].as_str())
        {
            secrets.push(token.to_owned());
        }
    }
    for name in ["alice", "bob"] {
        let pair = h.service.session(&key(name)).expect("a session").pair();
        secrets.push(pair.access_token().expose_secret().to_owned());
        secrets.push(pair.refresh_token().expose_secret().to_owned());
    }
    secrets.push(format!("{:?}", h.service)); // its Debug is not a secret, but must hold none
    let debug = secrets.pop().expect("pushed");

    let text = logs.text();
    assert!(
        text.contains("created a subscriber token for the user"),
        "logs were captured: {text}"
    );
    assert!(
        text.contains("subscriber token refresh succeeded"),
        "{text}"
    );
    assert!(text.contains("a user asked for tokens too often"), "{text}");
    assert!(
        text.contains("SignalWire refused a token request"),
        "{text}"
    );
    assert!(secrets.len() >= 12, "{}", secrets.len());
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret is in the logs");
        assert!(
            !debug.contains(secret.as_str()),
            "a secret is in the service's Debug"
        );
    }
    assert!(
        longest_token_like_run(&text) < 40,
        "nothing token-shaped is logged: {text}"
    );
}
