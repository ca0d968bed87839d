//! Sessions that share a coordinator: one refresh per rotation, adoption, fencing, and
//! what happens when the coordinator fails. On tokio's paused clock, against an
//! in-process stand-in for SignalWire whose refresh tokens are single-use (or, where a
//! test says so, reusable). Tests are named after the transitions of the session's state
//! machine (see `signalwire_fabric::SubscriberSession`'s module docs).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::testing::{self, ConformanceHarness};
use signalwire_fabric::{
    AccessToken, Coordinator, Error, InProcessCoordinator, SessionEnd, SessionKey,
    SubscriberSession, TokenPair,
};
use tokio::sync::Semaphore;
use tokio::time::{Instant, advance};

struct InProcess;

#[async_trait::async_trait]
impl ConformanceHarness for InProcess {
    type Coordinator = InProcessCoordinator;
    async fn coordinator(&self) -> InProcessCoordinator {
        InProcessCoordinator::new()
    }
    async fn expire_lease(&self, coordinator: &InProcessCoordinator, key: &SessionKey) {
        coordinator.expire_lease(key);
    }
    async fn lose_everything(&self, coordinator: &InProcessCoordinator, key: &SessionKey) {
        coordinator.forget(key);
    }
}

#[tokio::test(start_paused = true)]
async fn the_in_process_coordinator_keeps_every_rule_of_the_protocol() {
    testing::coordinator_conformance(&InProcess).await;
}

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
    let report = testing::replay_store_rules(&InProcess, 5).await;
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

/// Lets `by` pass, and every task that wakes in that time run until it waits again.
async fn pass(by: Duration) {
    settle().await;
    advance(by).await;
    settle().await;
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
async fn a_new_pair_is_published_as_generation_one_and_joined_by_siblings() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    assert!(
        SubscriberSession::join(space.clone(), coordinator.clone(), key())
            .await
            .expect("answers")
            .is_none(),
        "nothing to join before anything is published"
    );
    let first = first_session(&space, &coordinator, space.create());
    let token = first.access_token().await.expect("valid");
    settle().await;
    assert_eq!(first.status().generation, 1);
    let stored = coordinator
        .load(&key())
        .await
        .expect("loads")
        .expect("published");
    assert_eq!(stored.generation, 1);
    let second = joined(&space, &coordinator).await;
    assert_eq!(
        text(&second.access_token().await.expect("valid")),
        text(&token)
    );
    assert_eq!(second.status().generation, 1);
    assert_eq!(space.requests(), 0, "publishing and joining send nothing");
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
            "every caller of every session got the same token"
        );
        for session in &sessions {
            assert_eq!(session.status().generation, 1 + rotation as u64);
        }
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

#[tokio::test(start_paused = true)]
async fn refresh_if_current_refreshes_once_however_many_report_the_same_refused_token() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    let first = first_session(&space, &coordinator, space.create());
    let refused = first.access_token().await.expect("valid");
    settle().await;
    let sessions = [
        first.clone(),
        joined(&space, &coordinator).await,
        joined(&space, &coordinator).await,
    ];
    let reports: Vec<_> = sessions
        .iter()
        .flat_map(|session| (0..50).map(move |_| session.clone()))
        .map(|session| {
            let refused = refused.clone();
            tokio::spawn(async move { session.refresh_if_current(&refused).await })
        })
        .collect();
    let mut answers = HashSet::new();
    for report in reports {
        answers.insert(text(&report.await.expect("no panic").expect("a token")));
    }
    assert_eq!(
        space.refreshes(),
        1,
        "150 reports of one refusal: one refresh"
    );
    assert_eq!(space.refused(), 0);
    assert_eq!(answers.len(), 1);
    assert!(!answers.contains(&text(&refused)));

    // A late report of the old token changes nothing.
    let again = sessions[2]
        .refresh_if_current(&refused)
        .await
        .expect("a token");
    assert!(answers.contains(&text(&again)));
    assert_eq!(space.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn refreshing_after_a_taken_over_lease_adopts_the_pair_the_stalled_holder_stores_late() {
    // The first holder's exchange succeeds at the server, but its answer is held back past
    // its lease; a sibling takes the lease over, sends the now spent token, is refused, and
    // then finds the first holder's pair once it is stored.
    let gate = Arc::new(Semaphore::new(0));
    let space = Space::single_use().hold_first_answer(Arc::clone(&gate));
    let coordinator = InProcessCoordinator::new();
    let first = first_session(&space, &coordinator, space.create());
    let old = first.access_token().await.expect("valid");
    settle().await;
    let second = joined(&space, &coordinator).await;

    let stalled = tokio::spawn({
        let first = first.clone();
        let old = old.clone();
        async move { first.refresh_if_current(&old).await }
    });
    pass(Duration::from_secs(1)).await;
    assert_eq!(space.refreshes(), 1, "the server rotated the token");
    coordinator.expire_lease(&key());

    let sibling = tokio::spawn({
        let second = second.clone();
        let old = old.clone();
        async move { second.refresh_if_current(&old).await }
    });
    pass(Duration::from_secs(1)).await;
    assert_eq!(
        space.refused(),
        1,
        "the sibling's refresh was refused as spent"
    );
    assert!(
        !second.status().ended,
        "the sibling waits for the stalled holder's pair"
    );

    gate.add_permits(1);
    let first_token = stalled.await.expect("no panic").expect("refreshed");
    let sibling_token = sibling.await.expect("no panic").expect("adopted");
    assert_eq!(text(&first_token), text(&sibling_token));
    assert_eq!(second.status().generation, 2);
    assert_eq!(space.refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_holder_fenced_off_by_a_newer_generation_adopts_it_instead_of_overwriting() {
    // With refresh tokens the server lets be reused, the stalled holder and its successor
    // both get a pair; the successor stores first, so the stalled holder's commit is
    // refused and it adopts the successor's pair.
    let gate = Arc::new(Semaphore::new(0));
    let space = Space::reusable().hold_first_answer(Arc::clone(&gate));
    let coordinator = InProcessCoordinator::new();
    let first = first_session(&space, &coordinator, space.create());
    let old = first.access_token().await.expect("valid");
    settle().await;
    let second = joined(&space, &coordinator).await;

    let stalled = tokio::spawn({
        let first = first.clone();
        let old = old.clone();
        async move { first.refresh_if_current(&old).await }
    });
    pass(Duration::from_secs(1)).await;
    coordinator.expire_lease(&key());
    let successor = tokio::spawn({
        let second = second.clone();
        let old = old.clone();
        async move { second.refresh_if_current(&old).await }
    });
    pass(Duration::from_secs(1)).await;
    let successor_token = successor.await.expect("no panic").expect("refreshed");
    gate.add_permits(1); // the stalled holder's answer arrives at last
    let stalled_token = stalled.await.expect("no panic").expect("adopted");

    assert_eq!(
        space.refreshes(),
        2,
        "both exchanges succeeded at the server"
    );
    let stored = coordinator
        .load(&key())
        .await
        .expect("loads")
        .expect("stored");
    assert_eq!(
        stored.generation, 2,
        "the late commit did not add a generation"
    );
    assert_eq!(
        stored.pair.access_token().expose_secret(),
        text(&successor_token),
        "the stored pair is the successor's"
    );
    assert_eq!(
        text(&stalled_token),
        text(&successor_token),
        "the stalled holder adopted it"
    );
}

#[tokio::test(start_paused = true)]
async fn refreshing_to_ended_at_once_when_refused_and_no_sibling_is_in_flight() {
    let space = Space::single_use();
    let coordinator = InProcessCoordinator::new();
    // A pair the server does not know.
    let session = first_session(&space, &coordinator, testing::pair("unknown"));
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
    let message = error.to_string();
    assert_eq!(
        message.matches("create a new subscriber token").count(),
        1,
        "what to do is said once: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no waiting for a sibling that never was: {:?}",
        started.elapsed()
    );
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
async fn a_pair_the_coordinator_cannot_store_yet_is_served_and_committed_later() {
    let space = Space::single_use();
    let coordinator = Failing::new(InProcessCoordinator::new());
    let session = SubscriberSession::builder(space.clone(), space.create())
        .coordinator(coordinator.clone(), key())
        .jitter(Duration::ZERO)
        .build();
    let old = session.access_token().await.expect("valid");
    settle().await;
    coordinator.fail_next_commits(3);
    let new = session
        .refresh_if_current(&old)
        .await
        .expect("refreshed and served");
    assert_ne!(text(&new), text(&old));
    assert_eq!(
        coordinator
            .inner()
            .load(&key())
            .await
            .expect("loads")
            .expect("published")
            .generation,
        1,
        "not stored yet"
    );
    for _ in 0..20 {
        advance(Duration::from_secs(5)).await;
    }
    let stored = coordinator
        .inner()
        .load(&key())
        .await
        .expect("loads")
        .expect("stored");
    assert_eq!(
        stored.generation, 2,
        "committed once the coordinator took it"
    );
    assert_eq!(stored.pair.access_token().expose_secret(), text(&new));
    assert_eq!(
        space.refreshes(),
        1,
        "the pair was kept, not refreshed again"
    );
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
