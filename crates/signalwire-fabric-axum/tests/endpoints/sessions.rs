//! The server-side sessions behind the endpoints: one refresh however many ask, and what
//! happens when a session cannot go on.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::json;
use signalwire_fabric::{
    AccessToken, Coordinator, InProcessCoordinator, RefreshToken, TokenPair, testing,
};
use signalwire_fabric_axum::RateLimit;
use signalwire_fabric_fake::{Fault, Operation, SimulatedTime};
use tokio::time::Instant;

use crate::common::{Harness, key, reference};

#[tokio::test(start_paused = true)]
async fn many_concurrent_refreshes_of_one_user_spend_one_refresh_token() {
    // Room for the whole storm: the limit itself is tested in `hygiene`.
    let limit = RateLimit::new(NonZeroU32::new(100).expect("100"), Duration::from_secs(60));
    let h = Harness::start_with(move |builder| builder.rate_limit(limit)).await;
    let time = SimulatedTime::new(&h.fake);
    let alice = h.users.sign_in("alice");
    let first = time
        .hold(h.post("/authenticate", Some(&alice), json!({})))
        .await;
    let first = first.token().to_owned();

    // Four minutes before expiry the session is due (5 min ahead, up to 1 min jitter):
    // every tab and retry asks at once.
    time.advance(Duration::from_secs(2 * 60 * 60 - 4 * 60))
        .await;
    let storm = (0..50).map(|_| h.post("/refresh", Some(&alice), json!({})));
    let answers = time.hold(futures_util::future::join_all(storm)).await;
    let tokens: HashSet<&str> = answers.iter().map(|answer| answer.token()).collect();
    assert_eq!(tokens.len(), 1, "every caller got the same new token");
    let second = *tokens.iter().next().expect("one token");
    assert_ne!(second, first);
    assert_eq!(
        h.fake.token_subscriber(second),
        h.fake.subscriber_id(&reference("alice"))
    );
    assert_eq!(
        h.fake.refresh_count(),
        1,
        "one upstream refresh: {:?}",
        h.fake.journal()
    );
    assert_eq!(h.fake.answered_count(Operation::Refresh, 201), 1);

    // Asked again while the new token is fresh: no request at all.
    let again = (0..20).map(|_| h.post("/refresh", Some(&alice), json!({})));
    for answer in time.hold(futures_util::future::join_all(again)).await {
        assert_eq!(answer.token(), second);
    }
    assert_eq!(h.fake.refresh_count(), 1);
    assert_eq!(h.fake.request_count(Operation::Create), 1);
    let session = h.service.session(&key("alice")).expect("kept");
    assert_eq!(session.status().refreshes, 1);
}

/// A pair the fake issued for `name`'s subscriber, whose access token has just expired.
fn expired_pair_of(h: &Harness, name: &str) -> TokenPair {
    let issued = h.fake.create_subscriber_token(&reference(name));
    TokenPair::new(
        AccessToken::parse(issued.token).expect("an access token"),
        RefreshToken::parse(issued.refresh_token).expect("a refresh token"),
        Instant::now(),
        Instant::now() + Duration::from_secs(2 * 60 * 60),
    )
}

#[tokio::test]
async fn a_session_whose_chain_died_is_replaced_by_a_new_subscriber_token() {
    let coordinator = InProcessCoordinator::new();
    let shared = coordinator.clone();
    let h = Harness::start_with(move |builder| builder.coordinator(shared)).await;
    // Another instance left a due pair whose refresh token SignalWire does not know.
    let dead = testing::due_now(&testing::pair("a-dead-chain"));
    let generation = coordinator
        .publish(&key("alice"), &dead.to_stored())
        .await
        .expect("published");
    let alice = h.users.sign_in("alice");
    let answer = h.post("/refresh", Some(&alice), json!({})).await;
    let token = answer.token();
    assert_eq!(
        h.fake.token_subscriber(token),
        h.fake.subscriber_id(&reference("alice"))
    );
    assert_eq!(
        h.fake.answered_count(Operation::Refresh, 422),
        1,
        "the dead chain was tried once"
    );
    assert_eq!(
        h.fake.request_count(Operation::Create),
        1,
        "then a new subscriber token"
    );
    let shared = coordinator
        .load(&key("alice"))
        .await
        .expect("load")
        .expect("a pair");
    assert_eq!(shared.generation, generation + 1, "the new chain is shared");
    assert_eq!(shared.pair.access_token().expose_secret(), token);
    // The new session serves from now on.
    assert_eq!(
        h.post("/authenticate", Some(&alice), json!({}))
            .await
            .token(),
        token
    );
    assert_eq!(h.fake.request_count(Operation::Create), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_signalwire_is_503_until_a_retry_succeeds() {
    let coordinator = InProcessCoordinator::new();
    let shared = coordinator.clone();
    let h = Harness::start_with(move |builder| builder.coordinator(shared)).await;
    let time = SimulatedTime::new(&h.fake);
    coordinator
        .publish(&key("alice"), &expired_pair_of(&h, "alice").to_stored())
        .await
        .expect("published");
    let alice = h.users.sign_in("alice");
    h.fake.inject(Operation::Refresh, Fault::status(503), 1);
    let unavailable = time.hold(h.post("/refresh", Some(&alice), json!({}))).await;
    assert_eq!(
        (unavailable.status, unavailable.code()),
        (503, "upstream_unavailable")
    );
    assert_eq!(h.fake.refresh_count(), 1);
    // The session retries after its backoff (at most 0.5 s for the first retry).
    time.advance(Duration::from_secs(1)).await;
    let answer = time.hold(h.post("/refresh", Some(&alice), json!({}))).await;
    assert_eq!(
        h.fake.token_subscriber(answer.token()),
        h.fake.subscriber_id(&reference("alice"))
    );
    assert_eq!(h.fake.answered_count(Operation::Refresh, 201), 1);
    assert_eq!(
        h.fake.request_count(Operation::Create),
        0,
        "the same chain went on"
    );
}

#[tokio::test]
async fn a_request_given_up_while_the_first_token_is_created_still_leaves_the_session() {
    let h = Harness::start().await;
    let alice = h.users.sign_in("alice");
    // SignalWire takes 1.5 s to create alice's first subscriber token; her browser gives
    // up after 0.3 s (a closed tab, a reload, a proxy's timeout).
    h.fake.inject(
        Operation::Create,
        Fault::delay(Duration::from_millis(1_500)),
        1,
    );
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("a reqwest client");
    let gave_up = impatient
        .post(h.backend.url("/tokens/authenticate"))
        .header("content-type", "application/json")
        .header("cookie", &alice)
        .body("{}")
        .send()
        .await;
    assert!(
        gave_up.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the first request was given up: {gave_up:?}"
    );

    // Her next request is answered as soon as that creation is done, far sooner than
    // the coordinator's 45 s lease, with the token it created.
    let asked = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        h.post("/authenticate", Some(&alice), json!({})),
    )
    .await
    .expect("answered well within the coordinator's lease");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let token = answer.token();
    assert_eq!(
        h.fake.token_subscriber(token),
        h.fake.subscriber_id(&reference("alice"))
    );
    assert_eq!(
        h.fake.request_count(Operation::Create),
        1,
        "one subscriber token: {:?}",
        h.fake.journal()
    );
    let session = h.service.session(&key("alice")).expect("kept");
    assert_eq!(session.pair().access_token().expose_secret(), token);
    assert_eq!(session.status().generation, 1, "published once");
}
