//! Sessions for one subscriber that agree on who refreshes: the [`Coordinator`] seam,
//! the rules every store follows ([`record`]) and the in-process implementation.
//!
//! See [`Coordinator`] for the protocol.

mod in_process;
pub(crate) mod record;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, StoredTokenPair};

pub use in_process::InProcessCoordinator;
pub(crate) use in_process::Solo;

/// How long a coordinator keeps a subscriber's pair after its refresh token has expired
/// (by the coordinator's clock): a margin for clocks that disagree. After that the pair
/// can refresh nothing, so it is forgotten, and a user who comes back starts a new chain
/// ([`SubscriberSession::join_or_create`](crate::SubscriberSession::join_or_create)).
pub const KEEP_AFTER_REFRESH_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Until when a coordinator keeps `pair`, on tokio's clock.
fn kept_until(pair: &StoredTokenPair) -> Instant {
    crate::clock::later(
        Instant::now(),
        pair.refresh_expires_in()
            .saturating_add(KEEP_AFTER_REFRESH_EXPIRY),
    )
}

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
            return Err(Error::invalid_input("session key", "is empty"));
        }
        if key.len() > Self::MAX_LEN {
            return Err(Error::invalid_input(
                "session key",
                format!(
                    "is {} bytes long; at most {} are allowed",
                    key.len(),
                    Self::MAX_LEN
                ),
            ));
        }
        if key.chars().any(char::is_control) {
            return Err(Error::invalid_input(
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
    /// when it was granted, `taken_over` whether any earlier holder's in-flight mark was
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

    /// The generation the store held when the lease was granted (0 for none).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// True when any earlier holder of a lease on the same generation neither stored nor
    /// released before its lease ran out: it may still store a pair it got, so a refusal
    /// of this holder's refresh token can mean that pair is on its way.
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

/// What [`Coordinator::release`] answers: whether another session may still store a
/// pair. A session whose refresh token was refused as spent learns from it how long a
/// newer pair may still be on its way (the sibling that spent the token may not have
/// stored its pair yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Released {
    /// Whether another holder of a lease on the stored generation has neither stored
    /// nor released (an in-flight mark other than the released lease's).
    pub others_in_flight: bool,
    /// How long another holder's lease still lasts, if one is live.
    pub lease_left: Option<Duration>,
}

impl Released {
    /// An answer (for [`Coordinator`] implementations).
    pub fn new(others_in_flight: bool, lease_left: Option<Duration>) -> Self {
        Self {
            others_in_flight,
            lease_left,
        }
    }
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
/// - **in-flight marks**: one for every holder granted a lease that has neither stored
///   nor released since, with the generation it refreshes. A mark outlives its lease and
///   no other holder's grant or release touches it, so every later holder, however many
///   took the lease over in between, learns that a predecessor may still store a pair it
///   got after its lease ran out. A mark goes when its holder stores or releases, or when
///   a generation above the one it refreshes is stored (the fence then refuses it).
///
/// A store may forget a subscriber once its pair's refresh token has expired (plus
/// [`KEEP_AFTER_REFRESH_EXPIRY`]), and marks without a pair once their lease has ended.
///
/// # The protocol
///
/// A session whose pair is due calls [`Coordinator::try_lease`] with the generation it
/// holds. Either the store holds a newer generation (the session adopts it, no request is
/// sent), or another session holds the lease (it waits and asks again), or it gets the
/// lease. The holder exchanges its refresh token, then calls [`Coordinator::commit`]: the
/// new pair is stored as a new generation **unless the store holds a generation above the
/// one the pair was refreshed from** (the fence). The check and the write are one step in
/// the coordinator, never a read followed by a write, so a holder whose lease ran out
/// (stalled, paused, partitioned) cannot overwrite a newer pair: it is told
/// [`CommitOutcome::Superseded`] and adopts the newer pair instead. A holder whose refresh
/// failed calls [`Coordinator::release`]; when it failed because the refresh token was
/// refused as spent, the release's answer ([`Released`]) says whether another holder may
/// still store the pair that spent it, and for how long the session should look for it.
///
/// The fence is the generation, not the lease: a holder whose lease ran out but whose
/// exchange succeeded still stores its pair when nobody stored a newer one meanwhile,
/// because its pair is then the only live one.
///
/// The protocol is checked exhaustively as a model (`src/session/model.rs`: up to three
/// sessions, stalls, lost answers, a kill and a store that loses its data), on the same
/// store rules the in-process coordinator runs (`src/session/coordinator/record.rs`).
///
/// # Implementing one
///
/// [`InProcessCoordinator`] keeps all of this in memory, for sessions in one process.
/// `signalwire-fabric-redis` keeps it in Redis, for sessions in many. Another store can
/// implement the trait; the behaviour it must have is checked, one named test per rule, by
/// `signalwire_fabric::testing::conformance_tests!` (feature `test-util`), and how sessions
/// sharing a subscriber through it behave by `signalwire_fabric::testing::scenario_tests!`.
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
    /// otherwise grants a lease based on the store's generation and marks it in flight;
    /// the lease says it was taken over when any other mark was there.
    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error>;

    /// Stores `pair`, which the holder of `lease` got by refreshing generation `seen`, as
    /// generation `max(stored, seen) + 1`, unless the store holds a generation above
    /// `seen`: then answers [`CommitOutcome::Superseded`] with the stored pair and writes
    /// nothing. Either way, lets go of the lease if it is still this lease's and of this
    /// lease's in-flight mark. A new generation drops the marks of holders that refresh a
    /// generation below it. The pair is kept until its refresh token expires, plus
    /// [`KEEP_AFTER_REFRESH_EXPIRY`].
    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error>;

    /// Gives the lease up if it is still this lease's, and this lease's in-flight mark;
    /// every other mark stays. Answers whether any other mark is left and how long a live
    /// lease of someone else's still lasts.
    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<Released, Error>;

    /// Stores a pair that starts a new chain (a freshly created subscriber token) as the
    /// next generation, whatever the store holds, clearing every in-flight mark. Returns
    /// the generation.
    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error>;

    /// A rate limiter whose state lives where this coordinator keeps sessions, shared by
    /// everything that shares the coordinator (so that instances of an app sharing a
    /// Redis coordinator count a user's requests once between them), if the coordinator
    /// offers one. `None` by default; [`InProcessCoordinator`] and
    /// `signalwire-fabric-redis`'s coordinator offer one.
    fn rate_limiter(&self) -> Option<Arc<dyn crate::RateLimiter>> {
        None
    }
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

    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<Released, Error> {
        (**self).release(key, lease).await
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        (**self).publish(key, pair).await
    }

    fn rate_limiter(&self) -> Option<Arc<dyn crate::RateLimiter>> {
        (**self).rate_limiter()
    }
}
