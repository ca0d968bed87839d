//! Help for testing code that uses this crate, and code that extends it (feature
//! `test-util`; not for production builds).
//!
//! - Tokens and pairs with the shape SignalWire's have ([`access_token`],
//!   [`refresh_token`], [`pair`]), so a test needs no real token;
//! - [`due_now`]: a pair whose access token is due for a refresh now;
//! - [`CapturedLogs`]: a writer that keeps what a `tracing` subscriber writes, to check
//!   that no secret is logged;
//! - [`RefreshEndpoint`]: SignalWire's refresh endpoint in process, with single-use (or
//!   reusable) refresh tokens, counting what it is sent;
//! - [`FailingCoordinator`]: a [`Coordinator`] whose operations can be made to fail;
//! - [`coordinator_conformance`]: the behaviour every [`Coordinator`] must have, for
//!   implementations outside this crate;
//! - [`replay_store_rules`]: the store rules the protocol model checks, replayed step by
//!   step against a coordinator, answer for answer.
//!
//! ```
//! use signalwire_fabric::testing;
//!
//! let pair = testing::pair("alice-1");
//! assert_eq!(pair.access_token().kind(), Some(signalwire_fabric::TokenKind::Access));
//! assert_ne!(testing::pair("alice-2").refresh_token(), pair.refresh_token());
//! ```

mod protocol;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::time::Instant;

pub use protocol::{ReplayReport, replay_store_rules};

use crate::{
    AccessToken, CommitOutcome, Coordinator, LeaseOutcome, RefreshToken, SessionKey,
    StoredTokenPair, TokenPair,
};

/// A token shaped like SignalWire's, made unique by `seed`: a JWE compact serialisation
/// (five base64url segments, the key segment empty) whose readable protected header is
/// `{"alg":"dir","enc":"A256GCM","typ":<typ>,"ch":"puc.signalwire.com"}`, with a 12-byte
/// IV, 450 bytes of "ciphertext" and a 16-byte tag: about 700 characters, like real ones.
///
/// ```
/// let token = signalwire_fabric::testing::jwe("Refresh", "alice-1");
/// assert_eq!(token.split('.').count(), 5);
/// assert!(token.parse::<signalwire_fabric::RefreshToken>().is_ok());
/// ```
pub fn jwe(typ: &str, seed: &str) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let sized =
        |prefix: &str, len: usize| -> Vec<u8> { prefix.bytes().cycle().take(len).collect() };
    let header =
        format!(r#"{{"alg":"dir","enc":"A256GCM","typ":"{typ}","ch":"puc.signalwire.com"}}"#);
    format!(
        "{}..{}.{}.{}",
        b64(header.as_bytes()),
        b64(&sized(&format!("iv-{seed}-"), 12)),
        b64(&sized(&format!("ciphertext-of-{seed}-"), 450)),
        b64(&sized(&format!("tag-{seed}-"), 16)),
    )
}

/// An access token (`typ` "SAT") made unique by `seed`.
pub fn access_token(seed: &str) -> AccessToken {
    AccessToken::parse(jwe("SAT", seed)).unwrap_or_else(|_| unreachable!("well-formed"))
}

/// A refresh token (`typ` "Refresh") made unique by `seed`.
pub fn refresh_token(seed: &str) -> RefreshToken {
    RefreshToken::parse(jwe("Refresh", seed)).unwrap_or_else(|_| unreachable!("well-formed"))
}

/// A pair made unique by `seed`, issued now (on tokio's clock) with the documented
/// lifetimes.
pub fn pair(seed: &str) -> TokenPair {
    TokenPair::issued_at(access_token(seed), refresh_token(seed), Instant::now())
}

/// `pair` with its access token expiring now, so a session refreshes it at once; the
/// refresh token keeps its expiry.
pub fn due_now(pair: &TokenPair) -> TokenPair {
    TokenPair::new(
        pair.access_token().clone(),
        pair.refresh_token().clone(),
        Instant::now(),
        pair.refresh_expires_at(),
    )
}

/// Keeps everything written to it; clones share what was written. Give it to a `tracing`
/// subscriber (`.with_writer(move || logs.clone())`), or let
/// [`CapturedLogs::for_this_thread`] do it, and search [`CapturedLogs::text`].
///
/// ```
/// let (logs, _guard) = signalwire_fabric::testing::CapturedLogs::for_this_thread();
/// tracing::info!(attempt = 1, "subscriber token refresh started");
/// assert!(logs.text().contains("refresh started attempt=1"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Captures every event at every level on this thread (and the tasks a current-thread
    /// runtime runs on it) until the guard is dropped.
    pub fn for_this_thread() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What [`coordinator_conformance`] needs besides the coordinator: ways to make time pass
/// and data disappear that no well-behaved caller has.
#[async_trait::async_trait]
pub trait ConformanceHarness: Send + Sync {
    /// The coordinator under test.
    type Coordinator: Coordinator + Clone;

    /// A coordinator that holds nothing yet for the keys the suite uses (each call's keys
    /// are fresh; the suite makes its own unique keys).
    async fn coordinator(&self) -> Self::Coordinator;

    /// Ends `key`'s lease now, as if its time had run out, leaving the in-flight mark.
    async fn expire_lease(&self, coordinator: &Self::Coordinator, key: &SessionKey);

    /// Loses everything stored for `key`, as a store restarted without its data would.
    async fn lose_everything(&self, coordinator: &Self::Coordinator, key: &SessionKey);
}

/// The rules of the [`Coordinator`] protocol, checked one by one against `harness`'s
/// coordinator. Panics naming the rule broken.
///
/// ```
/// use signalwire_fabric::testing::{ConformanceHarness, coordinator_conformance};
/// use signalwire_fabric::{InProcessCoordinator, SessionKey};
///
/// struct InProcess;
///
/// #[async_trait::async_trait]
/// impl ConformanceHarness for InProcess {
///     type Coordinator = InProcessCoordinator;
///     async fn coordinator(&self) -> InProcessCoordinator {
///         InProcessCoordinator::new()
///     }
///     async fn expire_lease(&self, coordinator: &InProcessCoordinator, key: &SessionKey) {
///         coordinator.expire_lease(key);
///     }
///     async fn lose_everything(&self, coordinator: &InProcessCoordinator, key: &SessionKey) {
///         coordinator.forget(key);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// coordinator_conformance(&InProcess).await;
/// # }
/// ```
pub async fn coordinator_conformance<H: ConformanceHarness>(harness: &H) {
    let run = fastrand::u64(..);
    let mut keys = 0u32;
    let mut key = || {
        keys += 1;
        SessionKey::new(format!("conformance-{run:016x}-{keys}")).unwrap_or_else(|error| {
            panic!("a conformance key is valid: {error}");
        })
    };
    let ttl = Duration::from_secs(30);
    let stored = |seed: &str| pair(seed).to_stored();
    let same = |a: &StoredTokenPair, b: &StoredTokenPair| a.refresh_token() == b.refresh_token();

    // Nothing stored: nothing to load, and the first ask gets a lease on generation 0.
    let c = harness.coordinator().await;
    let k = key();
    assert!(
        c.load(&k).await.expect("load").is_none(),
        "rule: a key never written holds no pair"
    );
    let lease = match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("rule: the first ask for a lease is granted; got {other:?}"),
    };
    assert_eq!(
        lease.base(),
        0,
        "rule: a lease is based on the stored generation"
    );
    assert!(
        !lease.taken_over(),
        "rule: a first lease takes nothing over"
    );
    match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
        LeaseOutcome::Held { .. } => {}
        other => panic!("rule: a live lease is not granted twice; got {other:?}"),
    }

    // A commit stores generation 1 and lets the lease go.
    let first = stored("conformance-1");
    match c.commit(&k, &lease, 0, &first).await.expect("commit") {
        CommitOutcome::Committed { generation: 1 } => {}
        other => panic!("rule: the first commit stores generation 1; got {other:?}"),
    }
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

    // Someone who has not seen generation 1 is told to adopt it, without a lease.
    match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
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

    // Fencing: a holder whose lease ran out cannot overwrite what a successor stored.
    let late = match c.try_lease(&k, 1, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("rule: a commit lets the lease go; got {other:?}"),
    };
    harness.expire_lease(&c, &k).await;
    let successor = match c.try_lease(&k, 1, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("rule: an expired lease can be granted again; got {other:?}"),
    };
    assert!(
        successor.taken_over(),
        "rule: a lease granted while a predecessor is in flight says it was taken over"
    );
    assert_eq!(successor.base(), 1);
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

    // Every holder that may still commit is known to each later one, however many took
    // the lease over in between (issue 19).
    let k = key();
    c.publish(&k, &stored("conformance-m1"))
        .await
        .expect("publish");
    let granted = |outcome: LeaseOutcome, rule: &str| match outcome {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("rule: {rule}; got {other:?}"),
    };
    let stalled = granted(
        c.try_lease(&k, 1, ttl).await.expect("try_lease"),
        "a free lease is granted",
    );
    harness.expire_lease(&c, &k).await;
    let first = granted(
        c.try_lease(&k, 1, ttl).await.expect("try_lease"),
        "an expired lease is granted again",
    );
    assert!(first.taken_over());
    let released = c.release(&k, &first).await.expect("release");
    assert!(
        released.others_in_flight,
        "rule: a release tells of another holder still in flight"
    );
    assert_eq!(released.lease_left, None, "rule: no lease is live after it");
    let second = granted(
        c.try_lease(&k, 1, ttl).await.expect("try_lease"),
        "a released lease is granted at once",
    );
    assert!(
        second.taken_over(),
        "rule: a release leaves every other holder's in-flight mark"
    );
    let live = match c.try_lease(&k, 1, ttl).await.expect("try_lease") {
        LeaseOutcome::Held { .. } => c.release(&k, &stalled).await.expect("release"),
        other => panic!("rule: a live lease is not granted twice; got {other:?}"),
    };
    assert!(
        live.others_in_flight && live.lease_left.is_some(),
        "rule: a release tells of a live lease another holder has: {live:?}"
    );
    c.release(&k, &second).await.expect("release");
    let late = granted(
        c.try_lease(&k, 1, ttl).await.expect("try_lease"),
        "a released lease is granted at once",
    );
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
    let next = granted(
        c.try_lease(&k, 2, ttl).await.expect("try_lease"),
        "a commit lets the lease go",
    );
    assert!(
        !next.taken_over(),
        "rule: a new generation drops the marks of the holders it fences off"
    );
    let released = c.release(&k, &next).await.expect("release");
    assert!(!released.others_in_flight, "rule: nobody else is in flight");

    // A holder whose lease ran out, with nobody after it, still stores its pair.
    let k = key();
    let holder = match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("{other:?}"),
    };
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
    match c.try_lease(&k, 1, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => assert!(
            !lease.taken_over(),
            "rule: a commit clears the committer's in-flight mark"
        ),
        other => panic!("{other:?}"),
    }

    // Release lets the next ask in at once, with nothing taken over.
    let k = key();
    let released = match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("{other:?}"),
    };
    c.release(&k, &released).await.expect("release");
    match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => {
            assert!(
                !lease.taken_over(),
                "rule: release clears the in-flight mark"
            );
            // Releasing a lease that is not (or no longer) yours changes nothing.
            c.release(&k, &released).await.expect("release");
            match c.try_lease(&k, 0, ttl).await.expect("try_lease") {
                LeaseOutcome::Held { .. } => {}
                other => {
                    panic!("rule: release only lets go of the caller's own lease; got {other:?}")
                }
            }
        }
        other => panic!("rule: a released lease can be granted at once; got {other:?}"),
    }

    // Publish starts a new chain as the next generation, whatever a holder is doing.
    let k = key();
    assert_eq!(
        c.publish(&k, &stored("conformance-p1"))
            .await
            .expect("publish"),
        1,
        "rule: publishing to an empty key stores generation 1"
    );
    let holder = match c.try_lease(&k, 1, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("{other:?}"),
    };
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

    // A store that lost its data is behind its sessions: generations still only grow.
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
    let after = match c.try_lease(&k, 3, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("rule: a store behind the caller grants a lease; got {other:?}"),
    };
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

    // Keys are independent.
    let (a, b) = (key(), key());
    c.publish(&a, &stored("conformance-a"))
        .await
        .expect("publish");
    assert!(
        c.load(&b).await.expect("load").is_none(),
        "rule: one key's pair is not another's"
    );
    match c.try_lease(&b, 0, ttl).await.expect("try_lease") {
        LeaseOutcome::Granted(_) => {}
        other => panic!("rule: one key's state does not hold another's lease; got {other:?}"),
    }

    // Many asking at once: exactly one lease.
    let k = key();
    let asks = (0..32).map(|_| {
        let c = c.clone();
        let k = k.clone();
        async move { c.try_lease(&k, 0, ttl).await }
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

/// Stands in for SignalWire's refresh endpoint, in process: every refresh token it issued
/// works once (or, for a [`RefreshEndpoint::reusable`] one, again and again), each
/// exchange takes [`RefreshEndpoint::latency`] on tokio's clock, and every request is
/// counted. Clones share the tokens and the counts. Use it as the
/// [`Refresher`](crate::Refresher) of sessions under test.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// use signalwire_fabric::{Refresher, testing::RefreshEndpoint};
///
/// let endpoint = RefreshEndpoint::single_use();
/// let first = endpoint.create();
/// let second = endpoint.refresh(first.refresh_token()).await?;
/// assert!(endpoint.refresh(first.refresh_token()).await.is_err(), "spent");
/// assert_eq!((endpoint.refreshes(), endpoint.refused()), (1, 1));
/// # drop(second);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RefreshEndpoint {
    shared: Arc<Endpoint>,
    reusable: bool,
    latency: Duration,
    first_answer_gate: Option<Arc<tokio::sync::Semaphore>>,
}

#[derive(Debug)]
struct Endpoint {
    live: Mutex<std::collections::HashSet<String>>,
    issued: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicUsize,
    requests: std::sync::atomic::AtomicUsize,
    /// Makes this endpoint's tokens differ from every other endpoint's.
    seed: String,
}

impl RefreshEndpoint {
    fn with(reusable: bool) -> Self {
        Self {
            shared: Arc::new(Endpoint {
                live: Mutex::new(std::collections::HashSet::new()),
                issued: Default::default(),
                refused: Default::default(),
                requests: Default::default(),
                seed: format!("{:016x}", fastrand::u64(..)),
            }),
            reusable,
            latency: Duration::from_millis(100),
            first_answer_gate: None,
        }
    }

    /// Refresh tokens that work once, as SignalWire's are assumed to.
    pub fn single_use() -> Self {
        Self::with(false)
    }

    /// Refresh tokens that can be exchanged again (a server with a grace window): two
    /// sessions that both refresh the same token both get a pair.
    pub fn reusable() -> Self {
        Self::with(true)
    }

    /// How long each exchange takes (on tokio's clock); 100 ms by default.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Holds the answer to the first request back, after the exchange is done at the
    /// "server", until `gate` has a permit: a stalled holder, for tests of what its
    /// siblings do meanwhile.
    pub fn hold_first_answer(mut self, gate: Arc<tokio::sync::Semaphore>) -> Self {
        self.first_answer_gate = Some(gate);
        self
    }

    /// A first pair, as creating a subscriber token would give.
    pub fn create(&self) -> TokenPair {
        self.issue("created")
    }

    fn issue(&self, name: &str) -> TokenPair {
        let pair = pair(&format!("{}-{name}", self.shared.seed));
        self.shared
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pair.refresh_token().expose_secret().to_owned());
        pair
    }

    /// Refreshes that succeeded (rotations).
    pub fn refreshes(&self) -> usize {
        self.shared.issued.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Refresh requests refused as spent or unknown.
    pub fn refused(&self) -> usize {
        self.shared
            .refused
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every refresh request received.
    pub fn requests(&self) -> usize {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl crate::Refresher for RefreshEndpoint {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, crate::Error> {
        use std::sync::atomic::Ordering;

        let request = self.shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.latency).await;
        let text = refresh_token.expose_secret();
        let accepted = {
            let mut live = self.shared.live.lock().unwrap_or_else(|p| p.into_inner());
            if self.reusable {
                live.contains(text)
            } else {
                live.remove(text)
            }
        };
        if !accepted {
            self.shared.refused.fetch_add(1, Ordering::SeqCst);
            return Err(crate::Error::rejected([crate::FieldError::new(
                crate::ErrorCode::TokenInvalid,
                "Token is invalid.",
            )
            .with_attribute("refresh_token")]));
        }
        let number = self.shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let pair = self.issue(&format!("rotation-{number}"));
        if let Some(gate) = self.first_answer_gate.as_ref().filter(|_| request == 1)
            && let Ok(permit) = gate.acquire().await
        {
            permit.forget();
        }
        Ok(pair)
    }
}

/// A [`Coordinator`] wrapper whose operations can be made to fail: all of them while it is
/// [down](FailingCoordinator::set_down), or the next few commits. Clones share the
/// switches.
#[derive(Debug, Clone)]
pub struct FailingCoordinator<C> {
    inner: C,
    down: Arc<std::sync::atomic::AtomicBool>,
    failing_commits: Arc<std::sync::atomic::AtomicU32>,
}

impl<C: Coordinator> FailingCoordinator<C> {
    /// `inner`, working until told otherwise.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            down: Default::default(),
            failing_commits: Default::default(),
        }
    }

    /// The wrapped coordinator, to look behind the failures.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Every operation fails with [`Error::Coordinator`](crate::Error::Coordinator) while
    /// `down` is true.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next `count` commits fail before reaching the inner coordinator.
    pub fn fail_next_commits(&self, count: u32) {
        self.failing_commits
            .store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many of those commits are still to fail.
    pub fn commits_left_to_fail(&self) -> u32 {
        self.failing_commits
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), crate::Error> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::Error::coordinator(
                "the test's coordinator is unreachable",
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl<C: Coordinator> Coordinator for FailingCoordinator<C> {
    async fn load(&self, key: &SessionKey) -> Result<Option<crate::SharedPair>, crate::Error> {
        self.check()?;
        self.inner.load(key).await
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, crate::Error> {
        self.check()?;
        self.inner.try_lease(key, seen, ttl).await
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &crate::Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, crate::Error> {
        use std::sync::atomic::Ordering;

        self.check()?;
        let failing = self.failing_commits.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_commits.store(failing - 1, Ordering::SeqCst);
            return Err(crate::Error::coordinator(
                "the test's coordinator refuses a commit",
            ));
        }
        self.inner.commit(key, lease, seen, pair).await
    }

    async fn release(
        &self,
        key: &SessionKey,
        lease: &crate::Lease,
    ) -> Result<crate::Released, crate::Error> {
        self.check()?;
        self.inner.release(key, lease).await
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, crate::Error> {
        self.check()?;
        self.inner.publish(key, pair).await
    }
}
