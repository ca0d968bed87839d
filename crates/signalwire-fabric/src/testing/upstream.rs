//! [`Upstream`], SignalWire's refresh endpoint as a fleet of sessions on tokio's paused
//! clock meets it: a limit of refreshes per second answered beyond with 429 and
//! `Retry-After`, and checks of what each session sends (whether it waited as long as it
//! was told, whether its access token had expired first). The herd tests and the herd
//! bench run their fleets against it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::pair;
use crate::{Error, ErrorCode, FieldError, RefreshToken, Refresher, TokenPair};

/// SignalWire's refresh endpoint for many sessions at once. It hands out a new pair,
/// unique in the run, for every refresh of a live refresh token (each usable once),
/// allows at most `limit` refreshes in each second since it started and answers 429 with
/// `Retry-After` beyond that; and it counts what it saw ([`UpstreamTally`]). Each session
/// reaches it through a [`caller`](Upstream::caller) of its own, which tells it who asks.
///
/// It keeps a hash of each live refresh token, not its text, so a million sessions fit.
///
/// ```
/// use std::time::Duration;
///
/// use signalwire_fabric::Refresher;
/// use signalwire_fabric::testing::Upstream;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// let upstream = Upstream::new(2, Some(1), Duration::from_secs(5));
/// let (alice, bob) = (upstream.create(), upstream.create());
/// upstream.caller(0).refresh(alice.refresh_token()).await?;
/// let error = upstream.caller(1).refresh(bob.refresh_token()).await.expect_err("429");
/// assert_eq!(error.retry_after(), Some(Duration::from_secs(5)));
/// // Bob asks again at once, not after the 5 s he was told; and Alice's token is spent.
/// tokio::time::advance(Duration::from_secs(1)).await;
/// upstream.caller(1).refresh(bob.refresh_token()).await?;
/// tokio::time::advance(Duration::from_secs(1)).await;
/// upstream.caller(0).refresh(alice.refresh_token()).await.expect_err("spent");
/// let tally = upstream.tally();
/// assert_eq!((tally.issued, tally.rate_limited), (4, 1));
/// assert_eq!((tally.too_early, tally.refused, tally.lapsed), (1, 1, 0));
/// assert_eq!(upstream.per_second(), [1, 1]);
/// # Ok(()) }
/// ```
pub struct Upstream {
    start: Instant,
    limit: Option<u32>,
    retry_after: Duration,
    state: Mutex<State>,
}

struct State {
    /// Live refresh tokens (by a hash of their text), with when their access tokens expire.
    live: HashMap<u64, Instant>,
    /// When each session (by number) was told by a 429 that it may ask again.
    not_before: Vec<Option<Instant>>,
    /// Refreshes answered 201, per second since the start.
    per_second: Vec<u32>,
    second: u64,
    this_second: u32,
    tally: UpstreamTally,
}

/// What an [`Upstream`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTally {
    /// Pairs handed out: those [`Upstream::create`] made and every refresh answered 201.
    pub issued: u64,
    /// Refreshes answered 429.
    pub rate_limited: u64,
    /// Refreshes from a session sooner than the `Retry-After` it was last told.
    pub too_early: u64,
    /// Refreshes that came after the access token they replace had expired.
    pub lapsed: u64,
    /// Refreshes refused because their refresh token was spent or unknown.
    pub refused: u64,
    /// The least time an access token had left when it was replaced (`Duration::MAX`
    /// before the first refresh).
    pub least_left: Duration,
}

fn text_hash(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl Upstream {
    /// An endpoint started now, room made for `sessions` sessions (more may come),
    /// allowing `limit` refreshes a second (`None`: all) and telling the session it
    /// turns away to wait `retry_after`.
    pub fn new(sessions: usize, limit: Option<u32>, retry_after: Duration) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            limit,
            retry_after,
            state: Mutex::new(State {
                live: HashMap::with_capacity(sessions),
                not_before: vec![None; sessions],
                per_second: Vec::new(),
                second: 0,
                this_second: 0,
                tally: UpstreamTally {
                    issued: 0,
                    rate_limited: 0,
                    too_early: 0,
                    lapsed: 0,
                    refused: 0,
                    least_left: Duration::MAX,
                },
            }),
        })
    }

    /// When it started: the seconds it counts begin here.
    pub fn started(&self) -> Instant {
        self.start
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new pair (the `n`th handed out is [`pair`]`(n)`), issued now with SignalWire's
    /// lifetimes, its refresh token live.
    fn issue(state: &mut State) -> TokenPair {
        state.tally.issued += 1;
        let pair = pair(&state.tally.issued.to_string());
        state.live.insert(
            text_hash(pair.refresh_token().expose_secret()),
            pair.access_expires_at(),
        );
        pair
    }

    /// A pair as a subscriber token's creation hands it out: new, its refresh token live.
    pub fn create(&self) -> TokenPair {
        Self::issue(&mut self.lock())
    }

    /// The way to this endpoint for session number `session`.
    pub fn caller(self: &Arc<Self>, session: usize) -> UpstreamCaller {
        UpstreamCaller {
            upstream: Arc::clone(self),
            session,
        }
    }

    /// What it saw so far.
    pub fn tally(&self) -> UpstreamTally {
        self.lock().tally.clone()
    }

    /// Refreshes answered 201 in each second since it started, up to the last second
    /// one was answered in.
    pub fn per_second(&self) -> Vec<u32> {
        self.lock().per_second.clone()
    }
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("limit", &self.limit)
            .field("retry_after", &self.retry_after)
            .field("tally", &self.tally())
            .finish_non_exhaustive()
    }
}

/// One session's way to an [`Upstream`] (see [`Upstream::caller`]): a [`Refresher`]
/// that says which session is asking.
#[derive(Clone, Debug)]
pub struct UpstreamCaller {
    upstream: Arc<Upstream>,
    session: usize,
}

#[async_trait::async_trait]
impl Refresher for UpstreamCaller {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        let now = Instant::now();
        let upstream = &self.upstream;
        let mut state = upstream.lock();
        if state.not_before.len() <= self.session {
            state.not_before.resize(self.session + 1, None);
        }
        if let Some(at) = state.not_before[self.session].take()
            && now < at
        {
            state.tally.too_early += 1;
        }
        let second = (now - upstream.start).as_secs();
        if second != state.second {
            state.second = second;
            state.this_second = 0;
        }
        if upstream
            .limit
            .is_some_and(|limit| state.this_second >= limit)
        {
            state.tally.rate_limited += 1;
            state.not_before[self.session] = Some(now + upstream.retry_after);
            return Err(Error::rate_limited().with_retry_after(upstream.retry_after));
        }
        state.this_second += 1;
        let Some(expires) = state.live.remove(&text_hash(refresh_token.expose_secret())) else {
            state.tally.refused += 1;
            return Err(Error::rejected([FieldError::new(
                ErrorCode::TokenInvalid,
                "Token is invalid.",
            )]));
        };
        if now >= expires {
            state.tally.lapsed += 1;
        }
        state.tally.least_left = state
            .tally
            .least_left
            .min(expires.saturating_duration_since(now));
        let index = usize::try_from(second).unwrap_or(usize::MAX);
        if let Some(count) = state.per_second.get_mut(index) {
            *count += 1;
        } else if index < usize::MAX {
            state.per_second.resize(index, 0);
            state.per_second.push(1);
        }
        Ok(Upstream::issue(&mut state))
    }
}
