//! One behaviour suite, four coordinators: sessions that share a subscriber through an
//! `InProcessCoordinator` and through a `RedisCoordinator` on one node, on a primary with
//! a replica (found through Sentinel, writes waiting for the replica) and on a Redis
//! Cluster must behave the same. Each function below is run against each (`in_process::*`,
//! `redis::*`, `replicated::*` and `cluster::*`). Rotations are driven by
//! `refresh_if_current` with the token the sessions hold, so no clock is needed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::testing::{self, ConformanceHarness};
use signalwire_fabric::{
    AccessToken, Coordinator, Error, RetryPolicy, SessionEnd, SessionKey, SubscriberSession,
    TokenPair,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::support::doubles::{space, text};
use crate::support::{
    InProcessHarness, RedisHarness, RedisServer, Topology, TopologyKind, session_key,
};

const LEASE: Duration = Duration::from_secs(2);

/// A session for `pair` that publishes it under `key`.
async fn first<H: ConformanceHarness>(
    harness: &H,
    space: &testing::RefreshEndpoint,
    key: &SessionKey,
    pair: TokenPair,
) -> SubscriberSession {
    let session = SubscriberSession::builder(space.clone(), pair)
        .coordinator(harness.coordinator().await, key.clone())
        .lease(LEASE)
        .jitter(Duration::ZERO)
        .retry(fast_retries())
        .build();
    session
        .access_token()
        .await
        .expect("a fresh pair is served");
    until("the pair is published", || session.status().generation == 1).await;
    session
}

/// A session (with a coordinator of its own) that joins the pair stored under `key`.
async fn joined<H: ConformanceHarness>(
    harness: &H,
    space: &testing::RefreshEndpoint,
    key: &SessionKey,
) -> SubscriberSession {
    SubscriberSession::join(space.clone(), harness.coordinator().await, key.clone())
        .await
        .expect("the coordinator answers")
        .expect("a pair is shared")
        .lease(LEASE)
        .jitter(Duration::ZERO)
        .retry(fast_retries())
        .build()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

/// Waits (polling, at most 10 s) until `done` holds.
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited 10 s for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn refresh_later(
    session: &SubscriberSession,
    refused: &AccessToken,
) -> tokio::task::JoinHandle<Result<AccessToken, Error>> {
    let session = session.clone();
    let refused = refused.clone();
    tokio::spawn(async move { session.refresh_if_current(&refused).await })
}

pub async fn exactly_one_refresh_per_rotation_among_sessions_and_callers<H: ConformanceHarness>(
    harness: &H,
) {
    let space = space();
    let key = session_key("rotation");
    let mut sessions = vec![first(harness, &space, &key, space.create()).await];
    for _ in 0..4 {
        sessions.push(joined(harness, &space, &key).await);
    }
    for rotation in 1..=3 {
        let refused = sessions[0].access_token().await.expect("valid");
        let callers: Vec<_> = sessions
            .iter()
            .flat_map(|session| (0..50).map(move |_| session))
            .map(|session| refresh_later(session, &refused))
            .collect();
        let mut served = HashSet::new();
        for caller in callers {
            served.insert(text(&caller.await.expect("no panic").expect("a token")));
        }
        assert_eq!(
            space.refreshes(),
            rotation,
            "exactly one refresh per rotation"
        );
        assert_eq!(space.refused(), 0, "no spent token was ever sent");
        assert_eq!(
            served.len(),
            1,
            "every caller of every session got one token"
        );
        assert!(!served.contains(&text(&refused)));
        for session in &sessions {
            assert_eq!(session.status().generation, 1 + rotation as u64);
        }
    }
}

pub async fn a_sibling_adopts_the_stored_pair_without_any_request<H: ConformanceHarness>(
    harness: &H,
) {
    let space = space();
    let key = session_key("adopt");
    let first = first(harness, &space, &key, space.create()).await;
    let second = joined(harness, &space, &key).await;
    let old = first.access_token().await.expect("valid");
    let rotated = first.refresh_if_current(&old).await.expect("refreshed");
    assert_ne!(text(&rotated), text(&old));
    assert_eq!(space.requests(), 1);

    let adopted = second.refresh_if_current(&old).await.expect("adopted");
    assert_eq!(text(&adopted), text(&rotated));
    assert_eq!(space.requests(), 1, "the sibling sent nothing");
    assert_eq!(second.status().generation, 2);
    let stored = harness
        .coordinator()
        .await
        .load(&key)
        .await
        .expect("loads")
        .expect("stored");
    assert_eq!(stored.generation, 2);
    assert_eq!(stored.pair.access_token().expose_secret(), text(&rotated));
}

pub async fn a_refusal_as_spent_is_followed_by_adopting_the_late_holders_pair<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    // The first holder's exchange succeeds at the server, but its answer is held back past
    // its lease; a sibling takes the lease over, sends the now spent token, is refused,
    // and adopts the first holder's pair once it is stored.
    let gate = Arc::new(Semaphore::new(0));
    let space = space().hold_first_answer(Arc::clone(&gate));
    let key = session_key("refused");
    let first = first(harness, &space, &key, space.create()).await;
    let second = joined(harness, &space, &key).await;
    let old = first.access_token().await.expect("valid");

    let stalled = refresh_later(&first, &old);
    until("the server rotated the token", || space.refreshes() == 1).await;
    let coordinator = harness.coordinator().await;
    harness.expire_lease(&coordinator, &key).await;
    let sibling = refresh_later(&second, &old);
    until("the sibling's refresh was refused", || space.refused() == 1).await;
    assert!(
        !second.status().ended,
        "the sibling waits for the late pair"
    );

    gate.add_permits(1);
    let first_token = stalled.await.expect("no panic").expect("refreshed");
    let sibling_token = sibling.await.expect("no panic").expect("adopted");
    assert_eq!(text(&first_token), text(&sibling_token));
    assert_eq!(second.status().generation, 2);
    assert_eq!(space.refreshes(), 1);
}

pub async fn a_late_commit_is_fenced_off_and_the_late_holder_adopts<H: ConformanceHarness>(
    harness: &H,
) {
    // Refresh tokens the server lets be reused: the stalled holder and its successor both
    // get a pair; the successor stores first, so the stalled holder's commit is refused.
    let gate = Arc::new(Semaphore::new(0));
    let space = testing::RefreshEndpoint::reusable()
        .latency(Duration::from_millis(20))
        .hold_first_answer(Arc::clone(&gate));
    let key = session_key("fenced");
    let first = first(harness, &space, &key, space.create()).await;
    let second = joined(harness, &space, &key).await;
    let old = first.access_token().await.expect("valid");

    let stalled = refresh_later(&first, &old);
    until("the stalled holder's exchange is done", || {
        space.refreshes() == 1
    })
    .await;
    let coordinator = harness.coordinator().await;
    harness.expire_lease(&coordinator, &key).await;
    let successor = second.refresh_if_current(&old).await.expect("refreshed");
    gate.add_permits(1);
    let late = stalled.await.expect("no panic").expect("adopted");

    assert_eq!(
        space.refreshes(),
        2,
        "both exchanges succeeded at the server"
    );
    let stored = coordinator
        .load(&key)
        .await
        .expect("loads")
        .expect("stored");
    assert_eq!(stored.generation, 2, "the late commit added no generation");
    assert_eq!(stored.pair.access_token().expose_secret(), text(&successor));
    assert_eq!(text(&late), text(&successor), "the late holder adopted it");
    assert_eq!(first.status().generation, 2);
}

pub async fn a_commit_that_failed_is_retried_and_the_pair_served_meanwhile<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let space = space();
    let key = session_key("retried");
    let coordinator = testing::FailingCoordinator::new(harness.coordinator().await);
    let session = SubscriberSession::builder(space.clone(), space.create())
        .coordinator(coordinator.clone(), key.clone())
        .lease(LEASE)
        .jitter(Duration::ZERO)
        .retry(fast_retries())
        .build();
    let old = session.access_token().await.expect("valid");
    until("published", || session.status().generation == 1).await;
    coordinator.fail_next_commits(3);
    let new = session
        .refresh_if_current(&old)
        .await
        .expect("refreshed and served");
    assert_ne!(text(&new), text(&old));
    let reader = harness.coordinator().await;
    let mut stored = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        stored = reader.load(&key).await.expect("loads");
        if stored.as_ref().is_some_and(|stored| stored.generation == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stored = stored.expect("stored");
    assert_eq!(
        stored.generation, 2,
        "committed once the coordinator took it"
    );
    assert_eq!(stored.pair.access_token().expose_secret(), text(&new));
    assert_eq!(coordinator.commits_left_to_fail(), 0);
    assert_eq!(
        space.refreshes(),
        1,
        "the pair was kept, not refreshed again"
    );
}

pub async fn a_refusal_with_nobody_in_flight_ends_the_session_at_once<H: ConformanceHarness>(
    harness: &H,
) {
    let space = space();
    let key = session_key("unknown");
    // A pair the server does not know.
    let session = first(harness, &space, &key, testing::pair("never-issued")).await;
    let token = session.access_token().await.expect("valid");
    let started = Instant::now();
    let error = session
        .refresh_if_current(&token)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            Error::SessionEnded {
                reason: SessionEnd::Refused,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.requires_new_subscriber_token());
    assert!(
        started.elapsed() < LEASE,
        "no waiting for a sibling that never was: {:?}",
        started.elapsed()
    );
}

fn in_process(_test: &str) -> Option<InProcessHarness> {
    Some(InProcessHarness::default())
}

fn redis(test: &str) -> Option<RedisHarness> {
    RedisServer::start(test).map(|server| RedisHarness::new(server, None))
}

fn replicated(test: &str) -> Option<RedisHarness> {
    Topology::start(TopologyKind::Replicated, test).map(|topology| RedisHarness::on(topology, None))
}

fn cluster(test: &str) -> Option<RedisHarness> {
    Topology::start(TopologyKind::Cluster, test).map(|topology| RedisHarness::on(topology, None))
}

macro_rules! suite {
    ($module:ident, $harness:ident, [$($test:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let name = concat!("behaviour::", stringify!($module), "::", stringify!($test));
                    let Some(harness) = super::$harness(name) else { return };
                    super::$test(&harness).await;
                }
            )*
        }
    };
}

macro_rules! every_coordinator {
    ($($test:ident),* $(,)?) => {
        suite!(in_process, in_process, [$($test),*]);
        suite!(redis, redis, [$($test),*]);
        suite!(replicated, replicated, [$($test),*]);
        suite!(cluster, cluster, [$($test),*]);
    };
}

every_coordinator!(
    exactly_one_refresh_per_rotation_among_sessions_and_callers,
    a_sibling_adopts_the_stored_pair_without_any_request,
    a_refusal_as_spent_is_followed_by_adopting_the_late_holders_pair,
    a_late_commit_is_fenced_off_and_the_late_holder_adopts,
    a_commit_that_failed_is_retried_and_the_pair_served_meanwhile,
    a_refusal_with_nobody_in_flight_ends_the_session_at_once,
);
