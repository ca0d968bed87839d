//! [`SubscriberSession`]: keeps one subscriber's token pair alive.
//!
//! # How it works
//!
//! The session's state is one value behind a lock (see `state.rs`): the newest pair and
//! its [`Coordinator`] generation, when it is due, whether it is saved, counters, and the
//! **phase**. Every change goes through one function, which wakes callers waiting for
//! the worker. What the hot path needs (the access token, and whether it may be served)
//! is copied into an `ArcSwap` at every change, and a due timer per refresh point (see
//! `due.rs`) marks it stale when that point comes, so a cached
//! [`SubscriberSession::access_token`] takes no lock and reads no clock.
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

//!
//! # Where things live
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`SubscriberSession`]: the cached read, the slow path callers wait on, status |
//! | `builder.rs` | [`SessionBuilder`], its defaults, and starting from a pair or a store |
//! | `join.rs` | [`SubscriberSession::join`] and [`SubscriberSession::join_or_create`] |
//! | `state.rs` | the state, its phases, the hot view, and the one way to change them |
//! | `worker.rs` | the task that does every refresh, commit, publish and save |
//! | `lease_wait.rs` | asking for the lease while a sibling holds it (worker and join) |
//! | `schedule.rs` | when a pair is due ([`RefreshSchedule`]) |
//! | `retry.rs` | [`RetryPolicy`] |
//! | `auto_refresh.rs` | [`SubscriberSession::spawn_auto_refresh`] |
//! | `refresher.rs` | [`Refresher`]: where new pairs come from |
//! | `store.rs` | [`TokenStore`], [`MemoryStore`], [`FileStore`] |
//! | `coordinator/` | the [`Coordinator`] seam, its store rules and the in-process one |
//! | `model.rs` | the protocol as a model, checked with stateright (tests only) |

mod auto_refresh;
mod builder;
pub(crate) mod coordinator;
mod due;
mod join;
mod lease_wait;
#[cfg(test)]
mod model;
mod refresher;
mod retry;
mod schedule;
mod state;
mod store;
mod worker;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

pub use auto_refresh::AutoRefresh;
pub use builder::{DEFAULT_JITTER, DEFAULT_LEASE, DEFAULT_REFRESH_AHEAD, SessionBuilder};
pub use coordinator::{
    CommitOutcome, Coordinator, InProcessCoordinator, KEEP_AFTER_REFRESH_EXPIRY, Lease,
    LeaseOutcome, Released, SessionKey, SharedPair,
};
pub use refresher::Refresher;
pub use retry::RetryPolicy;
pub use schedule::{DEFAULT_REFRESH_SCHEDULE, RefreshSchedule};
pub use store::{FILE_STORE_LEFTOVER_AGE, FileStore, MemoryStore, TokenStore};

use state::{Phase, Shared};

use crate::{AccessToken, Error, InviteToken, TokenPair};

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

impl SubscriberSession {
    /// An access token with more than the refresh-ahead margin left, refreshing first
    /// when needed.
    ///
    /// Fails only when no valid token can be had: the refresh attempt it waited for
    /// failed and the current token has expired (the error says whether to retry), or
    /// the session has ended ([`Error::SessionEnded`]).
    ///
    /// The future does nothing until polled; a token it answers is the one current
    /// then. (A hand-written future rather than an `async fn`: the cached case, most
    /// calls, is then one small `poll` with no state machine to set up; see
    /// BENCHMARKS.md §12.)
    #[inline]
    pub fn access_token(&self) -> impl Future<Output = Result<AccessToken, Error>> + Send + '_ {
        AccessTokenFuture {
            session: self,
            slow: None,
        }
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
            // Listening from before the state is read, so no change in between is missed.
            let next_change = self.shared.next_change();
            tokio::pin!(next_change);
            next_change.as_mut().enable();
            let decided = self.shared.read(|state| {
                if let Some(ended) = state.ended() {
                    return Decided::Answer(Err(ended.clone()));
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
                        .as_deref()
                        .cloned()
                        .unwrap_or(Error::RefreshInterrupted))
                };
                if waited_for.is_some_and(|seen| state.finished_attempts > seen) {
                    // The attempt this caller waited for is over. If it succeeded, its
                    // token is the answer, even one equal to the token reported refused
                    // (the server chose to hand it out again).
                    let succeeded = state.last_error.is_none();
                    let unexpired = now < state.pair.access_expires_at();
                    return if valid || (succeeded && unexpired) {
                        Decided::Answer(token())
                    } else {
                        Decided::Answer(last_error())
                    };
                }
                match state.phase {
                    Phase::Current if now < state.refresh_at && !refused_now => {
                        // The worker saves or publishes a pair it has not yet, and arms
                        // the due timer that lets the hot path serve it.
                        Decided::Served(token(), state.chores() || state.timer_missing())
                    }
                    // Once the retry time has come, the worker retries; started here
                    // when there is none (one that panicked, say).
                    Phase::RetryingAt(at) if valid => Decided::Served(token(), now >= at),
                    Phase::RetryingAt(at) if now < at => Decided::Answer(last_error()),
                    // Due, being refreshed, or about to be retried: wait for the attempt.
                    _ => Decided::Wait(state.finished_attempts),
                }
            });
            match decided {
                Decided::Answer(answer) => return answer,
                Decided::Served(answer, chores) => {
                    if chores {
                        self.shared.ensure_worker();
                    }
                    return answer;
                }
                Decided::Wait(finished) => {
                    waited_for.get_or_insert(finished);
                }
            }
            self.shared.ensure_worker();
            next_change.await;
        }
    }

    /// Creates an invite to one of the subscriber's addresses, authenticated with the
    /// session's current access token (refreshed first if due).
    ///
    /// Needs a session built from a [`Client`](crate::Client); one built on a custom [`Refresher`] has no
    /// client to send with (use [`Client::invite_tokens`](crate::Client::invite_tokens) instead).
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
        self.shared.read(|state| self.status_of(state))
    }

    fn status_of(&self, state: &state::State) -> SessionStatus {
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
            last_error: state.last_error.as_deref().cloned(),
            ended: state.ended().is_some(),
        }
    }

    /// The newest pair, for callers that manage storage themselves.
    pub fn pair(&self) -> TokenPair {
        self.shared.read(|state| state.pair.clone())
    }
}

/// [`SubscriberSession::access_token`]'s future: at its first poll, the cached token
/// when the hot view serves it (no clock is read: the due timer ends the view at the
/// refresh point); otherwise the slow path, boxed so that this future stays small.
struct AccessTokenFuture<'a> {
    session: &'a SubscriberSession,
    slow: Option<SlowPath<'a>>,
}

type SlowPath<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, Error>> + Send + 'a>>;

impl Future for AccessTokenFuture<'_> {
    type Output = Result<AccessToken, Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.slow.is_none() {
            let shared = &this.session.shared;
            let hot = shared.hot.load();
            if hot.serves(shared) {
                return Poll::Ready(Ok(hot.access_token.clone()));
            }
        }
        this.poll_slow(context)
    }
}

impl AccessTokenFuture<'_> {
    /// The slow path, out of line so that the cached case's `poll` stays small.
    #[inline(never)]
    fn poll_slow(&mut self, context: &mut Context<'_>) -> Poll<Result<AccessToken, Error>> {
        let session = self.session;
        self.slow
            .get_or_insert_with(|| Box::pin(session.access_token_slow(None)))
            .as_mut()
            .poll(context)
    }
}

/// What a caller on the slow path does after one look at the state.
enum Decided {
    /// Answers with this.
    Answer(Result<AccessToken, Error>),
    /// Answers with this, starting the worker first when it has something to do (chores,
    /// or a retry whose time has come).
    Served(Result<AccessToken, Error>, bool),
    /// Waits for the attempt after this many finished ones.
    Wait(u64),
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
