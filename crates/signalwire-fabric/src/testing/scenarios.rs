//! Sessions that share a subscriber must behave the same whatever coordinator they share
//! it through: the scenarios here, one function each, run against a
//! [`ConformanceHarness`] (each session with a coordinator of its own from it, as app
//! instances would have). The facade runs them against [`InProcessCoordinator`] on tokio's
//! paused clock, `signalwire-fabric-redis` against Redis on one node, on a primary with a
//! replica and on a cluster, on real time: every wait is a bounded poll on tokio's clock,
//! and rotations are driven by `refresh_if_current` with the token the sessions hold, so no
//! scenario needs the clock moved.
//!
//! [`scenario_tests!`](crate::testing::scenario_tests) makes one named test of each for a
//! harness.
//!
//! ```
//! use signalwire_fabric::testing::{InProcessHarness, scenarios};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let harness = InProcessHarness::default();
//! scenarios::a_sibling_adopts_the_stored_pair_without_any_request(&harness).await;
//! # }
//! ```
//!
//! [`InProcessCoordinator`]: crate::InProcessCoordinator

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{
    ConformanceHarness, FailingCoordinator, RefreshEndpoint, assert_ended_by_refusal,
    assert_rotated_once, first_session, joined_session, pair, wait_until,
};
use crate::{AccessToken, Coordinator, Error, SessionKey, SubscriberSession, TokenPair};

/// Every scenario, handed to the macro `$then` after its own arguments. The one list of
/// the scenarios.
#[doc(hidden)]
#[macro_export]
macro_rules! __scenarios {
    ($then:ident!($($arguments:tt)*)) => {
        $crate::$then!($($arguments)* ;
            a_new_pair_is_published_as_generation_one_and_joined_by_siblings,
            exactly_one_refresh_per_rotation_among_sessions_and_callers,
            a_sibling_adopts_the_stored_pair_without_any_request,
            a_refusal_as_spent_is_followed_by_adopting_the_late_holders_pair,
            a_late_commit_is_fenced_off_and_the_late_holder_adopts,
            a_commit_that_failed_is_retried_and_the_pair_served_meanwhile,
            a_refusal_with_nobody_in_flight_ends_the_session_at_once,
        );
    };
}

/// One named test of every session scenario (see
/// [`scenarios`](crate::testing::scenarios)) for one coordinator, in a module of their
/// own: `scenario_tests!(#[test attribute] module, make)`, where `make` is a function or
/// closure that takes the test's name and answers `Option<impl ConformanceHarness>`
/// (`None`, after saying why, makes the test pass without running), as for
/// [`conformance_tests!`](crate::testing::conformance_tests).
///
/// ```
/// use signalwire_fabric::testing::{InProcessHarness, scenario_tests};
///
/// scenario_tests!(
///     #[tokio::test(start_paused = true)]
///     in_process,
///     |_test: &str| Some(InProcessHarness::default())
/// );
/// # fn main() {}
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __scenario_tests {
    (#[$attribute:meta] $module:ident, $make:expr $(,)?) => {
        $crate::__scenarios!(__suite_tests!(
            scenarios [#[$attribute]] $module, $make
        ));
    };
}

/// How long the scenarios' leases last.
const LEASE: Duration = Duration::from_secs(2);

/// How long any scenario waits for something to happen.
const WITHIN: Duration = Duration::from_secs(10);

/// SignalWire's refresh endpoint in process, with single-use refresh tokens and a short
/// latency (the scenarios run on real time against Redis).
fn space() -> RefreshEndpoint {
    RefreshEndpoint::single_use().latency(Duration::from_millis(20))
}

/// A key no other scenario or run uses.
fn key(name: &str) -> SessionKey {
    SessionKey::new(format!("{name}-{:08x}", fastrand::u32(..))).expect("a valid key")
}

fn text(token: &AccessToken) -> String {
    token.expose_secret().to_owned()
}

/// A session for `pair` that publishes it under `key`, as generation 1.
async fn first<H: ConformanceHarness>(
    harness: &H,
    space: &RefreshEndpoint,
    key: &SessionKey,
    pair: TokenPair,
) -> SubscriberSession {
    let session = first_session(space, harness.coordinator().await, key, pair, LEASE).await;
    assert_eq!(
        session.status().generation,
        1,
        "a new pair is published as generation 1"
    );
    session
}

/// A session (with a coordinator of its own) that joins the pair stored under `key`.
async fn joined<H: ConformanceHarness>(
    harness: &H,
    space: &RefreshEndpoint,
    key: &SessionKey,
) -> SubscriberSession {
    joined_session(space, harness.coordinator().await, key, LEASE).await
}

async fn until(what: &str, done: impl FnMut() -> bool) {
    wait_until(what, WITHIN, done).await;
}

/// What the harness's store holds for `key`.
async fn stored<H: ConformanceHarness>(harness: &H, key: &SessionKey) -> crate::SharedPair {
    harness
        .coordinator()
        .await
        .load(key)
        .await
        .expect("loads")
        .expect("stored")
}

fn refresh_later(
    session: &SubscriberSession,
    refused: &AccessToken,
) -> tokio::task::JoinHandle<Result<AccessToken, Error>> {
    let session = session.clone();
    let refused = refused.clone();
    tokio::spawn(async move { session.refresh_if_current(&refused).await })
}

/// Nothing can be joined before a pair is published; the first session publishes its pair
/// as generation 1, and a sibling that joins is served the same token; neither sends
/// anything.
pub async fn a_new_pair_is_published_as_generation_one_and_joined_by_siblings<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let space = space();
    let key = key("published");
    assert!(
        SubscriberSession::join(space.clone(), harness.coordinator().await, key.clone())
            .await
            .expect("answers")
            .is_none(),
        "nothing to join before anything is published"
    );
    let first = first(harness, &space, &key, space.create()).await;
    let token = first.access_token().await.expect("valid");
    let stored = stored(harness, &key).await;
    assert_eq!(stored.generation, 1);
    let second = joined(harness, &space, &key).await;
    assert_eq!(
        text(&second.access_token().await.expect("valid")),
        text(&token)
    );
    assert_eq!(second.status().generation, 1);
    assert_eq!(space.requests(), 0, "publishing and joining send nothing");
}

/// Five sessions, 50 callers each, all report the token they hold refused at once: one
/// refresh per rotation, three rotations, every caller gets the same new token, and a late
/// report of the old token changes nothing.
pub async fn exactly_one_refresh_per_rotation_among_sessions_and_callers<H: ConformanceHarness>(
    harness: &H,
) {
    let space = space();
    let key = key("rotation");
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
        let served = assert_rotated_once(&space, &sessions, rotation, callers).await;
        assert_ne!(served, text(&refused), "the refused token is no answer");

        // A late report of the old token changes nothing.
        let again = sessions[sessions.len() - 1]
            .refresh_if_current(&refused)
            .await
            .expect("a token");
        assert_eq!(text(&again), served);
        assert_eq!(space.requests(), rotation, "the late report sent nothing");
    }
}

/// A session refreshes; its sibling, reporting the same old token, adopts the stored pair
/// without sending anything.
pub async fn a_sibling_adopts_the_stored_pair_without_any_request<H: ConformanceHarness>(
    harness: &H,
) {
    let space = space();
    let key = key("adopt");
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
    let stored = stored(harness, &key).await;
    assert_eq!(stored.generation, 2);
    assert_eq!(stored.pair.access_token().expose_secret(), text(&rotated));
}

/// The first holder's exchange succeeds at the server, but its answer is held back past
/// its lease; a sibling takes the lease over, sends the now spent token, is refused, and
/// adopts the first holder's pair once it is stored.
pub async fn a_refusal_as_spent_is_followed_by_adopting_the_late_holders_pair<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let gate = Arc::new(Semaphore::new(0));
    let space = space().hold_first_answer(Arc::clone(&gate));
    let key = key("refused");
    let first = first(harness, &space, &key, space.create()).await;
    let second = joined(harness, &space, &key).await;
    let old = first.access_token().await.expect("valid");

    let stalled = refresh_later(&first, &old);
    until("the server rotated the token", || space.refreshes() == 1).await;
    let coordinator = harness.coordinator().await;
    harness.expire_lease(&coordinator, &key).await;
    let sibling = refresh_later(&second, &old);
    until("the sibling's refresh was refused as spent", || {
        space.refused() == 1
    })
    .await;
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

/// With refresh tokens the server lets be reused, a stalled holder and its successor both
/// get a pair; the successor stores first, so the stalled holder's commit is refused and
/// it adopts the successor's pair instead of overwriting it.
pub async fn a_late_commit_is_fenced_off_and_the_late_holder_adopts<H: ConformanceHarness>(
    harness: &H,
) {
    let gate = Arc::new(Semaphore::new(0));
    let space = RefreshEndpoint::reusable()
        .latency(Duration::from_millis(20))
        .hold_first_answer(Arc::clone(&gate));
    let key = key("fenced");
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
    gate.add_permits(1); // the stalled holder's answer arrives at last
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
    assert_eq!(
        stored.pair.access_token().expose_secret(),
        text(&successor),
        "the stored pair is the successor's"
    );
    assert_eq!(text(&late), text(&successor), "the late holder adopted it");
    assert_eq!(first.status().generation, 2);
}

/// The coordinator refuses the first three commits of a refreshed pair: the session
/// serves the new pair meanwhile, stores nothing while commits fail, retries, and
/// commits it once the coordinator takes it, without refreshing again.
pub async fn a_commit_that_failed_is_retried_and_the_pair_served_meanwhile<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let space = space();
    let key = key("retried");
    let coordinator = FailingCoordinator::new(harness.coordinator().await);
    let session = first_session(&space, coordinator.clone(), &key, space.create(), LEASE).await;
    let old = session.access_token().await.expect("valid");
    coordinator.fail_next_commits(3);
    let new = session
        .refresh_if_current(&old)
        .await
        .expect("refreshed and served");
    assert_ne!(text(&new), text(&old));
    // A commit lands only once none is left to fail, and that count only goes down: if
    // some are left after this load, none had landed before it. (On a paused clock the
    // retries wait for the clock, so some are left unless a retry's delay was drawn as
    // zero.)
    let meanwhile = coordinator
        .inner()
        .load(&key)
        .await
        .expect("loads")
        .expect("published");
    if coordinator.commits_left_to_fail() > 0 {
        assert_eq!(meanwhile.generation, 1, "not stored yet");
    }
    let reader = harness.coordinator().await;
    let mut stored = None;
    let started = Instant::now();
    while started.elapsed() < WITHIN {
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

/// A pair the server does not know is refused; with no sibling in flight the session
/// ends at once, saying once what to do.
pub async fn a_refusal_with_nobody_in_flight_ends_the_session_at_once<H: ConformanceHarness>(
    harness: &H,
) {
    let space = space();
    let key = key("unknown");
    let session = first(harness, &space, &key, pair("never-issued")).await;
    let token = session.access_token().await.expect("valid");
    let started = Instant::now();
    let error = session
        .refresh_if_current(&token)
        .await
        .expect_err("refused");
    assert_ended_by_refusal(&error);
    let message = error.to_string();
    assert_eq!(
        message.matches("create a new subscriber token").count(),
        1,
        "what to do is said once: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1).min(LEASE),
        "no waiting for a sibling that never was: {:?}",
        started.elapsed()
    );
}
