//! Sessions for one subscriber that agree on who refreshes: the [`Coordinator`] seam and
//! its in-process implementation.
//!
//! See [`Coordinator`] for the protocol.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, StoredTokenPair};

/// The name sessions for one subscriber meet under in a [`Coordinator`]: the app's own
/// id for the subscriber, or the subscriber's reference. 1 to 256 bytes, no control
/// characters. It is not a secret, but a shared coordinator may show it to whoever can
/// read the store: prefer an opaque id to an email address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(Arc<str>);

impl SessionKey {
    /// The longest key accepted, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Checks a key.
    pub fn new(key: impl AsRef<str>) -> Result<Self, Error> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(Error::invalid("session key", "is empty"));
        }
        if key.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                "session key",
                format!(
                    "is {} bytes long; at most {} are allowed",
                    key.len(),
                    Self::MAX_LEN
                ),
            ));
        }
        if key.chars().any(char::is_control) {
            return Err(Error::invalid(
                "session key",
                "contains a control character",
            ));
        }
        Ok(Self(Arc::from(key)))
    }

    /// A key the crate itself chose.
    pub(crate) fn internal(key: &'static str) -> Self {
        Self(Arc::from(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({:?})", &*self.0)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SessionKey {
    type Err = Error;

    fn from_str(key: &str) -> Result<Self, Error> {
        Self::new(key)
    }
}

/// The pair a coordinator holds for a subscriber, and its generation (1 for the first
/// pair stored, one more for every pair after it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SharedPair {
    /// The generation, never 0.
    pub generation: u64,
    /// The pair.
    pub pair: StoredTokenPair,
}

impl SharedPair {
    /// A shared pair (for [`Coordinator`] implementations).
    pub fn new(generation: u64, pair: StoredTokenPair) -> Self {
        Self { generation, pair }
    }
}

/// The right to refresh one subscriber's pair, granted by [`Coordinator::try_lease`].
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    owner: Arc<str>,
    base: u64,
    taken_over: bool,
}

impl Lease {
    /// A lease (for [`Coordinator`] implementations): `owner` is a value no other lease
    /// has (random, at least 16 bytes of entropy), `base` the generation the store held
    /// when it was granted, `taken_over` whether a previous holder's in-flight mark was
    /// still there.
    pub fn new(owner: impl Into<Arc<str>>, base: u64, taken_over: bool) -> Self {
        Self {
            owner: owner.into(),
            base,
            taken_over,
        }
    }

    /// A random owner value for a new lease: 128 bits as hexadecimal.
    pub fn random_owner() -> String {
        format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
    }

    /// The value that identifies this lease's holder.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The generation the store held when the lease was granted; [`Coordinator::commit`]
    /// stores only while the store still holds it.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// True when a previous holder was granted a lease and neither stored nor released
    /// before it ran out: it may still store a pair it got, so a refusal of this holder's
    /// refresh token can mean that pair is on its way.
    pub fn taken_over(&self) -> bool {
        self.taken_over
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("base", &self.base)
            .field("taken_over", &self.taken_over)
            .finish_non_exhaustive()
    }
}

/// What [`Coordinator::try_lease`] answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LeaseOutcome {
    /// The caller holds the lease: refresh, then [`Coordinator::commit`] or
    /// [`Coordinator::release`].
    Granted(Lease),
    /// The store holds a newer generation than the caller has seen: adopt it.
    Newer(SharedPair),
    /// Another session holds the lease; ask again later.
    Held {
        /// How long the lease has left, when the coordinator knows.
        expires_in: Option<Duration>,
    },
}

/// What [`Coordinator::commit`] answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CommitOutcome {
    /// The pair is stored as this generation.
    Committed {
        /// The new generation.
        generation: u64,
    },
    /// The store moved on since the lease was granted: nothing was written; this is the
    /// newer pair to adopt.
    Superseded(SharedPair),
}

/// Where sessions for the same subscriber agree who refreshes.
///
/// Refresh tokens are single-use. When several sessions hold the same subscriber's pair
/// (several tasks' sessions in one process, or one session in each of several app
/// instances), they must agree that exactly one of them exchanges the refresh token, and
/// every other one must adopt the pair it got. A coordinator is where they meet. It holds,
/// per subscriber ([`SessionKey`]):
///
/// - the **shared pair**, with a **generation** number that only grows: every stored pair
///   has a higher generation than the one it replaced;
/// - a **lease**: held by at most one session at a time, for a bounded time, granted only
///   to a session that has seen the newest generation;
/// - an **in-flight mark**: who was granted the last lease and has neither stored nor
///   released since. It outlives the lease, so the next holder learns that a predecessor
///   may still store a pair it got after its lease ran out.
///
/// # The protocol
///
/// A session whose pair is due calls [`Coordinator::try_lease`] with the generation it
/// holds. Either the store holds a newer generation (the session adopts it, no request is
/// sent), or another session holds the lease (it waits and asks again), or it gets the
/// lease. The holder exchanges its refresh token, then calls [`Coordinator::commit`]: the
/// new pair is stored as a new generation **only if the store still holds the generation
/// the lease was granted on** (the fence). The check and the write are one step in the
/// coordinator, never a read followed by a write, so a holder whose lease ran out (stalled,
/// paused, partitioned) cannot overwrite a newer pair: it is told
/// [`CommitOutcome::Superseded`] and adopts the newer pair instead. A holder whose refresh
/// failed calls [`Coordinator::release`].
///
/// The fence is the generation, not the lease: a holder whose lease ran out but whose
/// exchange succeeded still stores its pair when nobody stored one meanwhile, because its
/// pair is then the only live one.
///
/// # Implementing one
///
/// [`InProcessCoordinator`] keeps all of this in memory, for sessions in one process.
/// `signalwire-fabric-redis` keeps it in Redis, for sessions in many. Another store can
/// implement the trait; the behaviour it must have is checked by
/// `signalwire_fabric::testing::coordinator_conformance` (feature `test-util`).
///
/// Failures are [`Error::Coordinator`] (retryable): a session that cannot reach its
/// coordinator keeps serving a still-valid token and never refreshes without the lease.
#[async_trait::async_trait]
pub trait Coordinator: Send + Sync + fmt::Debug + 'static {
    /// The shared pair for `key`, if one is stored.
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error>;

    /// Asks for the lease on `key`'s pair, for `ttl`, by a session that holds generation
    /// `seen` (0 for none). Answers [`LeaseOutcome::Newer`] when the store holds a
    /// generation above `seen`, [`LeaseOutcome::Held`] while another lease is live, and
    /// otherwise grants a lease based on the store's generation and marks it in flight.
    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error>;

    /// Stores `pair`, which the holder of `lease` got by refreshing generation `seen`, as
    /// generation `max(stored, seen) + 1`, but only while the store still holds
    /// `lease.base()` (or holds nothing at all, as after losing its data: the pair is
    /// then the only live one); otherwise answers [`CommitOutcome::Superseded`] with the
    /// stored pair and writes nothing. Either way, releases the lease and the in-flight
    /// mark if they are still this lease's.
    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error>;

    /// Gives the lease and the in-flight mark up, if they are still this lease's.
    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<(), Error>;

    /// Stores a pair that starts a new chain (a freshly created subscriber token) as the
    /// next generation, whatever the store holds. Returns the generation.
    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error>;
}

/// A shared coordinator is a coordinator, so one `Arc<dyn Coordinator>` can serve many
/// sessions.
#[async_trait::async_trait]
impl<C: Coordinator + ?Sized> Coordinator for Arc<C> {
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        (**self).load(key).await
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        (**self).try_lease(key, seen, ttl).await
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        (**self).commit(key, lease, seen, pair).await
    }

    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<(), Error> {
        (**self).release(key, lease).await
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        (**self).publish(key, pair).await
    }
}

/// A [`Coordinator`] in this process's memory: sessions that share one (clones share it)
/// and use the same [`SessionKey`] refresh once per rotation between them. Leases run on
/// tokio's clock.
///
/// ```
/// # async fn run(client: signalwire_fabric::Client, pair: signalwire_fabric::TokenPair) -> Result<(), signalwire_fabric::Error> {
/// use signalwire_fabric::{InProcessCoordinator, SubscriberSession};
///
/// let coordinator = InProcessCoordinator::new();
/// let first = client
///     .session(pair)
///     .coordinator(coordinator.clone(), "user-42".parse()?)
///     .build();
/// first.access_token().await?; // its first use publishes the pair to the coordinator
///
/// // Elsewhere in the process: a second session for the same subscriber.
/// if let Some(joined) = SubscriberSession::join(client.clone(), coordinator, "user-42".parse()?).await? {
///     let second = joined.build();
///     # drop(second);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct InProcessCoordinator {
    slots: Arc<Mutex<HashMap<SessionKey, Slot>>>,
}

#[derive(Default)]
struct Slot {
    shared: Option<SharedPair>,
    lease: Option<(Arc<str>, Instant)>,
    in_flight: Option<Arc<str>>,
}

impl Slot {
    fn generation(&self) -> u64 {
        self.shared.as_ref().map_or(0, |shared| shared.generation)
    }

    /// See [`Coordinator::try_lease`].
    fn try_lease(&mut self, seen: u64, ttl: Duration) -> LeaseOutcome {
        let now = Instant::now();
        if let Some(newer) = self
            .shared
            .as_ref()
            .filter(|shared| shared.generation > seen)
        {
            return LeaseOutcome::Newer(newer.clone());
        }
        if let Some((_, until)) = self.lease.as_ref().filter(|(_, until)| now < *until) {
            return LeaseOutcome::Held {
                expires_in: Some(until.saturating_duration_since(now)),
            };
        }
        let owner: Arc<str> = Arc::from(Lease::random_owner());
        let taken_over = self.in_flight.is_some();
        self.lease = Some((Arc::clone(&owner), crate::clock::later(now, ttl)));
        self.in_flight = Some(Arc::clone(&owner));
        LeaseOutcome::Granted(Lease {
            owner,
            base: self.generation(),
            taken_over,
        })
    }

    /// See [`Coordinator::commit`].
    fn commit(&mut self, lease: &Lease, seen: u64, pair: &StoredTokenPair) -> CommitOutcome {
        self.let_go(&lease.owner);
        let stored = self.generation();
        // A store that lost everything since the lease holds nothing to supersede with:
        // the pair is then stored rather than lost.
        if let Some(shared) = self.shared.as_ref().filter(|_| stored != lease.base) {
            return CommitOutcome::Superseded(shared.clone());
        }
        let generation = seen.max(stored) + 1;
        self.shared = Some(SharedPair::new(generation, pair.clone()));
        CommitOutcome::Committed { generation }
    }

    /// See [`Coordinator::publish`].
    fn publish(&mut self, pair: &StoredTokenPair) -> u64 {
        let generation = self.generation() + 1;
        self.shared = Some(SharedPair::new(generation, pair.clone()));
        generation
    }

    /// Drops the lease and the in-flight mark when they are `owner`'s.
    fn let_go(&mut self, owner: &str) {
        if self
            .lease
            .as_ref()
            .is_some_and(|(held, _)| &**held == owner)
        {
            self.lease = None;
        }
        if self.in_flight.as_deref() == Some(owner) {
            self.in_flight = None;
        }
    }
}

impl fmt::Debug for InProcessCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscribers = self.lock().len();
        f.debug_struct("InProcessCoordinator")
            .field("subscribers", &subscribers)
            .finish()
    }
}

impl InProcessCoordinator {
    /// An empty coordinator.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends `key`'s lease now, as if its time had run out (the in-flight mark stays).
    /// For tests of what a late holder does.
    #[cfg(any(test, feature = "test-util"))]
    pub fn expire_lease(&self, key: &SessionKey) {
        if let Some(slot) = self.lock().get_mut(key) {
            slot.lease = None;
        }
    }

    /// Forgets everything about `key`, as a store that lost its data would. For tests.
    #[cfg(any(test, feature = "test-util"))]
    pub fn forget(&self, key: &SessionKey) {
        self.lock().remove(key);
    }
}

#[async_trait::async_trait]
impl Coordinator for InProcessCoordinator {
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        Ok(self.lock().get(key).and_then(|slot| slot.shared.clone()))
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        Ok(self
            .lock()
            .entry(key.clone())
            .or_default()
            .try_lease(seen, ttl))
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        Ok(self
            .lock()
            .entry(key.clone())
            .or_default()
            .commit(lease, seen, pair))
    }

    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<(), Error> {
        if let Some(slot) = self.lock().get_mut(key) {
            slot.let_go(&lease.owner);
        }
        Ok(())
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        Ok(self.lock().entry(key.clone()).or_default().publish(pair))
    }
}

/// The coordinator of a session that shares its subscriber with nobody: one slot, no map,
/// no key (it is the default of [`SessionBuilder`](crate::SessionBuilder)).
#[derive(Default)]
pub(crate) struct Solo(Mutex<Slot>);

impl fmt::Debug for Solo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Solo")
    }
}

impl Solo {
    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl Coordinator for Solo {
    async fn load(&self, _key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        Ok(self.slot().shared.clone())
    }

    async fn try_lease(
        &self,
        _key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        Ok(self.slot().try_lease(seen, ttl))
    }

    async fn commit(
        &self,
        _key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        Ok(self.slot().commit(lease, seen, pair))
    }

    async fn release(&self, _key: &SessionKey, lease: &Lease) -> Result<(), Error> {
        self.slot().let_go(&lease.owner);
        Ok(())
    }

    async fn publish(&self, _key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        Ok(self.slot().publish(pair))
    }
}
