//! [`SubscriberSession`]: keeps one subscriber's token pair alive.
//!
//! # How it works
//!
//! The session's state is one value in a `tokio::sync::watch` channel: the newest pair
//! and its [`Coordinator`] generation, when it is due, whether it is saved, counters, and
//! the **phase**. Every change goes through that channel, and callers that must wait for
//! the worker wait for the next change. What the hot path needs (the access token and
//! when it is due) is copied into an `ArcSwap` at every change, so a cached
//! [`SubscriberSession::access_token`] takes no lock.
//!
//! All I/O (leases, exchanges, commits, saves) happens in one *worker* task per session,
//! spawned when needed and gone when there is nothing to do: there is never more than one
//! refresh in flight per session, and a caller that stops waiting cannot cancel an
//! exchange half-way. Between sessions, the [`Coordinator`] lease does the same job.
//!
//! # Phases and transitions
//!
//! ```text
//!            due, or refresh_if_current(the current token)
//!   Current ───────────────────────────────────────────────► Refreshing
//!      ▲                                                        │  │  │
//!      │ a newer pair: refreshed here and committed, or         │  │  │
//!      └─ adopted from the coordinator (a sibling refreshed) ◄──┘  │  │
//!                                                                  │  │
//!   RetryingAt(t) ◄── the attempt failed and can pass (transport, ─┘  │
//!      │   ▲          5xx, 429, coordinator unreachable); t is         │
//!      │   │          before the refresh token's last safe moment     │
//!      └───┘ at t ─► Refreshing                                        │
//!                                                                      │
//!   Ended(error) ◄── refused (after the coordinator had nothing newer), ┘
//!                    or the refresh token ran out of time
//! ```
//!
//! - **Current**: the pair is served. The worker may still have to save it to the
//!   [`TokenStore`], or publish it to the coordinator (a session built from a new pair).
//! - **Refreshing**: the worker asks the coordinator for the lease. A newer generation is
//!   adopted without any request; a lease held by a sibling is waited for (asking again
//!   every few milliseconds, up to a quarter of a second apart); a granted lease leads to
//!   one exchange, whose pair is committed to the coordinator (fenced by generation), saved
//!   to the store, and only then served.
//! - **RetryingAt(t)**: callers keep getting the still-valid access token; once it has
//!   expired they get the last attempt's (retryable) error at once.
//! - **Ended(error)**: every caller gets [`Error::SessionEnded`] from now on.
//!
//! A refusal of the refresh token as spent or unknown first checks the coordinator: if a
//! sibling stored a newer generation, it is adopted and the session goes on. When another
//! holder may still store a pair (the lease this session got was *taken over* from one
//! that never finished, or the release says another holder is in flight), the session
//! keeps looking for that pair until the other holder's lease is over plus one lease
//! before it ends. The protocol, worker and store together, is checked as a model in
//! `model.rs`.

pub(crate) mod coordinator;
#[cfg(test)]
mod model;
mod schedule;
mod store;
mod worker;

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::time::Instant;

pub use coordinator::{
    CommitOutcome, Coordinator, InProcessCoordinator, KEEP_AFTER_REFRESH_EXPIRY, Lease,
    LeaseOutcome, Released, SessionKey, SharedPair,
};
use schedule::Schedule;
pub use schedule::{DEFAULT_REFRESH_SCHEDULE, RefreshSchedule};
pub use store::{FILE_STORE_LEFTOVER_AGE, FileStore, MemoryStore, TokenStore};

use crate::{AccessToken, Client, Error, InviteToken, RefreshToken, TokenPair};

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

/// Where a session gets new pairs: [`Client`] by default.
///
/// Implement it to refresh through something else (a proxy of your own, or a scripted
/// double in tests).
#[async_trait::async_trait]
pub trait Refresher: Send + Sync + 'static {
    /// Exchanges `refresh_token` for a new pair.
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error>;

    /// The client behind this refresher, if it is one; sessions use it for
    /// [`SubscriberSession::invite_token`].
    fn client(&self) -> Option<&Client> {
        None
    }
}

#[async_trait::async_trait]
impl Refresher for Client {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        self.subscriber_tokens().refresh(refresh_token).await
    }

    fn client(&self) -> Option<&Client> {
        Some(self)
    }
}

/// How a session retries failed refreshes: exponential backoff with full jitter,
/// honouring `Retry-After`, and never past the refresh token's own expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The ceiling of the first wait.
    pub initial: Duration,
    /// The largest ceiling any wait may have.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 for the first retry): a random duration
    /// up to `min(max, initial * 2^(attempt - 1))`, but at least `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let ceiling = self
            .initial
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max);
        let jittered = crate::clock::scaled(ceiling, fastrand::f64());
        jittered.max(retry_after.unwrap_or(Duration::ZERO))
    }
}

/// Keeps a subscriber's token pair alive: refreshes ahead of expiry, exactly once however
/// many tasks ask, and never loses a rotated refresh token.
///
/// Clones share one session.
///
/// ```no_run
/// # async fn run(client: signalwire_fabric::Client, pair: signalwire_fabric::TokenPair) -> Result<(), signalwire_fabric::Error> {
/// use std::time::Duration;
/// use signalwire_fabric::FileStore;
///
/// let session = client
///     .session(pair)
///     .refresh_ahead(Duration::from_secs(300))
///     .store(FileStore::new("tokens.json"))
///     .build();
/// let token = session.access_token().await?; // always a token with time left
/// # Ok(()) }
/// ```
///
/// # Guarantees
///
/// - `access_token` returns the current token until the pair's refresh point (see
///   [`RefreshSchedule`]; by default between 75 % and 90 % of its lifetime, and never
///   later than the refresh-ahead margin before it expires); past that, it waits for a
///   refresh. The point is never after the access token's expiry.
/// - At most one refresh request is in flight; every waiter gets its result.
/// - A new pair is saved to the [`TokenStore`] before its access token is handed out.
///   If that save fails, the pair is kept in memory and served anyway (its refresh
///   token is the only live one, and the access token does not spend it), the save is
///   retried with backoff, and [`SessionStatus::saved`] is false until it succeeds. A
///   refresh token that was exchanged successfully is never sent again.
/// - A failed refresh never replaces a still-valid access token: callers keep getting it
///   while retries go on. Transient failures (transport, 408, 429, 5xx, a success body
///   that could not be read) are retried with backoff, never sooner than `Retry-After`;
///   when the server asks for a longer wait than the refresh token has left, one last
///   attempt is made shortly before it expires. Anything else ends the session
///   ([`Error::SessionEnded`]), as does the refresh token running out of time; the error
///   keeps the answer that ended it.
/// - Once the access token has expired, a caller waits for an attempt that is due or
///   under way; while a later retry is scheduled, it gets the last attempt's (retryable)
///   error at once instead of waiting for it.
/// - If a [`Refresher`] or [`TokenStore`] panics, the callers waiting on it get
///   [`Error::RefreshInterrupted`] and the next call starts over: nothing stays wedged.
///
/// # Sharing one subscriber
///
/// Sessions given the same [`Coordinator`] and [`SessionKey`]
/// ([`SessionBuilder::coordinator`], [`SubscriberSession::join`]) share the subscriber's
/// pair, in one process ([`InProcessCoordinator`]) or many (`signalwire-fabric-redis`):
///
/// - at most one refresh request per rotation among all of them; the others adopt the
///   stored pair without sending anything;
/// - the stored pair only moves forward: a session whose lease ran out cannot overwrite a
///   newer pair, it adopts it instead;
/// - a session whose refresh is refused as spent or unknown first looks for a newer pair a
///   sibling stored, and goes on with it instead of ending; while another sibling may
///   still store the pair that spent the token (however many siblings took the lease
///   over in between), it keeps looking until that sibling's lease is over plus a lease;
/// - the cached [`SubscriberSession::access_token`] never touches the coordinator; it is
///   asked only when a refresh is due;
/// - when the coordinator cannot be reached, a still-valid token is served, no refresh is
///   made without the lease, and callers whose token has expired get a retryable
///   [`Error::Coordinator`] at once;
/// - [`SubscriberSession::refresh_if_current`] is how an app says "this token was
///   refused": however many tasks or instances say it about the same token, it is
///   refreshed once.
///
/// # When an answer is lost
///
/// A refresh that timed out, or whose success body could not be read, may have reached
/// SignalWire and spent the only refresh token the session holds. The session retries
/// with the same token, because that is the only one it has: a server that tolerates
/// reuse answers with a new pair and nothing is lost; a server with single-use refresh
/// tokens answers `token_invalid`, and the session ends with
/// [`Error::SessionEnded`] saying a new subscriber token must be created.
#[derive(Clone)]
pub struct SubscriberSession {
    shared: Arc<Shared>,
}

impl fmt::Debug for SubscriberSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberSession")
            .field("key", &self.shared.key)
            .field("status", &self.status())
            .finish()
    }
}

struct Shared {
    refresher: Arc<dyn Refresher>,
    store: Arc<dyn TokenStore>,
    coordinator: Arc<dyn Coordinator>,
    key: SessionKey,
    /// When each pair this session gets is due.
    schedule: Schedule,
    retry: RetryPolicy,
    lease: Duration,
    /// What the hot path reads without a lock; rewritten at every change of `state`.
    hot: ArcSwap<Hot>,
    state: watch::Sender<State>,
}

/// What the hot path reads without a lock.
struct Hot {
    access_token: AccessToken,
    /// Before this instant, and while `fresh`, the cached token is handed out as is.
    refresh_at: Instant,
    /// False while something needs the slow path: the worker has something to do, or the
    /// session has ended.
    fresh: bool,
}

/// The session's state: one value, changed only through [`Shared::change`].
struct State {
    pair: TokenPair,
    /// The coordinator's generation of `pair`; 0 until the pair is published there.
    generation: u64,
    /// When the current pair is due for a refresh.
    refresh_at: Instant,
    /// Whether `pair` is in the [`TokenStore`].
    saved: bool,
    /// A pair this session got but could not commit yet: the lease it was got under and
    /// the generation it replaced. Committing it comes before anything else.
    uncommitted: Option<(Lease, u64)>,
    phase: Phase,
    /// Whether a worker task is running.
    worker: bool,
    /// How many attempts have finished (refreshed, adopted, failed or interrupted); a
    /// caller waiting for an attempt waits for this to grow.
    outcomes: u64,
    refreshes: u64,
    failed_attempts: u32,
    last_error: Option<Error>,
}

/// See the module docs.
#[derive(Debug, Clone)]
enum Phase {
    Current,
    Refreshing,
    RetryingAt(Instant),
    Ended(Error),
}

impl State {
    fn ended(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Ended(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the worker has something to do other than a refresh.
    fn chores(&self) -> bool {
        !self.saved || self.generation == 0 || self.uncommitted.is_some()
    }
}

/// Configures a [`SubscriberSession`]; see [`Client::session`].
pub struct SessionBuilder {
    refresher: Arc<dyn Refresher>,
    pair: TokenPair,
    generation: u64,
    store: Arc<dyn TokenStore>,
    saved: bool,
    coordinator: Option<(Arc<dyn Coordinator>, SessionKey)>,
    refresh_ahead: Duration,
    schedule: RefreshSchedule,
    retry: RetryPolicy,
    lease: Duration,
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
    /// under `key` (in this process with an [`InProcessCoordinator`], across processes
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
        let state = State {
            pair: self.pair,
            generation: self.generation,
            refresh_at,
            saved: self.saved,
            uncommitted: None,
            phase: Phase::Current,
            worker: false,
            outcomes: 0,
            refreshes: 0,
            failed_attempts: 0,
            last_error: None,
        };
        let hot = hot_view(&state);
        SubscriberSession {
            shared: Arc::new(Shared {
                refresher: self.refresher,
                store: self.store,
                coordinator,
                key,
                schedule,
                retry: self.retry,
                lease: self.lease,
                hot: ArcSwap::from_pointee(hot),
                state: watch::Sender::new(state),
            }),
        }
    }
}

fn hot_view(state: &State) -> Hot {
    Hot {
        access_token: state.pair.access_token().clone(),
        refresh_at: state.refresh_at,
        fresh: matches!(state.phase, Phase::Current) && !state.chores(),
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

    /// A session for the subscriber `coordinator` holds a pair for under `key` (another
    /// session, perhaps in another process, published it), sharing it from now on; `None`
    /// when the coordinator holds no pair for `key` (create a subscriber token and build a
    /// session with [`SessionBuilder::coordinator`] instead). When several sessions may
    /// start at once with nothing shared yet (instances of a web backend signing the same
    /// user in), use [`SubscriberSession::join_or_create`]: with `join`, each of them can
    /// find nothing and create its own subscriber token.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client, coordinator: signalwire_fabric::InProcessCoordinator) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::{CreateSubscriberToken, SessionKey, SubscriberSession};
    ///
    /// let key: SessionKey = "user-42".parse()?;
    /// let session = match SubscriberSession::join(client.clone(), coordinator.clone(), key.clone()).await? {
    ///     Some(joined) => joined.build(),
    ///     None => {
    ///         let created = client
    ///             .subscriber_tokens()
    ///             .create(CreateSubscriberToken::new("user-42@example.com"))
    ///             .await?;
    ///         client.session(created.pair).coordinator(coordinator, key).build()
    ///     }
    /// };
    /// # drop(session);
    /// # Ok(()) }
    /// ```
    pub async fn join(
        refresher: impl Refresher,
        coordinator: impl Coordinator,
        key: SessionKey,
    ) -> Result<Option<SessionBuilder>, Error> {
        let Some(shared) = coordinator.load(&key).await? else {
            return Ok(None);
        };
        let mut builder = Self::builder(refresher, TokenPair::from_stored(shared.pair))
            .coordinator(coordinator, key);
        builder.generation = shared.generation;
        Ok(Some(builder))
    }

    /// Like [`SubscriberSession::join`], but when `coordinator` holds no pair for `key`
    /// newer than generation `newer_than` (0: none at all), the pair comes from `create`
    /// (a new subscriber token), called by exactly one of the sessions starting at once,
    /// in this process or any other sharing the coordinator: the creator holds the
    /// coordinator's lease while it creates, stores the pair as the next generation, and
    /// every other starter adopts it. If `create` fails, panics, or this future is dropped
    /// before the pair is stored (a web request cancelled mid-sign-in), the lease is let
    /// go of at once, so the next starter creates without waiting for it to run out. Pass
    /// the generation of a session that ended as `newer_than` to start a new chain rather
    /// than rejoin the dead one.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client, coordinator: signalwire_fabric::InProcessCoordinator) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::{CreateSubscriberToken, SubscriberSession};
    ///
    /// let tokens = client.clone();
    /// let session = SubscriberSession::join_or_create(client, coordinator, "user-42".parse()?, 0, || async move {
    ///     let created = tokens
    ///         .subscriber_tokens()
    ///         .create(CreateSubscriberToken::new("user-42@example.com"))
    ///         .await?;
    ///     Ok(created.pair)
    /// })
    /// .await?
    /// .build();
    /// # drop(session);
    /// # Ok(()) }
    /// ```
    pub async fn join_or_create<C, Created>(
        refresher: impl Refresher,
        coordinator: C,
        key: SessionKey,
        newer_than: u64,
        create: impl FnOnce() -> Created,
    ) -> Result<SessionBuilder, Error>
    where
        C: Coordinator,
        Created: std::future::Future<Output = Result<TokenPair, Error>>,
    {
        let coordinator = Arc::new(coordinator);
        let mut create = Some(create);
        let mut poll = Duration::from_millis(10);
        loop {
            let (pair, generation) = match coordinator
                .try_lease(&key, newer_than, DEFAULT_LEASE)
                .await?
            {
                LeaseOutcome::Newer(shared) => {
                    (TokenPair::from_stored(shared.pair), shared.generation)
                }
                LeaseOutcome::Held { expires_in } => {
                    let wait =
                        expires_in.map_or(poll, |left| left.clamp(Duration::from_millis(1), poll));
                    tokio::time::sleep(wait).await;
                    poll = (poll * 2).min(Duration::from_millis(250));
                    continue;
                }
                LeaseOutcome::Granted(lease) => {
                    // Whatever ends this future before the commit (an error, a panic in
                    // `create`, or the caller dropping it: a web request cancelled while
                    // the token is created), the lease is let go of at once instead of
                    // making every other starter wait for it to run out.
                    let mut held = HeldLease::new(coordinator.clone(), key.clone(), lease);
                    let Some(create) = create.take() else {
                        // Only reachable if a coordinator granted a lease twice here.
                        held.release().await?;
                        return Err(Error::coordinator("granted a second lease to one starter"));
                    };
                    let pair = match create().await {
                        Ok(pair) => pair,
                        Err(error) => {
                            let _ = held.release().await;
                            return Err(error);
                        }
                    };
                    match coordinator
                        .commit(&key, held.lease(), newer_than, &pair.to_stored())
                        .await
                    {
                        // The commit let go of the lease.
                        Ok(CommitOutcome::Committed { generation }) => {
                            held.disarm();
                            (pair, generation)
                        }
                        Ok(CommitOutcome::Superseded(newer)) => {
                            held.disarm();
                            (TokenPair::from_stored(newer.pair), newer.generation)
                        }
                        // Not stored yet: the session publishes it when it first runs.
                        Err(_) => {
                            let _ = held.release().await;
                            (pair, 0)
                        }
                    }
                }
            };
            let mut builder = Self::builder(refresher, pair).coordinator(coordinator, key);
            builder.generation = generation;
            return Ok(builder);
        }
    }

    /// An access token with more than the refresh-ahead margin left, refreshing first
    /// when needed.
    ///
    /// Fails only when no valid token can be had: the refresh attempt it waited for
    /// failed and the current token has expired (the error says whether to retry), or
    /// the session has ended ([`Error::SessionEnded`]).
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        {
            let hot = self.shared.hot.load();
            if hot.fresh && Instant::now() < hot.refresh_at {
                return Ok(hot.access_token.clone());
            }
        }
        self.access_token_slow(None).await
    }

    /// What to do when a server refused `refused`, an access token this session handed
    /// out: refresh now, unless the session (or a sibling sharing its coordinator) has
    /// already moved past that token, in which case the newer token is returned without
    /// any request. However many tasks or instances report the same refusal, the pair is
    /// refreshed once.
    ///
    /// When the refresh fails (SignalWire or the coordinator unreachable, say), the error
    /// comes back, retryable when a retry may work, never `refused` itself, while
    /// [`SubscriberSession::access_token`] keeps serving the old token to callers that have
    /// not seen it refused. (A refresh that succeeds is answered with its token, even if
    /// the server handed out the same one again.)
    ///
    /// ```no_run
    /// # async fn run(session: signalwire_fabric::SubscriberSession) -> Result<(), signalwire_fabric::Error> {
    /// let token = session.access_token().await?;
    /// // ... a SignalWire call with `token` answers 401 ...
    /// let newer = session.refresh_if_current(&token).await?;
    /// # drop(newer);
    /// # Ok(()) }
    /// ```
    pub async fn refresh_if_current(&self, refused: &AccessToken) -> Result<AccessToken, Error> {
        self.access_token_slow(Some(refused)).await
    }

    async fn access_token_slow(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        let mut changes = self.shared.state.subscribe();
        if let Some(refused) = refused {
            // Due now, if the refused token is still the current one.
            self.shared.change(|state| {
                if state.pair.access_token() == refused && matches!(state.phase, Phase::Current) {
                    state.refresh_at = state.refresh_at.min(Instant::now());
                }
            });
        }
        // The number of finished attempts when this caller began to wait for one.
        let mut waited_for: Option<u64> = None;
        loop {
            {
                let state = changes.borrow_and_update();
                if let Some(ended) = state.ended() {
                    return Err(ended.clone());
                }
                let now = Instant::now();
                // A token a server refused is no answer to the caller who reported it,
                // however long it has left.
                let refused_now =
                    refused.is_some_and(|refused| state.pair.access_token() == refused);
                let valid = now < state.pair.access_expires_at() && !refused_now;
                let token = || Ok(state.pair.access_token().clone());
                let last_error = || {
                    Err(state
                        .last_error
                        .clone()
                        .unwrap_or(Error::RefreshInterrupted))
                };
                if waited_for.is_some_and(|seen| state.outcomes > seen) {
                    // The attempt this caller waited for is over. If it succeeded, its
                    // token is the answer, even one equal to the token reported refused
                    // (the server chose to hand it out again).
                    let succeeded = state.last_error.is_none();
                    let unexpired = now < state.pair.access_expires_at();
                    return if valid || (succeeded && unexpired) {
                        token()
                    } else {
                        last_error()
                    };
                }
                match state.phase {
                    Phase::Current if now < state.refresh_at && !refused_now => {
                        let answer = token();
                        let chores = state.chores();
                        drop(state);
                        if chores {
                            self.shared.ensure_worker();
                        }
                        return answer;
                    }
                    Phase::RetryingAt(_) if valid => return token(),
                    Phase::RetryingAt(at) if now < at => return last_error(),
                    // Due, being refreshed, or about to be retried: wait for the attempt.
                    _ => {
                        waited_for.get_or_insert(state.outcomes);
                    }
                }
            }
            self.shared.ensure_worker();
            if changes.changed().await.is_err() {
                // The sender lives in `Shared`, which `self` keeps alive.
                return Err(Error::RefreshInterrupted);
            }
        }
    }

    /// Creates an invite to one of the subscriber's addresses, authenticated with the
    /// session's current access token (refreshed first if due).
    ///
    /// Needs a session built from a [`Client`]; one built on a custom [`Refresher`] has no
    /// client to send with (use [`Client::invite_tokens`] instead).
    pub async fn invite_token(&self, address_id: impl AsRef<str>) -> Result<InviteToken, Error> {
        let client = self.shared.refresher.client().ok_or_else(|| {
            Error::invalid_input(
                "session",
                "was built on a custom Refresher; use Client::invite_tokens with its access token",
            )
        })?;
        let access_token = self.access_token().await?;
        client
            .invite_tokens()
            .create(&access_token, address_id, None)
            .await
    }

    /// A snapshot of the session's health, free of secrets.
    pub fn status(&self) -> SessionStatus {
        let state = self.shared.state.borrow();
        let now = Instant::now();
        SessionStatus {
            access_expires_in: state.pair.access_expires_in(),
            refresh_expires_in: state.pair.refresh_expires_in(),
            refresh_in: state.refresh_at.saturating_duration_since(now),
            refresh_in_flight: matches!(state.phase, Phase::Refreshing),
            saved: state.saved,
            generation: state.generation,
            refreshes: state.refreshes,
            failed_attempts: state.failed_attempts,
            last_error: state.last_error.clone(),
            ended: state.ended().is_some(),
        }
    }

    /// The newest pair, for callers that manage storage themselves.
    pub fn pair(&self) -> TokenPair {
        self.shared.state.borrow().pair.clone()
    }

    /// Refreshes in the background on schedule, so callers of
    /// [`SubscriberSession::access_token`] never wait. Stops when the returned handle is
    /// dropped, when every other handle to the session is gone, or when the session ends.
    pub fn spawn_auto_refresh(&self) -> AutoRefresh {
        let weak = Arc::downgrade(&self.shared);
        AutoRefresh {
            task: tokio::spawn(auto_refresh(weak)),
        }
    }
}

/// What the background refresh waits for before it looks at the session again.
enum AutoWait {
    /// The pair's refresh point: then it asks for a token, which refreshes if due.
    Due(Instant),
    /// A failed attempt's retry time: the worker retries by itself then; this makes sure
    /// a worker is there to do it, then waits for the attempt.
    Retry(Instant),
    /// An attempt under way: its outcome.
    Outcome,
}

async fn auto_refresh(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        // Subscribed before looking, so that a change right after the look is not missed.
        let mut changes = shared.state.subscribe();
        let wait = {
            let state = changes.borrow_and_update();
            match state.phase {
                Phase::Ended(_) => return,
                Phase::Current => AutoWait::Due(state.refresh_at),
                Phase::RetryingAt(at) => AutoWait::Retry(at),
                Phase::Refreshing => AutoWait::Outcome,
            }
        };
        // Do not keep the session alive while waiting.
        drop(shared);
        match wait {
            AutoWait::Due(at) => {
                drop(changes);
                tokio::time::sleep_until(at).await;
                let Some(shared) = weak.upgrade() else { return };
                let session = SubscriberSession { shared };
                match session.access_token().await {
                    Err(Error::SessionEnded { .. }) => return,
                    // The worker is retrying: the next look sees when.
                    Err(_) => {
                        let pause = session.shared.retry.initial.max(Duration::from_millis(100));
                        drop(session);
                        tokio::time::sleep(pause).await;
                    }
                    Ok(_) => {}
                }
            }
            // While a retry is scheduled, `access_token` answers at once with the token
            // that is still valid; asking it again and again until the retry would keep a
            // thread busy (and a paused clock from ever advancing).
            AutoWait::Retry(at) => {
                tokio::time::sleep_until(at).await;
                let Some(shared) = weak.upgrade() else { return };
                shared.ensure_worker();
                drop(shared);
                if changes.changed().await.is_err() {
                    return;
                }
            }
            AutoWait::Outcome => {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The handle of [`SubscriberSession::spawn_auto_refresh`]; dropping it stops the
/// background refresh.
#[derive(Debug)]
pub struct AutoRefresh {
    task: tokio::task::JoinHandle<()>,
}

impl AutoRefresh {
    /// True once the background refresh has stopped (the session ended or is gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for AutoRefresh {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A session's health at one moment; see [`SubscriberSession::status`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionStatus {
    /// Time the current access token has left.
    pub access_expires_in: Duration,
    /// Time the current refresh token has left.
    pub refresh_expires_in: Duration,
    /// Time until the session refreshes (zero when due).
    pub refresh_in: Duration,
    /// Whether a refresh is under way.
    pub refresh_in_flight: bool,
    /// Whether the newest pair is in the store.
    pub saved: bool,
    /// The coordinator's generation of the current pair (0 until it is published there).
    pub generation: u64,
    /// How many refreshes this session made or adopted.
    pub refreshes: u64,
    /// Failed attempts since the last success.
    pub failed_attempts: u32,
    /// The last failure (of a refresh, a save or the coordinator), if any since the last
    /// success.
    pub last_error: Option<Error>,
    /// Whether the session has ended (see [`Error::SessionEnded`]).
    pub ended: bool,
}

impl Shared {
    /// Changes the state with `change` and publishes the result to the hot path and to
    /// every waiter. Returns what `change` returns.
    fn change<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let mut result = None;
        self.state.send_modify(|state| {
            result = Some(change(state));
            self.hot.store(Arc::new(hot_view(state)));
        });
        match result {
            Some(result) => result,
            None => unreachable!("send_modify runs its closure"),
        }
    }

    /// Starts the worker unless it runs already (or the session has ended). Waiters are
    /// not woken: nothing they look at changes.
    fn ensure_worker(self: &Arc<Self>) {
        self.state.send_if_modified(|state| {
            if !state.worker && state.ended().is_none() {
                state.worker = true;
                tokio::spawn(worker::supervised(Arc::clone(self)));
            }
            false
        });
    }
}

/// A lease [`SubscriberSession::join_or_create`] holds while it creates a pair, let go of
/// when it is dropped still armed (the future was cancelled or panicked): the release
/// runs on a spawned task, since a destructor cannot wait.
struct HeldLease<C: Coordinator> {
    coordinator: Arc<C>,
    key: SessionKey,
    lease: coordinator::Lease,
    armed: bool,
}

impl<C: Coordinator> HeldLease<C> {
    fn new(coordinator: Arc<C>, key: SessionKey, lease: coordinator::Lease) -> Self {
        Self {
            coordinator,
            key,
            lease,
            armed: true,
        }
    }

    fn lease(&self) -> &coordinator::Lease {
        &self.lease
    }

    /// The lease was let go of by the coordinator (a commit).
    fn disarm(&mut self) {
        self.armed = false;
    }

    async fn release(&mut self) -> Result<(), Error> {
        if !self.armed {
            return Ok(());
        }
        // Still armed while it runs: if this future is dropped meanwhile, so is the lease.
        let released = self.coordinator.release(&self.key, &self.lease).await;
        self.armed = false;
        released.map(drop)
    }
}

impl<C: Coordinator> Drop for HeldLease<C> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime left: the lease runs out on its own
        };
        let coordinator = self.coordinator.clone();
        let key = self.key.clone();
        let lease = self.lease.clone();
        runtime.spawn(async move {
            let _ = coordinator.release(&key, &lease).await;
        });
    }
}
