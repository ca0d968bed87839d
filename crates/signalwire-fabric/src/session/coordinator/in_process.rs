//! [`InProcessCoordinator`], and [`Solo`], the coordinator of a session that shares its
//! subscriber with nobody. Both keep their state in [`Record`]s on tokio's clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::record::{self, Asked, Committed, Record};
use super::{
    CommitOutcome, Coordinator, Lease, LeaseOutcome, Released, SessionKey, SharedPair, kept_until,
};
use crate::{Error, StoredTokenPair};

/// One subscriber's record in this process.
type Slot = Record<Arc<str>, StoredTokenPair, Instant>;

/// How often, at most, an [`InProcessCoordinator`] looks through all its subscribers for
/// records it may forget (a pair whose refresh token ran out, marks whose lease ended).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

fn try_lease(slot: &mut Slot, seen: u64, ttl: Duration) -> LeaseOutcome {
    let now = Instant::now();
    let owner: Arc<str> = Arc::from(Lease::random_owner());
    let until = crate::clock::later(now, ttl);
    match slot.try_lease(now, seen, Arc::clone(&owner), until) {
        Asked::Newer(generation, pair) => LeaseOutcome::Newer(SharedPair::new(generation, pair)),
        Asked::Held(until) => LeaseOutcome::Held {
            expires_in: Some(until.saturating_duration_since(now)),
        },
        Asked::Granted { base, taken_over } => {
            LeaseOutcome::Granted(Lease::new(owner, base, taken_over))
        }
    }
}

fn commit(slot: &mut Slot, lease: &Lease, seen: u64, pair: &StoredTokenPair) -> CommitOutcome {
    match slot.commit(&lease.owner, seen, pair.clone(), kept_until(pair)) {
        Committed::Stored(generation) => CommitOutcome::Committed { generation },
        Committed::Superseded(generation, pair) => {
            CommitOutcome::Superseded(SharedPair::new(generation, pair))
        }
    }
}

fn released(answer: record::Released<Instant>) -> Released {
    let now = Instant::now();
    Released::new(
        answer.others_in_flight,
        answer
            .lease_until
            .filter(|until| *until > now)
            .map(|until| until - now),
    )
}

fn load(slot: &Slot) -> Option<SharedPair> {
    slot.load()
        .map(|(generation, pair)| SharedPair::new(generation, pair))
}

/// A [`Coordinator`] in this process's memory: sessions that share one (clones share it)
/// and use the same [`SessionKey`] refresh once per rotation between them. Leases run on
/// tokio's clock. A subscriber's record is forgotten once its pair's refresh token has
/// run out (plus [`KEEP_AFTER_REFRESH_EXPIRY`](super::KEEP_AFTER_REFRESH_EXPIRY)), so
/// users who stop coming do not stay in memory.
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
///
/// Its [`rate_limiter`](Coordinator::rate_limiter) is an
/// [`InProcessRateLimiter`](crate::InProcessRateLimiter) shared by its clones.
#[derive(Clone, Default)]
pub struct InProcessCoordinator {
    subscribers: Arc<Mutex<Subscribers>>,
    limiter: crate::InProcessRateLimiter,
}

#[derive(Default)]
struct Subscribers {
    records: HashMap<SessionKey, Slot>,
    last_sweep: Option<Instant>,
}

impl Subscribers {
    /// Forgets, once a minute at most, every record that may be forgotten.
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= SWEEP_EVERY)
        {
            self.records.retain(|_, record| !record.is_forgettable(now));
            self.last_sweep = Some(now);
        }
    }

    /// `key`'s record to change, made empty first if it may be forgotten.
    fn record(&mut self, key: &SessionKey) -> &mut Slot {
        let now = Instant::now();
        self.sweep(now);
        let record = self.records.entry(key.clone()).or_default();
        if record.is_forgettable(now) {
            *record = Slot::default();
        }
        record
    }

    /// `key`'s stored pair, without making a record for a key that has none.
    fn load(&mut self, key: &SessionKey) -> Option<SharedPair> {
        let now = Instant::now();
        self.sweep(now);
        self.records
            .get(key)
            .filter(|record| !record.is_forgettable(now))
            .and_then(load)
    }
}

impl fmt::Debug for InProcessCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscribers = self.lock().records.len();
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

    fn lock(&self) -> MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many subscribers' records are held (forgotten ones are dropped at most a minute
    /// after they could be, whenever any subscriber is asked about).
    pub fn subscribers(&self) -> usize {
        self.lock().records.len()
    }

    /// Ends `key`'s lease now, as if its time had run out (the in-flight marks stay).
    /// For tests of what a late holder does.
    #[cfg(any(test, feature = "test-util"))]
    pub fn expire_lease(&self, key: &SessionKey) {
        if let Some(record) = self.lock().records.get_mut(key) {
            record.expire_lease();
        }
    }

    /// Forgets everything about `key`, as a store that lost its data would. For tests.
    #[cfg(any(test, feature = "test-util"))]
    pub fn forget(&self, key: &SessionKey) {
        self.lock().records.remove(key);
    }
}

#[async_trait::async_trait]
impl Coordinator for InProcessCoordinator {
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        Ok(self.lock().load(key))
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        Ok(try_lease(self.lock().record(key), seen, ttl))
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        Ok(commit(self.lock().record(key), lease, seen, pair))
    }

    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<Released, Error> {
        Ok(released(self.lock().record(key).release(&lease.owner)))
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        Ok(self
            .lock()
            .record(key)
            .publish(pair.clone(), kept_until(pair)))
    }

    fn rate_limiter(&self) -> Option<Arc<dyn crate::RateLimiter>> {
        Some(Arc::new(self.limiter.clone()))
    }
}

/// The coordinator of a session that shares its subscriber with nobody: one record, no
/// map, no key (it is the default of [`SessionBuilder`](crate::SessionBuilder)).
#[derive(Default)]
pub(crate) struct Solo(Mutex<Slot>);

impl fmt::Debug for Solo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Solo")
    }
}

impl Solo {
    fn record(&self) -> MutexGuard<'_, Slot> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl Coordinator for Solo {
    async fn load(&self, _key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        Ok(load(&self.record()))
    }

    async fn try_lease(
        &self,
        _key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        Ok(try_lease(&mut self.record(), seen, ttl))
    }

    async fn commit(
        &self,
        _key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        Ok(commit(&mut self.record(), lease, seen, pair))
    }

    async fn release(&self, _key: &SessionKey, lease: &Lease) -> Result<Released, Error> {
        Ok(released(self.record().release(&lease.owner)))
    }

    async fn publish(&self, _key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        Ok(self.record().publish(pair.clone(), kept_until(pair)))
    }
}
