//! The numbers sessions record (`signalwire_fabric::metrics`), counted by a recorder of
//! the test's own set for its thread: on tokio's paused clock, single-threaded, so every
//! session worker runs on that thread and records there.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use signalwire_fabric::metrics as names;
use signalwire_fabric::testing::{self, FailingCoordinator, RefreshEndpoint};
use signalwire_fabric::{InProcessCoordinator, SessionKey, SubscriberSession, TokenPair};
use tokio::sync::Semaphore;
use tokio::time::advance;

/// Counts every counter and keeps every histogram value, by name and labels as
/// `name{label="value",...}`; counts every registration too (one per recording).
#[derive(Default)]
struct Counting {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Values>>>,
    registrations: AtomicU64,
}

#[derive(Default)]
struct Values(Mutex<Vec<f64>>);

impl HistogramFn for Values {
    fn record(&self, value: f64) {
        self.0.lock().expect("not poisoned").push(value);
    }
}

fn render(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}=\"{}\"", label.key(), label.value()))
        .collect();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl Recorder for Counting {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        let counter = Arc::clone(
            self.counters
                .lock()
                .expect("not poisoned")
                .entry(render(key))
                .or_default(),
        );
        Counter::from_arc(counter)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        let values = Arc::clone(
            self.histograms
                .lock()
                .expect("not poisoned")
                .entry(render(key))
                .or_default(),
        );
        Histogram::from_arc(values)
    }
}

impl Counting {
    fn values(&self, name: &str) -> Vec<f64> {
        self.histograms
            .lock()
            .expect("not poisoned")
            .get(name)
            .map_or_else(Vec::new, |values| {
                values.0.lock().expect("not poisoned").clone()
            })
    }

    /// Every counter that is not zero, for failure messages and exact comparisons.
    fn counted(&self) -> BTreeMap<String, u64> {
        self.counters
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(name, counter)| (name.clone(), counter.load(Ordering::SeqCst)))
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

fn key() -> SessionKey {
    SessionKey::new("metrics-user").expect("a key")
}

fn session(
    endpoint: &RefreshEndpoint,
    coordinator: impl signalwire_fabric::Coordinator,
    pair: TokenPair,
) -> SubscriberSession {
    SubscriberSession::builder(endpoint.clone(), pair)
        .coordinator(coordinator, key())
        .jitter(Duration::ZERO)
        .build()
}

/// Lets spawned tasks (the sessions' workers) run until they wait on something.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

fn map(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
    entries
        .iter()
        .map(|(name, count)| ((*name).to_owned(), *count))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_rotation_shared_by_two_sessions_counts_one_refresh_one_wait_and_one_adoption() {
    let recorder = Counting::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    let endpoint = RefreshEndpoint::single_use().latency(Duration::from_millis(100));
    let coordinator = InProcessCoordinator::new();
    let first = session(&endpoint, coordinator.clone(), endpoint.create());
    first.access_token().await.expect("valid");
    settle().await;
    let second = SubscriberSession::join(endpoint.clone(), coordinator.clone(), key())
        .await
        .expect("answers")
        .expect("shared")
        .jitter(Duration::ZERO)
        .build();
    // Nothing is due yet: the first use published the pair and recorded nothing.
    assert_eq!(recorder.counted(), BTreeMap::new());

    // Both come due at once: one refreshes, the other waits for its lease and adopts.
    let due = first.status().refresh_in;
    advance(due + Duration::from_secs(3)).await;
    let (a, b) = tokio::join!(first.access_token(), second.access_token());
    let (a, b) = (a.expect("refreshed"), b.expect("adopted"));
    assert!(a.expose_secret() == b.expose_secret(), "one new token");
    assert_eq!(endpoint.refreshes(), 1);
    assert_eq!(
        recorder.counted(),
        map(&[
            (
                "signalwire_fabric_session_adoptions_total{stage=\"before_refresh\"}",
                1
            ),
            ("signalwire_fabric_session_lease_waits_total", 1),
            (
                "signalwire_fabric_session_refreshes_total{outcome=\"stored\"}",
                1
            ),
        ])
    );
    let exchange = recorder.values("signalwire_fabric_refresh_duration_seconds{result=\"ok\"}");
    assert_eq!(exchange, [0.1], "the exchange took the endpoint's 100 ms");
    let waits = recorder.values(names::SESSION_LEASE_WAIT_SECONDS);
    assert_eq!(waits.len(), 1);
    assert!(
        waits[0] >= 0.1 && waits[0] < 0.5,
        "waited for the 100 ms exchange: {waits:?}"
    );
    // The first was due 3 s before anyone asked, and had its new pair 3.1 s after; the
    // second joined the stored pair, whose expiry is kept in whole seconds, so it came
    // due up to a second earlier.
    let delays = recorder.values(names::SESSION_REFRESH_DELAY_SECONDS);
    assert_eq!(delays.len(), 2, "{delays:?}");
    assert!(
        delays.iter().all(|delay| (3.1..4.2).contains(delay)),
        "{delays:?}"
    );

    // The cached read records nothing at all: not one registration.
    let before = recorder.registrations.load(Ordering::SeqCst);
    for _ in 0..1_000 {
        first.access_token().await.expect("cached");
        second.access_token().await.expect("cached");
    }
    settle().await;
    assert_eq!(recorder.registrations.load(Ordering::SeqCst), before);
}

#[tokio::test(start_paused = true)]
async fn a_refused_refresh_token_counts_a_refused_refresh_and_an_ended_session() {
    let recorder = Counting::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    let endpoint = RefreshEndpoint::single_use();
    // A pair the endpoint never issued: refused.
    let lone = session(
        &endpoint,
        InProcessCoordinator::new(),
        testing::pair("unknown"),
    );
    let token = lone.access_token().await.expect("valid");
    lone.refresh_if_current(&token)
        .await
        .expect_err("refused, the session ends");
    assert_eq!(
        recorder.counted(),
        map(&[
            (
                "signalwire_fabric_session_ends_total{reason=\"refused\"}",
                1
            ),
            (
                "signalwire_fabric_session_refreshes_total{outcome=\"refused\"}",
                1
            ),
        ])
    );
    assert_eq!(
        recorder
            .values("signalwire_fabric_refresh_duration_seconds{result=\"error\"}")
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn coordinator_failures_are_counted_by_operation() {
    let recorder = Counting::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    let endpoint = RefreshEndpoint::single_use();
    let coordinator = FailingCoordinator::new(InProcessCoordinator::new());
    let lone = session(&endpoint, coordinator.clone(), endpoint.create());
    lone.access_token().await.expect("valid");
    settle().await;
    coordinator.set_down(true);
    let token = lone.access_token().await.expect("still valid");
    // Down: the report cannot get a lease, twice (one retry), and nothing is sent.
    for _ in 0..2 {
        lone.refresh_if_current(&token)
            .await
            .expect_err("no lease, no refresh");
        advance(Duration::from_secs(1)).await;
    }
    assert_eq!(endpoint.requests(), 0);
    let counted = recorder.counted();
    let lease_failures =
        counted["signalwire_fabric_coordinator_errors_total{operation=\"try_lease\"}"];
    assert!(lease_failures >= 2, "{counted:?}");
    assert_eq!(counted.len(), 1, "nothing else: {counted:?}");
}

#[tokio::test(start_paused = true)]
async fn a_lease_taken_over_from_a_stalled_sibling_is_counted() {
    let recorder = Counting::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    // The first holder's answer is held back past its lease; a sibling takes it over.
    let gate = Arc::new(Semaphore::new(0));
    let endpoint = RefreshEndpoint::single_use().hold_first_answer(Arc::clone(&gate));
    let coordinator = InProcessCoordinator::new();
    let first = session(&endpoint, coordinator.clone(), endpoint.create());
    let old = first.access_token().await.expect("valid");
    settle().await;
    let second = SubscriberSession::join(endpoint.clone(), coordinator.clone(), key())
        .await
        .expect("answers")
        .expect("shared")
        .jitter(Duration::ZERO)
        .build();
    let stalled = tokio::spawn({
        let (first, old) = (first.clone(), old.clone());
        async move { first.refresh_if_current(&old).await }
    });
    settle().await;
    advance(Duration::from_secs(1)).await;
    settle().await;
    coordinator.expire_lease(&key());
    let sibling = tokio::spawn({
        let (second, old) = (second.clone(), old.clone());
        async move { second.refresh_if_current(&old).await }
    });
    settle().await;
    advance(Duration::from_secs(1)).await;
    settle().await;
    gate.add_permits(1);
    stalled.await.expect("no panic").expect("refreshed");
    sibling.await.expect("no panic").expect("adopted");
    let counted = recorder.counted();
    assert_eq!(
        counted.get("signalwire_fabric_session_lease_takeovers_total"),
        Some(&1),
        "{counted:?}"
    );
    assert_eq!(
        counted.get("signalwire_fabric_session_adoptions_total{stage=\"after_refusal\"}"),
        Some(&1),
        "the sibling's refresh was refused as spent, then it found the pair: {counted:?}"
    );
    assert_eq!(endpoint.refreshes(), 1);
}

#[tokio::test(start_paused = true)]
async fn sessions_starting_at_once_count_a_lease_wait_for_each_that_waited_for_the_creator() {
    for starters in 1..=3 {
        let recorder = Counting::default();
        let _local = metrics::set_default_local_recorder(&recorder);
        let endpoint = RefreshEndpoint::single_use();
        let coordinator = InProcessCoordinator::new();
        let created = Arc::new(AtomicU64::new(0));
        // Every starter asks at once; the one granted the lease takes 100 ms to create.
        let tasks: Vec<_> = (0..starters)
            .map(|_| {
                let (endpoint, coordinator) = (endpoint.clone(), coordinator.clone());
                let created = Arc::clone(&created);
                tokio::spawn(async move {
                    let creator = endpoint.clone();
                    SubscriberSession::join_or_create(
                        endpoint,
                        coordinator,
                        key(),
                        0,
                        || async move {
                            created.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Ok(creator.create())
                        },
                    )
                    .await
                    .map(|builder| builder.build())
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("no panic").expect("started");
        }
        assert_eq!(created.load(Ordering::SeqCst), 1, "{starters} starters");
        let waited = starters as u64 - 1;
        let expected = match waited {
            0 => map(&[]),
            _ => map(&[("signalwire_fabric_session_lease_waits_total", waited)]),
        };
        assert_eq!(recorder.counted(), expected, "{starters} starters");
        let waits = recorder.values(names::SESSION_LEASE_WAIT_SECONDS);
        assert_eq!(waits.len() as u64, waited, "{waits:?}");
        assert!(
            waits.iter().all(|wait| (0.1..0.5).contains(wait)),
            "each waited for the 100 ms creation: {waits:?}"
        );
    }
}

#[test]
fn every_name_follows_prometheus_conventions() {
    for name in names::ALL {
        assert!(name.starts_with("signalwire_fabric_"), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "snake_case: {name}"
        );
        assert!(
            name.ends_with("_total") || name.ends_with("_seconds"),
            "a counter ends in _total, a histogram in its unit: {name}"
        );
    }
}
