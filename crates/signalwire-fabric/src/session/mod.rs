//! [`SubscriberSession`]: keeps one subscriber's token pair alive.
//!
//! How it works, in one place:
//!
//! - The newest pair lives in `State`, behind a mutex that is never held across an await.
//!   A copy of what the hot path needs (the access token and when to refresh it) is
//!   published through an `ArcSwap`, so a cached [`SubscriberSession::access_token`] takes
//!   no lock.
//! - All I/O (refresh exchanges, saves) happens in one *worker* task per session, spawned
//!   when needed and gone when there is nothing to do. There is never more than one, so
//!   there is never more than one refresh in flight, and because it is spawned, a caller
//!   that stops waiting cannot cancel an exchange half-way and lose its answer.
//! - Callers that need the worker's result wait on a `Notify`; every outcome (new pair,
//!   failed attempt, end of session) bumps a sequence number and wakes them.

mod store;
mod worker;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use store::{FILE_STORE_LEFTOVER_AGE, FileStore, MemoryStore, TokenStore};

use crate::{AccessToken, Client, Error, InviteToken, RefreshToken, TokenPair};

/// How long before the access token expires a session refreshes it, by default.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// The most random time added to the refresh-ahead margin of each session, by default.
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
/// - `access_token` returns the current token while it has more than the refresh-ahead
///   margin (plus this session's random jitter) left; past that, it waits for a refresh.
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
            .field("status", &self.status())
            .finish()
    }
}

struct Shared {
    refresher: Arc<dyn Refresher>,
    store: Arc<dyn TokenStore>,
    /// The refresh-ahead margin including this session's jitter.
    margin: Duration,
    retry: RetryPolicy,
    hot: ArcSwap<Hot>,
    state: Mutex<State>,
    changed: Notify,
}

/// What the hot path reads without a lock.
struct Hot {
    access_token: AccessToken,
    /// Before this instant, and while `fresh`, the cached token is handed out as is.
    refresh_at: Instant,
    /// False while something needs the slow path: an unsaved pair or an ended session.
    fresh: bool,
}

struct State {
    pair: TokenPair,
    /// When the current pair is due for a refresh.
    refresh_at: Instant,
    saved: bool,
    worker_running: bool,
    refreshing: bool,
    /// Counts outcomes (success or failed attempt); waiters compare it.
    outcome: u64,
    last_outcome: Option<Result<(), Error>>,
    failed_attempts: u32,
    /// When the next attempt is scheduled, after a failed one.
    retry_at: Option<Instant>,
    last_error: Option<Error>,
    ended: Option<Error>,
    refreshes: u64,
}

/// Configures a [`SubscriberSession`]; see [`Client::session`].
pub struct SessionBuilder {
    refresher: Arc<dyn Refresher>,
    pair: TokenPair,
    store: Arc<dyn TokenStore>,
    saved: bool,
    refresh_ahead: Duration,
    jitter: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("pair", &self.pair)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("jitter", &self.jitter)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl SessionBuilder {
    /// Refresh this long before the access token expires (default
    /// [`DEFAULT_REFRESH_AHEAD`]). Capped at half the token's remaining life, so a
    /// short-lived token is not refreshed continuously.
    pub fn refresh_ahead(mut self, margin: Duration) -> Self {
        self.refresh_ahead = margin;
        self
    }

    /// The most random time added to the margin, chosen once per session (default
    /// [`DEFAULT_JITTER`]), so that sessions created together do not refresh together.
    pub fn jitter(mut self, max: Duration) -> Self {
        self.jitter = max;
        self
    }

    /// Where every new pair is saved (default: [`MemoryStore`]).
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// How failed refreshes are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the session. Nothing is sent; the pair is saved to the store by the first
    /// call that needs the session (unless it came from the store).
    pub fn build(self) -> SubscriberSession {
        let jitter = crate::clock::scaled(self.jitter, fastrand::f64());
        let margin = self.refresh_ahead.saturating_add(jitter);
        let refresh_at = refresh_at(&self.pair, margin);
        let hot = Hot {
            access_token: self.pair.access_token().clone(),
            refresh_at,
            fresh: self.saved,
        };
        SubscriberSession {
            shared: Arc::new(Shared {
                refresher: self.refresher,
                store: self.store,
                margin,
                retry: self.retry,
                hot: ArcSwap::from_pointee(hot),
                state: Mutex::new(State {
                    pair: self.pair,
                    refresh_at,
                    saved: self.saved,
                    worker_running: false,
                    refreshing: false,
                    outcome: 0,
                    last_outcome: None,
                    failed_attempts: 0,
                    retry_at: None,
                    last_error: None,
                    ended: None,
                    refreshes: 0,
                }),
                changed: Notify::new(),
            }),
        }
    }
}

/// When a pair installed now should be refreshed: `margin` before its access token
/// expires, but no earlier than half-way through what is left of its life.
fn refresh_at(pair: &TokenPair, margin: Duration) -> Instant {
    let left = pair.access_expires_in();
    crate::clock::earlier(pair.access_expires_at(), margin.min(left / 2))
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
            store: Arc::new(MemoryStore::new()),
            saved: false,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            jitter: DEFAULT_JITTER,
            retry: RetryPolicy::default(),
        }
    }

    /// Rebuilds a session from the pair `store` holds, with the expiry times it had, for
    /// example after a restart. Configure it further and [`SessionBuilder::build`].
    pub async fn restore(
        refresher: impl Refresher,
        store: impl TokenStore,
    ) -> Result<SessionBuilder, Error> {
        let stored = store.load().await?.ok_or_else(|| Error::Store {
            message: "the store holds no pair to restore".to_owned(),
            source: None,
        })?;
        let mut builder = Self::builder(refresher, TokenPair::from_stored(stored)).store(store);
        builder.saved = true;
        Ok(builder)
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
        self.access_token_slow().await
    }

    async fn access_token_slow(&self) -> Result<AccessToken, Error> {
        let mut waited_for: Option<u64> = None;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if let Some(ended) = &state.ended {
                    return Err(ended.clone());
                }
                let now = Instant::now();
                let valid = now < state.pair.access_expires_at();
                if waited_for.is_some_and(|seen| state.outcome > seen) {
                    // The attempt we waited for has an outcome.
                    match &state.last_outcome {
                        Some(Err(error)) if !valid => return Err(error.clone()),
                        _ => return Ok(state.pair.access_token().clone()),
                    }
                }
                let retry_pending = state.retry_at.is_some_and(|at| now < at);
                if !valid && retry_pending && !state.refreshing {
                    // Retries are under way and the next attempt is scheduled (perhaps far
                    // off, as Retry-After asked): answer with the last attempt's error now
                    // rather than holding the caller until then.
                    if let Some(error) = state.last_error.clone() {
                        self.shared.ensure_worker(&mut state);
                        return Err(error);
                    }
                }
                let due = now >= state.refresh_at;
                if !due || (valid && state.failed_attempts > 0) {
                    // Not due (only a save is pending), or retries are under way and the
                    // current token still works: hand it out without waiting.
                    self.shared.ensure_worker(&mut state);
                    return Ok(state.pair.access_token().clone());
                }
                self.shared.ensure_worker(&mut state);
                waited_for.get_or_insert(state.outcome);
            }
            notified.await;
        }
    }

    /// Creates an invite to one of the subscriber's addresses, authenticated with the
    /// session's current access token (refreshed first if due).
    ///
    /// Needs a session built from a [`Client`]; one built on a custom [`Refresher`] has no
    /// client to send with (use [`Client::invite_tokens`] instead).
    pub async fn invite_token(&self, address_id: &str) -> Result<InviteToken, Error> {
        let client = self.shared.refresher.client().ok_or_else(|| {
            Error::invalid(
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
        let state = self.shared.lock();
        SessionStatus {
            access_expires_in: state.pair.access_expires_in(),
            refresh_expires_in: state.pair.refresh_expires_in(),
            refresh_in: state.refresh_at.saturating_duration_since(Instant::now()),
            refresh_in_flight: state.refreshing,
            saved: state.saved,
            refreshes: state.refreshes,
            failed_attempts: state.failed_attempts,
            last_error: state.last_error.clone(),
            ended: state.ended.is_some(),
        }
    }

    /// The newest pair, for callers that manage storage themselves.
    pub fn pair(&self) -> TokenPair {
        self.shared.lock().pair.clone()
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

async fn auto_refresh(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let wake_at = {
            let state = shared.lock();
            if state.ended.is_some() {
                return;
            }
            state.refresh_at
        };
        let session = SubscriberSession { shared };
        tokio::time::sleep_until(wake_at).await;
        match session.access_token().await {
            Err(Error::SessionEnded { .. }) => return,
            // A transient failure: the worker is retrying; check back after a short pause.
            Err(_) => {
                tokio::time::sleep(session.shared.retry.initial.max(Duration::from_millis(100)))
                    .await
            }
            Ok(_) => {}
        }
        // Do not keep the session alive while sleeping.
        drop(session);
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
    /// How many refreshes succeeded.
    pub refreshes: u64,
    /// Failed attempts since the last success.
    pub failed_attempts: u32,
    /// The last failure (of a refresh or a save), if any since the last success.
    pub last_error: Option<Error>,
    /// Whether the session has ended (see [`Error::SessionEnded`]).
    pub ended: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that
        // matters more than losing the session, so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts the worker unless it runs already. Called with the state locked.
    fn ensure_worker(self: &Arc<Self>, state: &mut State) {
        if !state.worker_running {
            state.worker_running = true;
            tokio::spawn(worker::supervised(Arc::clone(self)));
        }
    }

    /// Publishes what the hot path needs. Called with the state locked.
    fn publish(&self, state: &State) {
        self.hot.store(Arc::new(Hot {
            access_token: state.pair.access_token().clone(),
            refresh_at: state.refresh_at,
            fresh: state.saved && state.ended.is_none(),
        }));
    }

    /// Records an outcome and wakes every waiter. Called with the state locked.
    fn announce(&self, state: &mut State, outcome: Result<(), Error>) {
        state.outcome += 1;
        state.last_outcome = Some(outcome);
        self.publish(state);
        self.changed.notify_waiters();
    }
}
