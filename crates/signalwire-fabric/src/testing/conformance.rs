//! The rules of the [`Coordinator`] protocol, one function per rule: each asks a
//! [`ConformanceHarness`] for a coordinator of its own, uses keys of its own, and panics
//! naming the rule broken.
//!
//! [`conformance_tests!`](crate::testing::conformance_tests) makes one named `#[test]` of
//! every rule for a harness, so a failure names the rule and the coordinator;
//! [`coordinator_conformance`] runs them all in turn.
//!
//! ```
//! use signalwire_fabric::testing::{InProcessHarness, conformance};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! conformance::a_live_lease_is_not_granted_twice(&InProcessHarness::default()).await;
//! # }
//! ```

use std::time::Duration;

use super::{ConformanceHarness, pair};
use crate::{CommitOutcome, Coordinator, Lease, LeaseOutcome, SessionKey, StoredTokenPair};

/// Every rule, in the order [`coordinator_conformance`] runs them, handed to the macro
/// `$then` after its own arguments. The one list of the rules.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_rules {
    ($then:ident!($($arguments:tt)*)) => {
        $crate::$then!($($arguments)* ;
            a_key_never_written_holds_no_pair,
            the_first_ask_is_granted_a_lease_on_the_stored_generation,
            a_live_lease_is_not_granted_twice,
            a_commit_stores_the_first_generation_and_load_gives_it,
            a_stale_ask_is_answered_with_the_newer_pair,
            an_expired_lease_is_granted_again_and_says_it_took_over,
            a_late_commit_on_an_old_generation_is_refused_and_writes_nothing,
            a_release_tells_of_other_holders_in_flight_and_leaves_their_marks,
            a_new_generation_drops_the_marks_of_the_holders_it_fences_off,
            an_expired_holder_with_nobody_after_it_still_commits,
            a_released_lease_is_granted_at_once_with_nothing_taken_over,
            a_release_only_lets_go_of_the_callers_own_lease,
            publish_starts_a_new_chain_as_the_next_generation,
            a_store_that_lost_its_data_still_only_moves_generations_forward,
            keys_are_independent,
            of_many_simultaneous_asks_exactly_one_is_granted,
        );
    };
}

/// One named test of every rule of the [`Coordinator`] protocol (see
/// [`conformance`](crate::testing::conformance)) for one coordinator, in a module of their
/// own: `conformance_tests!(#[test attribute] module, make)`, where `make` is a function
/// or closure that takes the test's name and answers `Option<impl ConformanceHarness>`;
/// `None` (after saying why, as [`skip_or_fail`](crate::testing::skip_or_fail) does) makes
/// the test pass without running. The module sees everything its parent does.
///
/// ```
/// use signalwire_fabric::testing::{InProcessHarness, conformance_tests};
///
/// conformance_tests!(
///     #[tokio::test(start_paused = true)]
///     in_process,
///     |_test: &str| Some(InProcessHarness::default())
/// );
/// # fn main() {}
/// ```
///
/// makes `in_process::a_live_lease_is_not_granted_twice` and every other rule a test.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    (#[$attribute:meta] $module:ident, $make:expr $(,)?) => {
        $crate::__conformance_rules!(__suite_tests!(
            conformance [#[$attribute]] $module, $make
        ));
    };
}

/// The tests of one suite (`conformance` or `scenarios`) for one harness: one per name.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests {
    (
        $suite:ident [#[$attribute:meta]] $module:ident, $make:expr ;
        $($test:ident),* $(,)?
    ) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[$attribute]
                async fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    let Some(harness) = ($make)(name) else {
                        return;
                    };
                    $crate::testing::$suite::$test(&harness).await;
                }
            )*
        }
    };
}

/// Runs every rule in a row, awaiting each, against `$harness`.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_in_turn {
    ($suite:ident $harness:ident ; $($test:ident),* $(,)?) => {
        $(
            $crate::testing::$suite::$test($harness).await;
        )*
    };
}

/// The rules of the [`Coordinator`] protocol, checked one by one against `harness`'s
/// coordinators: every function of [`conformance`](crate::testing::conformance), in turn.
/// Panics naming the rule broken. [`conformance_tests!`](crate::testing::conformance_tests)
/// makes each a test of its own instead.
///
/// ```
/// use signalwire_fabric::testing::{InProcessHarness, coordinator_conformance};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// coordinator_conformance(&InProcessHarness::default()).await;
/// # }
/// ```
pub async fn coordinator_conformance<H: ConformanceHarness>(harness: &H) {
    crate::__conformance_rules!(__suite_in_turn!(conformance harness));
}

/// How long every lease the rules ask for lasts.
const TTL: Duration = Duration::from_secs(30);

/// A key no other rule, run or test uses.
fn key() -> SessionKey {
    SessionKey::new(format!("conformance-{:016x}", fastrand::u64(..)))
        .unwrap_or_else(|error| panic!("a conformance key is valid: {error}"))
}

fn stored(seed: &str) -> StoredTokenPair {
    pair(seed).to_stored()
}

fn same(a: &StoredTokenPair, b: &StoredTokenPair) -> bool {
    a.refresh_token() == b.refresh_token()
}

/// The lease of a `Granted` answer; panics with `rule` otherwise.
#[track_caller]
fn granted(outcome: LeaseOutcome, rule: &str) -> Lease {
    match outcome {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("rule: {rule}; got {other:?}"),
    }
}

async fn ask<C: Coordinator>(c: &C, k: &SessionKey, seen: u64) -> LeaseOutcome {
    c.try_lease(k, seen, TTL).await.expect("try_lease")
}

/// A coordinator and a new key holding generation 1, committed under the first lease;
/// and that pair.
async fn committed_once<H: ConformanceHarness>(
    harness: &H,
) -> (H::Coordinator, SessionKey, StoredTokenPair) {
    let c = harness.coordinator().await;
    let k = key();
    let lease = granted(ask(&c, &k, 0).await, "the first ask for a lease is granted");
    let first = stored("conformance-1");
    match c.commit(&k, &lease, 0, &first).await.expect("commit") {
        CommitOutcome::Committed { generation: 1 } => {}
        other => panic!("rule: the first commit stores generation 1; got {other:?}"),
    }
    (c, k, first)
}

/// A key holding generation 1 whose lease (`late`) ran out and was granted again
/// (`successor`).
async fn taken_over<H: ConformanceHarness>(
    harness: &H,
) -> (H::Coordinator, SessionKey, Lease, Lease) {
    let (c, k, _) = committed_once(harness).await;
    let late = granted(ask(&c, &k, 1).await, "a commit lets the lease go");
    harness.expire_lease(&c, &k).await;
    let successor = granted(
        ask(&c, &k, 1).await,
        "an expired lease can be granted again",
    );
    assert!(
        successor.taken_over(),
        "rule: a lease granted while a predecessor is in flight says it was taken over"
    );
    assert_eq!(successor.base(), 1);
    (c, k, late, successor)
}

/// A key holding generation 1, where a holder stalled (its lease expired), a second took
/// the lease over and released it, and a third holds the lease; the stalled holder has
/// released since. Answers the coordinator, the key and the third holder's lease.
async fn stalled_holder_released<H: ConformanceHarness>(
    harness: &H,
) -> (H::Coordinator, SessionKey, Lease) {
    let c = harness.coordinator().await;
    let k = key();
    c.publish(&k, &stored("conformance-m1"))
        .await
        .expect("publish");
    let stalled = granted(ask(&c, &k, 1).await, "a free lease is granted");
    harness.expire_lease(&c, &k).await;
    let first = granted(ask(&c, &k, 1).await, "an expired lease is granted again");
    assert!(first.taken_over());
    let released = c.release(&k, &first).await.expect("release");
    assert!(
        released.others_in_flight,
        "rule: a release tells of another holder still in flight"
    );
    assert_eq!(released.lease_left, None, "rule: no lease is live after it");
    let second = granted(ask(&c, &k, 1).await, "a released lease is granted at once");
    assert!(
        second.taken_over(),
        "rule: a release leaves every other holder's in-flight mark"
    );
    let live = match ask(&c, &k, 1).await {
        LeaseOutcome::Held { .. } => c.release(&k, &stalled).await.expect("release"),
        other => panic!("rule: a live lease is not granted twice; got {other:?}"),
    };
    assert!(
        live.others_in_flight && live.lease_left.is_some(),
        "rule: a release tells of a live lease another holder has: {live:?}"
    );
    (c, k, second)
}

/// Nothing is stored for a key never written.
pub async fn a_key_never_written_holds_no_pair<H: ConformanceHarness>(harness: &H) {
    let c = harness.coordinator().await;
    assert!(
        c.load(&key()).await.expect("load").is_none(),
        "rule: a key never written holds no pair"
    );
}

/// The first ask for a key is granted a lease based on generation 0, taking nothing over.
pub async fn the_first_ask_is_granted_a_lease_on_the_stored_generation<H: ConformanceHarness>(
    harness: &H,
) {
    let c = harness.coordinator().await;
    let lease = granted(
        ask(&c, &key(), 0).await,
        "the first ask for a lease is granted",
    );
    assert_eq!(
        lease.base(),
        0,
        "rule: a lease is based on the stored generation"
    );
    assert!(
        !lease.taken_over(),
        "rule: a first lease takes nothing over"
    );
}

/// While a lease is live, asking again is answered `Held`.
pub async fn a_live_lease_is_not_granted_twice<H: ConformanceHarness>(harness: &H) {
    let c = harness.coordinator().await;
    let k = key();
    granted(ask(&c, &k, 0).await, "the first ask for a lease is granted");
    match ask(&c, &k, 0).await {
        LeaseOutcome::Held { .. } => {}
        other => panic!("rule: a live lease is not granted twice; got {other:?}"),
    }
}

/// The first commit stores generation 1, and load gives that generation and pair.
pub async fn a_commit_stores_the_first_generation_and_load_gives_it<H: ConformanceHarness>(
    harness: &H,
) {
    let (c, k, first) = committed_once(harness).await;
    let loaded = c
        .load(&k)
        .await
        .expect("load")
        .expect("rule: a commit is loadable");
    assert_eq!(
        loaded.generation, 1,
        "rule: load gives the committed generation"
    );
    assert!(
        same(&loaded.pair, &first),
        "rule: load gives the committed pair"
    );
}

/// Someone who has not seen the stored generation is told to adopt it, without a lease.
pub async fn a_stale_ask_is_answered_with_the_newer_pair<H: ConformanceHarness>(harness: &H) {
    let (c, k, first) = committed_once(harness).await;
    match ask(&c, &k, 0).await {
        LeaseOutcome::Newer(newer) => {
            assert_eq!(
                newer.generation, 1,
                "rule: Newer carries the stored generation"
            );
            assert!(
                same(&newer.pair, &first),
                "rule: Newer carries the stored pair"
            );
        }
        other => panic!("rule: a stale ask is answered with the newer pair; got {other:?}"),
    }
}

/// A commit lets the lease go; a lease whose time ran out is granted again, and the new
/// one says it took over from a holder that may still be in flight.
pub async fn an_expired_lease_is_granted_again_and_says_it_took_over<H: ConformanceHarness>(
    harness: &H,
) {
    taken_over(harness).await;
}

/// Fencing: a holder whose lease ran out cannot overwrite what a successor stored.
pub async fn a_late_commit_on_an_old_generation_is_refused_and_writes_nothing<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let (c, k, late, successor) = taken_over(harness).await;
    let second = stored("conformance-2");
    match c.commit(&k, &successor, 1, &second).await.expect("commit") {
        CommitOutcome::Committed { generation: 2 } => {}
        other => panic!("rule: the successor's commit stores generation 2; got {other:?}"),
    }
    match c
        .commit(&k, &late, 1, &stored("conformance-late"))
        .await
        .expect("commit")
    {
        CommitOutcome::Superseded(newer) => {
            assert_eq!(
                newer.generation, 2,
                "rule: Superseded carries the newer generation"
            );
            assert!(
                same(&newer.pair, &second),
                "rule: Superseded carries the newer pair"
            );
        }
        other => panic!("rule: a late commit on an old generation is refused; got {other:?}"),
    }
    let loaded = c.load(&k).await.expect("load").expect("stored");
    assert!(
        loaded.generation == 2 && same(&loaded.pair, &second),
        "rule: a refused late commit writes nothing"
    );
}

/// Every holder that may still commit is known to each later one, however many took the
/// lease over in between (issue 19): a release says whether another holder is in flight
/// and how long a live lease lasts, and leaves the other holders' marks.
pub async fn a_release_tells_of_other_holders_in_flight_and_leaves_their_marks<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    stalled_holder_released(harness).await;
}

/// Once every other holder released, a commit lands on the generation it saw, and the
/// marks of the holders that generation fences off are gone.
pub async fn a_new_generation_drops_the_marks_of_the_holders_it_fences_off<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let (c, k, second) = stalled_holder_released(harness).await;
    c.release(&k, &second).await.expect("release");
    let late = granted(ask(&c, &k, 1).await, "a released lease is granted at once");
    match c
        .commit(&k, &late, 1, &stored("conformance-m2"))
        .await
        .expect("commit")
    {
        CommitOutcome::Committed { generation: 2 } => {}
        other => panic!(
            "rule: a commit lands while nothing above its generation is stored; got {other:?}"
        ),
    }
    let next = granted(ask(&c, &k, 2).await, "a commit lets the lease go");
    assert!(
        !next.taken_over(),
        "rule: a new generation drops the marks of the holders it fences off"
    );
    let released = c.release(&k, &next).await.expect("release");
    assert!(!released.others_in_flight, "rule: nobody else is in flight");
}

/// The fence is the generation: a holder whose lease ran out, with nobody after it, still
/// stores its pair, and its commit clears its in-flight mark.
pub async fn an_expired_holder_with_nobody_after_it_still_commits<H: ConformanceHarness>(
    harness: &H,
) {
    let c = harness.coordinator().await;
    let k = key();
    let holder = granted(ask(&c, &k, 0).await, "the first ask for a lease is granted");
    harness.expire_lease(&c, &k).await;
    match c
        .commit(&k, &holder, 0, &stored("conformance-slow"))
        .await
        .expect("commit")
    {
        CommitOutcome::Committed { generation: 1 } => {}
        other => panic!(
            "rule: the fence is the generation: an expired holder whose generation is still \
             stored commits; got {other:?}"
        ),
    }
    let next = granted(ask(&c, &k, 1).await, "a commit lets the lease go");
    assert!(
        !next.taken_over(),
        "rule: a commit clears the committer's in-flight mark"
    );
}

/// A coordinator, a key, a lease that was granted and released, and the lease the next ask
/// was granted at once.
async fn released_and_granted_again<H: ConformanceHarness>(
    harness: &H,
) -> (H::Coordinator, SessionKey, Lease) {
    let c = harness.coordinator().await;
    let k = key();
    let released = granted(ask(&c, &k, 0).await, "the first ask for a lease is granted");
    c.release(&k, &released).await.expect("release");
    let lease = granted(
        ask(&c, &k, 0).await,
        "a released lease can be granted at once",
    );
    assert!(
        !lease.taken_over(),
        "rule: release clears the in-flight mark"
    );
    (c, k, released)
}

/// A release lets the next ask in at once, with nothing taken over.
pub async fn a_released_lease_is_granted_at_once_with_nothing_taken_over<H: ConformanceHarness>(
    harness: &H,
) {
    released_and_granted_again(harness).await;
}

/// Releasing a lease that is not (or no longer) the caller's changes nothing.
pub async fn a_release_only_lets_go_of_the_callers_own_lease<H: ConformanceHarness>(harness: &H) {
    let (c, k, released) = released_and_granted_again(harness).await;
    c.release(&k, &released).await.expect("release");
    match ask(&c, &k, 0).await {
        LeaseOutcome::Held { .. } => {}
        other => panic!("rule: release only lets go of the caller's own lease; got {other:?}"),
    }
}

/// Publish starts a new chain as the next generation, whatever a holder is doing.
pub async fn publish_starts_a_new_chain_as_the_next_generation<H: ConformanceHarness>(harness: &H) {
    let c = harness.coordinator().await;
    let k = key();
    assert_eq!(
        c.publish(&k, &stored("conformance-p1"))
            .await
            .expect("publish"),
        1,
        "rule: publishing to an empty key stores generation 1"
    );
    let holder = granted(ask(&c, &k, 1).await, "a free lease is granted");
    assert_eq!(
        c.publish(&k, &stored("conformance-p2"))
            .await
            .expect("publish"),
        2,
        "rule: publish stores the next generation"
    );
    match c
        .commit(&k, &holder, 1, &stored("conformance-p3"))
        .await
        .expect("commit")
    {
        CommitOutcome::Superseded(newer) => assert_eq!(newer.generation, 2),
        other => panic!("rule: a commit after a publish is superseded; got {other:?}"),
    }
}

/// A store that lost its data is behind its sessions: it grants a lease to a caller that
/// saw more, and a commit stores `max(stored, seen) + 1`, so generations never go back.
pub async fn a_store_that_lost_its_data_still_only_moves_generations_forward<
    H: ConformanceHarness,
>(
    harness: &H,
) {
    let c = harness.coordinator().await;
    let k = key();
    for generation in 1..=3 {
        assert_eq!(
            c.publish(&k, &stored(&format!("conformance-r{generation}")))
                .await
                .expect("publish"),
            generation
        );
    }
    harness.lose_everything(&c, &k).await;
    assert!(
        c.load(&k).await.expect("load").is_none(),
        "the harness lost the data"
    );
    let after = granted(
        ask(&c, &k, 3).await,
        "a store behind the caller grants a lease",
    );
    match c
        .commit(&k, &after, 3, &stored("conformance-r4"))
        .await
        .expect("commit")
    {
        CommitOutcome::Committed { generation: 4 } => {}
        other => panic!(
            "rule: a commit stores max(stored, seen) + 1, so generations never go back; got {other:?}"
        ),
    }
}

/// One key's pair and lease are nothing to another key.
pub async fn keys_are_independent<H: ConformanceHarness>(harness: &H) {
    let c = harness.coordinator().await;
    let (a, b) = (key(), key());
    c.publish(&a, &stored("conformance-a"))
        .await
        .expect("publish");
    assert!(
        c.load(&b).await.expect("load").is_none(),
        "rule: one key's pair is not another's"
    );
    granted(
        ask(&c, &b, 0).await,
        "one key's state does not hold another's lease",
    );
}

/// Of 32 asks for one key at once, exactly one is granted.
pub async fn of_many_simultaneous_asks_exactly_one_is_granted<H: ConformanceHarness>(harness: &H) {
    let c = harness.coordinator().await;
    let k = key();
    let asks = (0..32).map(|_| {
        let c = c.clone();
        let k = k.clone();
        async move { c.try_lease(&k, 0, TTL).await }
    });
    let granted = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .filter(|outcome| matches!(outcome, Ok(LeaseOutcome::Granted(_))))
        .count();
    assert_eq!(
        granted, 1,
        "rule: of many simultaneous asks, exactly one is granted"
    );
}
