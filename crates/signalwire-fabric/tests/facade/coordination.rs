//! Sessions that share a coordinator, against the in-process one on tokio's paused clock:
//! the protocol's rules and the shared session scenarios (written once in
//! `signalwire_fabric::testing`, which `signalwire-fabric-redis` runs against Redis too),
//! and what only a paused clock shows: rotations that come due on schedule, a coordinator
//! that is down while tokens expire, forgetting subscribers who stop coming, and
//! `join_or_create`. Tests are named after the transitions of the session's state machine
//! (see `signalwire_fabric::SubscriberSession`'s module docs).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::testing::{self, InProcessHarness, conformance_tests, scenario_tests};
use signalwire_fabric::{
    AccessToken, Coordinator, Error, InProcessCoordinator, SessionKey, SubscriberSession, TokenPair,
};
use tokio::time::{Instant, advance};

/// A harness over a new in-process coordinator, whatever the test.
fn in_process(_test: &str) -> Option<InProcessHarness> {
    Some(InProcessHarness::default())
}

conformance_tests!(
    #[tokio::test(start_paused = true)]
    conformance,
    in_process
);

scenario_tests!(
    #[tokio::test(start_paused = true)]
    scenarios,
    in_process
);

/// Issue 19: users who stop coming do not stay in memory. A record is forgotten once its
/// pair's refresh token has expired plus `KEEP_AFTER_REFRESH_EXPIRY` (or, holding only a
/// lease that was never committed, once the lease is over), swept at most a minute later
/// by whichever subscriber is asked about next; a look-up of an unknown key makes no
/// record.
#[tokio::test(start_paused = true)]
async fn the_in_process_coordinator_forgets_the_subscribers_who_stop_coming() {
    use signalwire_fabric::{KEEP_AFTER_REFRESH_EXPIRY, LeaseOutcome, REFRESH_TOKEN_LIFETIME};

    let coordinator = InProcessCoordinator::new();
    for user in 0..100 {
        let key: SessionKey = format!("gone-{user}").parse().expect("valid");
        let pair = testing::pair(&format!("gone-{user}")).to_stored();
        coordinator.publish(&key, &pair).await.expect("published");
    }
    let starter: SessionKey = "starter".parse().expect("valid");
    let outcome = coordinator
        .try_lease(&starter, 0, Duration::from_secs(45))
        .await
        .expect("asked");
    assert!(matches!(outcome, LeaseOutcome::Granted(_)), "{outcome:?}");
    let unknown: SessionKey = "never-seen".parse().expect("valid");
    assert!(coordinator.load(&unknown).await.expect("load").is_none());
    assert_eq!(coordinator.subscribers(), 101, "a look-up makes no record");

    // Still kept a little after the refresh tokens expired.
    advance(REFRESH_TOKEN_LIFETIME + KEEP_AFTER_REFRESH_EXPIRY / 2).await;
    coordinator.load(&unknown).await.expect("load");
    assert_eq!(
        coordinator.subscribers(),
        100,
        "the starter's lease is over"
    );
    let first: SessionKey = "gone-0".parse().expect("valid");
    assert!(coordinator.load(&first).await.expect("load").is_some());

    advance(KEEP_AFTER_REFRESH_EXPIRY).await;
    assert!(
        coordinator.load(&first).await.expect("load").is_none(),
        "an expired record reads as nothing"
    );
    assert_eq!(coordinator.subscribers(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_in_process_coordinator_answers_every_step_as_the_store_rules_do() {
    let report = testing::replay_store_rules(&InProcessHarness::default(), 5).await;
    assert!(report.traces > 1000, "{report:?}");
}

type Space = testing::RefreshEndpoint;

fn key() -> SessionKey {
    "user-42".parse().expect("a valid key")
}

/// A session for `pair` that publishes it to `coordinator` under [`key`].
fn first_session(
    space: &Space,
    coordinator: &InProcessCoordinator,
    pair: TokenPair,
) -> SubscriberSession {
    SubscriberSession::builder(space.clone(), pair)
        .coordinator(coordinator.clone(), key())
        .jitter(Duration::ZERO)
        .build()
}

/// A session that joins the pair `coordinator` holds under [`key`].
async fn joined(space: &Space, coordinator: &InProcessCoordinator) -> SubscriberSession {
    SubscriberSession::join(space.clone(), coordinator.clone(), key())
        .await
        .expect("the coordinator answers")
        .expect("a pair is shared")
        .jitter(Duration::ZERO)
        .build()
}

/// Lets spawned tasks (the sessions' workers) run until they wait on something.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

fn text(token: &AccessToken) -> String {
    token.expose_secret().to_owned()
}

#[tokio::test(start_paused = true)]
async fn current_to_refreshing_to_current_once_per_rotation_across_sessions_and_callers() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    let first = first_session(&space, &coordinator, space.create());
    first.access_token().await.expect("valid");
    settle().await;
    let mut sessions = vec![first];
    for _ in 0..4 {
        sessions.push(joined(&space, &coordinator).await);
    }
    for rotation in 1..=3 {
        // Every session comes due at the same moment; 100 callers each.
        advance(Duration::from_secs(7200) - signalwire_fabric::DEFAULT_REFRESH_AHEAD).await;
        let callers: Vec<_> = sessions
            .iter()
            .flat_map(|session| (0..100).map(move |_| session.clone()))
            .map(|session| tokio::spawn(async move { session.access_token().await }))
            .collect();
        testing::assert_rotated_once(&space, &sessions, rotation, callers).await;
    }
}

#[tokio::test(start_paused = true)]
async fn refreshing_to_current_by_adopting_what_a_sibling_stored_without_any_request() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    let first = first_session(&space, &coordinator, space.create());
    let old = first.access_token().await.expect("valid");
    settle().await;
    let second = SubscriberSession::join(space.clone(), coordinator.clone(), key())
        .await
        .expect("answers")
        .expect("shared")
        // Due an hour later than the first session.
        .refresh_ahead(Duration::ZERO)
        .jitter(Duration::ZERO)
        .build();
    let rotated = first.refresh_if_current(&old).await.expect("refreshed");
    assert_ne!(text(&rotated), text(&old));
    assert_eq!(space.requests(), 1);

    advance(Duration::from_secs(7200)).await;
    let adopted = second.access_token().await.expect("adopted");
    assert_eq!(text(&adopted), text(&rotated));
    assert_eq!(space.requests(), 1, "the second session sent nothing");
    assert_eq!(second.status().generation, 2);
}

type Failing = testing::FailingCoordinator<InProcessCoordinator>;

#[tokio::test(start_paused = true)]
async fn an_unreachable_coordinator_serves_the_valid_token_and_never_leads_to_a_refresh() {
    let space = Space::single_use();
    let coordinator = Failing::new(InProcessCoordinator::new());
    coordinator.set_down(true);
    let session = SubscriberSession::builder(space.clone(), space.create())
        .coordinator(coordinator.clone(), key())
        .jitter(Duration::ZERO)
        .build();
    let first = session.access_token().await.expect("the pair's own token");
    advance(Duration::from_secs(7200) - signalwire_fabric::DEFAULT_REFRESH_AHEAD).await;
    for _ in 0..5 {
        let token = session.access_token().await.expect("still valid");
        assert_eq!(text(&token), text(&first));
        advance(Duration::from_secs(30)).await;
    }
    assert_eq!(space.requests(), 0, "no refresh without the lease");

    advance(Duration::from_secs(300)).await; // the access token has expired
    let started = Instant::now();
    let error = session.access_token().await.expect_err("no valid token");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(!error.may_have_reached_server());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered without waiting for the next attempt"
    );
    assert_eq!(space.requests(), 0);

    // Back up: the next attempt publishes nothing stale and refreshes once.
    coordinator.set_down(false);
    advance(Duration::from_secs(60)).await;
    let token = session.access_token().await.expect("refreshed");
    assert_ne!(text(&token), text(&first));
    assert_eq!(space.refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn join_or_create_creates_once_however_many_start_at_once() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let starters: Vec<_> = (0..20)
        .map(|_| {
            let (space, coordinator, created) =
                (space.clone(), coordinator.clone(), created.clone());
            tokio::spawn(async move {
                SubscriberSession::join_or_create(
                    space.clone(),
                    coordinator,
                    key(),
                    0,
                    || async move {
                        created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // Creating takes a while, as a request to SignalWire would.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok(space.create())
                    },
                )
                .await
                .map(|builder| builder.jitter(Duration::ZERO).build())
            })
        })
        .collect();
    let mut tokens = HashSet::new();
    for starter in starters {
        let session = starter.await.expect("no panic").expect("a session");
        assert_eq!(session.status().generation, 1);
        tokens.insert(text(&session.access_token().await.expect("valid")));
    }
    assert_eq!(
        created.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one subscriber token"
    );
    assert_eq!(tokens.len(), 1, "every starter has the created pair");

    // After that chain's session ended at generation 1, a start newer than it creates a
    // new chain once more, and a later start joins that one.
    let again = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (counter, creator) = (again.clone(), space.clone());
    let fresh = SubscriberSession::join_or_create(
        space.clone(),
        coordinator.clone(),
        key(),
        1,
        || async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(creator.create())
        },
    )
    .await
    .expect("a session")
    .build();
    assert_eq!(fresh.status().generation, 2);
    assert_eq!(again.load(std::sync::atomic::Ordering::SeqCst), 1);
    let joined =
        SubscriberSession::join_or_create(space.clone(), coordinator, key(), 0, || async {
            Err(Error::coordinator("not called: a pair is shared"))
        })
        .await
        .expect("joined")
        .build();
    assert_eq!(joined.status().generation, 2);
}

#[tokio::test(start_paused = true)]
async fn join_or_create_lets_the_next_starter_create_when_creating_fails() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    let failed =
        SubscriberSession::join_or_create(space.clone(), coordinator.clone(), key(), 0, || async {
            Err(Error::server(503))
        })
        .await;
    assert_eq!(
        failed.map(|_| ()).expect_err("creating failed").status(),
        Some(503)
    );
    let started = Instant::now();
    let session =
        SubscriberSession::join_or_create(space.clone(), coordinator, key(), 0, || async move {
            Ok(space.create())
        })
        .await
        .expect("the lease was released, so this starter creates")
        .build();
    assert_eq!(session.status().generation, 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no wait for a lease left behind"
    );
}

#[tokio::test(start_paused = true)]
async fn join_or_create_lets_go_of_the_lease_when_the_starter_is_cancelled() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    // The first starter is dropped while it creates (a browser gave up on the request).
    let (creating, is_creating) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let (space, coordinator) = (space.clone(), coordinator.clone());
        async move {
            SubscriberSession::join_or_create(space, coordinator, key(), 0, || async move {
                let _ = creating.send(());
                std::future::pending::<Result<signalwire_fabric::TokenPair, Error>>().await
            })
            .await
        }
    });
    is_creating.await.expect("the first starter is creating");
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    let started = Instant::now();
    let session =
        SubscriberSession::join_or_create(space.clone(), coordinator, key(), 0, || async move {
            Ok(space.create())
        })
        .await
        .expect("the lease was let go of, so this starter creates")
        .build();
    assert_eq!(session.status().generation, 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?} for a lease the cancelled starter left behind",
        started.elapsed()
    );
}
