//! [`SessionBuilder`]: a session's settings and their defaults, and where a session's
//! first pair comes from (a pair in hand, or a [`TokenStore`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::coordinator::{self, Coordinator, SessionKey};
use super::schedule::{DEFAULT_REFRESH_SCHEDULE, RefreshSchedule, Schedule};
use super::state::{Shared, State};
use super::{MemoryStore, Refresher, RetryPolicy, SubscriberSession, TokenStore};
use crate::{Client, Error, TokenPair};

/// How long a session holds its coordinator's lease while it refreshes, by default:
/// longer than one exchange may take (the client's timeout is 30 s by default), so a slow
/// answer does not let a sibling send the same refresh token.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(45);

/// The least time before its access token expires at which a session refreshes a pair,
/// by default; see [`SessionBuilder::refresh_ahead`].
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// The jitter of the schedule sessions had by default before
/// [`DEFAULT_REFRESH_SCHEDULE`]: `RefreshSchedule::fixed_lead(DEFAULT_JITTER)` refreshes
/// each pair the refresh-ahead margin plus up to a minute (drawn once per session) before
/// it expires.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(60);

/// Configures a [`SubscriberSession`]; see [`Client::session`].
pub struct SessionBuilder {
    pub(super) refresher: Arc<dyn Refresher>,
    pub(super) pair: TokenPair,
    pub(super) generation: u64,
    pub(super) store: Arc<dyn TokenStore>,
    pub(super) saved: bool,
    pub(super) coordinator: Option<(Arc<dyn Coordinator>, SessionKey)>,
    pub(super) refresh_ahead: Duration,
    pub(super) schedule: RefreshSchedule,
    pub(super) retry: RetryPolicy,
    pub(super) lease: Duration,
}

impl fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("pair", &self.pair)
            .field("generation", &self.generation)
            .field("coordinator", &self.coordinator)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("schedule", &self.schedule)
            .field("retry", &self.retry)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl SessionBuilder {
    /// Refresh at least this long before the access token expires (default
    /// [`DEFAULT_REFRESH_AHEAD`]): the floor under the [`RefreshSchedule`]'s point. With
    /// the default window schedule, at most half the pair's lifetime counts, so a
    /// short-lived token is not refreshed continuously; with a fixed lead
    /// ([`SessionBuilder::jitter`]), at most half of what is left when the session gets
    /// the pair.
    pub fn refresh_ahead(mut self, margin: Duration) -> Self {
        self.refresh_ahead = margin;
        self
    }

    /// When each pair is refreshed (default [`DEFAULT_REFRESH_SCHEDULE`]: a point between
    /// 75 % and 90 % of its lifetime, drawn anew for every pair and agreed on by every
    /// session sharing it). The last of this and [`SessionBuilder::jitter`] counts.
    ///
    /// ```
    /// # async fn run(client: signalwire_fabric::Client, pair: signalwire_fabric::TokenPair) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::RefreshSchedule;
    ///
    /// let session = client
    ///     .session(pair)
    ///     .refresh_schedule(RefreshSchedule::window(0.70, 0.90)?)
    ///     .build();
    /// # drop(session);
    /// # Ok(()) }
    /// ```
    pub fn refresh_schedule(mut self, schedule: RefreshSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Refresh every pair the margin plus a random time up to `max` before it expires,
    /// the random time drawn once per session: the schedule
    /// [`RefreshSchedule::fixed_lead`]`(max)`, which was the default (with
    /// [`DEFAULT_JITTER`]) before the window schedule. `jitter(Duration::ZERO)` makes a
    /// session refresh exactly the margin before expiry, which tests rely on. The last of
    /// this and [`SessionBuilder::refresh_schedule`] counts.
    pub fn jitter(mut self, max: Duration) -> Self {
        self.schedule = RefreshSchedule::fixed_lead(max);
        self
    }

    /// Where every new pair is saved in this process (default: [`MemoryStore`]), for
    /// [`SubscriberSession::restore`] after a restart.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Shares the subscriber's pair with every other session that uses `coordinator`
    /// under `key` (in this process with an [`InProcessCoordinator`](super::InProcessCoordinator), across processes
    /// with `signalwire-fabric-redis`): exactly one of them refreshes per rotation, and the
    /// others adopt its pair. Without it, the session has a coordinator of its own.
    ///
    /// The pair this builder was made with is published to the coordinator as the newest
    /// generation when the session first runs, unless it came from there
    /// ([`SubscriberSession::join`]).
    pub fn coordinator(mut self, coordinator: impl Coordinator, key: SessionKey) -> Self {
        self.coordinator = Some((Arc::new(coordinator), key));
        self
    }

    /// How long the coordinator's lease is held while refreshing (default
    /// [`DEFAULT_LEASE`]). Keep it longer than an exchange can take: a sibling may send the
    /// same refresh token once it runs out.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How failed refreshes are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the session. Nothing is sent; the pair is saved to the store (and published
    /// to the coordinator) by the first call that needs the session.
    pub fn build(self) -> SubscriberSession {
        let schedule = Schedule::new(self.schedule, self.refresh_ahead);
        let refresh_at = schedule.refresh_at(&self.pair, Instant::now());
        let (coordinator, key) = self.coordinator.unwrap_or_else(|| {
            let key = SessionKey::internal("this session");
            (Arc::new(coordinator::Solo::default()), key)
        });
        let state = State::new(self.pair, self.generation, refresh_at, self.saved);
        SubscriberSession {
            shared: Arc::new_cyclic(|me| {
                Shared::new(
                    me.clone(),
                    self.refresher,
                    self.store,
                    coordinator,
                    key,
                    schedule,
                    self.retry,
                    self.lease,
                    state,
                )
            }),
        }
    }
}

impl Client {
    /// Starts a [`SubscriberSession`] that keeps `pair` alive with this client.
    pub fn session(&self, pair: TokenPair) -> SessionBuilder {
        SubscriberSession::builder(self.clone(), pair)
    }
}

impl SubscriberSession {
    /// Starts configuring a session that refreshes `pair` through `refresher`.
    pub fn builder(refresher: impl Refresher, pair: TokenPair) -> SessionBuilder {
        SessionBuilder {
            refresher: Arc::new(refresher),
            pair,
            generation: 0,
            store: Arc::new(MemoryStore::new()),
            saved: false,
            coordinator: None,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            schedule: DEFAULT_REFRESH_SCHEDULE,
            retry: RetryPolicy::default(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Rebuilds a session from the pair `store` holds, with the expiry times it had, for
    /// example after a restart. Configure it further and [`SessionBuilder::build`].
    pub async fn restore(
        refresher: impl Refresher,
        store: impl TokenStore,
    ) -> Result<SessionBuilder, Error> {
        let stored = store
            .load()
            .await?
            .ok_or_else(|| Error::store("the store holds no pair to restore"))?;
        let mut builder = Self::builder(refresher, TokenPair::from_stored(stored)).store(store);
        builder.saved = true;
        Ok(builder)
    }
}
