//! When a session refreshes each pair it holds: [`RefreshSchedule`].
//!
//! A fleet of sessions created together (a deploy, a morning sign-in peak) must not refresh
//! together: every refresh is a request to SignalWire, and a wave of them is a wave of 429
//! answers. Kubernetes renews each node certificate at a random point between 70 % and
//! 90 % of its lifetime for the same reason. The default schedule here does the same
//! with its own window, drawing a new point for every pair, so waves spread further with
//! every rotation instead of keeping their shape. BENCHMARKS.md §10 measures it against
//! the schedule sessions had before (a fixed lead with jitter drawn once per session).

use std::hash::Hasher as _;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::{earlier, later, scaled};
use crate::tokens::{ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME};
use crate::{AccessToken, Error, TokenPair};

/// When a session refreshes each pair it holds; set it with
/// [`SessionBuilder::refresh_schedule`](crate::SessionBuilder::refresh_schedule).
///
/// - [`RefreshSchedule::window`] (the default, [`DEFAULT_REFRESH_SCHEDULE`]: 75 % to 90 %
///   of the lifetime): each pair is refreshed at a point in a window of its lifetime,
///   drawn anew for every pair, so sessions created together drift apart with every
///   rotation. The point never falls later than the refresh-ahead margin before expiry
///   ([`SessionBuilder::refresh_ahead`](crate::SessionBuilder::refresh_ahead)).
/// - [`RefreshSchedule::fixed_lead`]: the margin plus a random jitter drawn once per
///   session, kept for every pair (the schedule before the window existed; also what
///   [`SessionBuilder::jitter`](crate::SessionBuilder::jitter) selects).
///
/// The examples build pairs and refresh them with `signalwire_fabric::testing` (feature
/// `test-util`), so that they run without a server.
///
/// ```
/// use std::time::Duration;
/// use signalwire_fabric::{RefreshSchedule, SubscriberSession, testing::RefreshEndpoint};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// let endpoint = RefreshEndpoint::single_use();
/// // Kubernetes' window for certificates: refresh between 70 % and 90 % of the lifetime.
/// let session = SubscriberSession::builder(endpoint.clone(), endpoint.create())
///     .refresh_schedule(RefreshSchedule::window(0.70, 0.90)?)
///     .build();
/// let due_in = session.status().refresh_in; // the pair lives two hours
/// assert!(due_in >= Duration::from_secs(5040) && due_in <= Duration::from_secs(6480));
/// # Ok(()) }
/// ```
///
/// # The window schedule in detail
///
/// A pair's *lifetime* runs from when it was issued to when its access token expires.
/// The time of issue is read from the refresh token's expiry, which SignalWire sets
/// [`REFRESH_TOKEN_LIFETIME`](crate::REFRESH_TOKEN_LIFETIME) after issue whatever the
/// access token's own lifetime (a pair whose times do not fit that, with a refresh token
/// that outlives its access token by more than its own lifetime, is taken to live
/// [`ACCESS_TOKEN_LIFETIME`](crate::ACCESS_TOKEN_LIFETIME)).
///
/// - **The point.** A fraction between `start` and `end`, the same for every session
///   that holds the pair: it is derived from a hash of the access token's text (a token
///   its holders share, and that every session hands out anyway), so siblings sharing a
///   [`Coordinator`](crate::Coordinator), in one process or many, agree on when the pair is
///   due, to within a second, whether they made the pair, adopted it after a sibling's
///   refresh, joined it or restored it. Nothing about the token is logged or shown.
/// - **The margin as a floor.** The point is never later than the refresh-ahead margin
///   before expiry. When the margin asks for more than the window leaves, the whole
///   window is scaled down toward the time of issue, keeping its proportions, rather than
///   cut off (which would put every point past the cut on the same instant). At most half
///   the lifetime counts as margin, so a short-lived token is refreshed half-way at the
///   earliest, not continuously.
/// - **Pairs past their point.** A pair that arrives after its point (restored or joined
///   late in its life, or a pair whose times say nothing useful) is refreshed between a
///   quarter and half-way through the time its access token has left (the fraction again
///   drawn from the token), never at once: a restart that restores many such pairs does
///   not send them all in the same second, and a pair that arrives nearly spent is not
///   refreshed in a loop. A pair whose access token has already expired is due at once.
///
/// Either way, the point is never after the access token's expiry, so a session never
/// hands out an expired token from its cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshSchedule {
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A point between these fractions of each pair's lifetime.
    Window { start: f64, end: f64 },
    /// The margin plus up to `jitter`, drawn once per session.
    FixedLead { jitter: Duration },
}

/// The default schedule: each pair refreshed at a point between 75 % and 90 % of its
/// lifetime (for a two-hour token, 12 to 30 minutes before it expires). Chosen by
/// measurement (BENCHMARKS.md §10): for a million sessions created within a minute, the
/// busiest second of the first rotation, the busiest second after a day, and the number
/// of refreshes a day all meet issue 22's goals, and every token keeps at least 12
/// minutes for retries when SignalWire answers 429.
pub const DEFAULT_REFRESH_SCHEDULE: RefreshSchedule = RefreshSchedule {
    kind: Kind::Window {
        start: 0.75,
        end: 0.90,
    },
};

impl Default for RefreshSchedule {
    fn default() -> Self {
        DEFAULT_REFRESH_SCHEDULE
    }
}

impl RefreshSchedule {
    /// Refresh each pair at a point between `start` and `end` of its lifetime (fractions:
    /// `0.75` is 75 %); see the type's docs. Fails unless `0 <= start <= end <= 1`.
    ///
    /// ```
    /// use signalwire_fabric::RefreshSchedule;
    ///
    /// let schedule = RefreshSchedule::window(0.8, 0.9)?;
    /// assert_eq!(schedule.window_fractions(), Some((0.8, 0.9)));
    /// assert!(RefreshSchedule::window(0.9, 0.8).is_err());
    /// assert!(RefreshSchedule::window(0.5, 1.5).is_err());
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    pub fn window(start: f64, end: f64) -> Result<Self, Error> {
        let fraction = |value: f64| (0.0..=1.0).contains(&value);
        if !(fraction(start) && fraction(end) && start <= end) {
            return Err(Error::invalid_input(
                "refresh window",
                format!(
                    "needs fractions of the lifetime with 0 <= start <= end <= 1, got {start} and {end}"
                ),
            ));
        }
        Ok(Self {
            kind: Kind::Window { start, end },
        })
    }

    /// Refresh every pair the refresh-ahead margin plus a random `jitter` before its
    /// access token expires, the jitter drawn once per session (from zero up to `jitter`)
    /// and kept for every pair; the lead is capped at half the time the access token has
    /// left when the session gets it. Sessions' schedule before [`RefreshSchedule::window`]
    /// became the default; [`SessionBuilder::jitter`](crate::SessionBuilder::jitter)
    /// selects it.
    ///
    /// A fleet created together stays together with it: each wave widens by only the
    /// jitter per rotation, and the cap puts every session whose lead is too long on the
    /// same instant. Use it where a refresh at an exact time matters more (tests; a
    /// handful of sessions).
    ///
    /// ```
    /// use std::time::Duration;
    /// use signalwire_fabric::{RefreshSchedule, SubscriberSession, testing::RefreshEndpoint};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let endpoint = RefreshEndpoint::single_use();
    /// let session = SubscriberSession::builder(endpoint.clone(), endpoint.create())
    ///     .refresh_ahead(Duration::from_secs(300))
    ///     .refresh_schedule(RefreshSchedule::fixed_lead(Duration::ZERO))
    ///     .build();
    /// // Exactly five minutes before the two-hour access token expires.
    /// assert_eq!(session.status().refresh_in, Duration::from_secs(7200 - 300));
    /// # }
    /// ```
    pub const fn fixed_lead(jitter: Duration) -> Self {
        Self {
            kind: Kind::FixedLead { jitter },
        }
    }

    /// The window's fractions of the lifetime, or `None` for a fixed lead.
    pub fn window_fractions(&self) -> Option<(f64, f64)> {
        match self.kind {
            Kind::Window { start, end } => Some((start, end)),
            Kind::FixedLead { .. } => None,
        }
    }

    /// When a session with this schedule and `refresh_ahead` margin refreshes `pair`, if
    /// it gets the pair at `now`: the function sessions themselves use, for planning
    /// (how many refreshes a fleet makes, and when) without building sessions. For a
    /// fixed lead, each call draws a new jitter, as each session does once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use signalwire_fabric::{DEFAULT_REFRESH_AHEAD, DEFAULT_REFRESH_SCHEDULE, testing};
    /// use tokio::time::Instant;
    ///
    /// let now = Instant::now();
    /// let pair = testing::pair("alice"); // issued now, access token lives two hours
    /// let at = DEFAULT_REFRESH_SCHEDULE.refresh_at(&pair, DEFAULT_REFRESH_AHEAD, now);
    /// let lead = pair.access_expires_at() - at;
    /// assert!(lead >= Duration::from_secs(12 * 60) && lead <= Duration::from_secs(30 * 60));
    /// // The same pair, looked at later by a sibling: the same point.
    /// let later = DEFAULT_REFRESH_SCHEDULE.refresh_at(&pair, DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(60));
    /// assert_eq!(at, later);
    /// ```
    pub fn refresh_at(&self, pair: &TokenPair, refresh_ahead: Duration, now: Instant) -> Instant {
        Schedule::new(*self, refresh_ahead).refresh_at(pair, now)
    }
}

/// One session's schedule: a [`RefreshSchedule`] with the session's margin (for a fixed
/// lead, the jitter it drew is included).
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    kind: Kind,
    margin: Duration,
}

impl Schedule {
    /// Draws what is drawn once per session.
    pub(super) fn new(schedule: RefreshSchedule, refresh_ahead: Duration) -> Self {
        let margin = match schedule.kind {
            Kind::FixedLead { jitter } => {
                refresh_ahead.saturating_add(scaled(jitter, fastrand::f64()))
            }
            Kind::Window { .. } => refresh_ahead,
        };
        Self {
            kind: schedule.kind,
            margin,
        }
    }

    /// When `pair`, installed at `now`, is due.
    pub(super) fn refresh_at(&self, pair: &TokenPair, now: Instant) -> Instant {
        let expires = pair.access_expires_at();
        match self.kind {
            Kind::FixedLead { .. } => {
                let left = expires.saturating_duration_since(now);
                earlier(expires, self.margin.min(left / 2))
            }
            Kind::Window { start, end } => {
                let lifetime = lifetime(pair);
                let draw = draw(pair.access_token());
                let margin = self.margin.min(lifetime / 2);
                let life = lifetime.as_secs_f64();
                // The latest fraction the margin allows (at least one half), and the
                // window scaled down to end there when it would end later.
                let latest = if life > 0.0 {
                    1.0 - margin.as_secs_f64() / life
                } else {
                    1.0
                };
                let scale = if end > latest { latest / end } else { 1.0 };
                let fraction = (start + draw * (end - start)) * scale;
                let at = earlier(expires, scaled(lifetime, 1.0 - fraction));
                if at > now {
                    return at;
                }
                // Past its point: between a quarter and half of what is left.
                let left = expires.saturating_duration_since(now);
                later(now, scaled(left, (1.0 + draw) / 4.0))
            }
        }
    }
}

/// How long `pair`'s access token lives from issue, read from its expiry times: the
/// refresh token expires [`REFRESH_TOKEN_LIFETIME`] after issue (whatever lifetime the
/// access token was given), so the access token lives that minus the gap between the
/// two. When the gap is that long or longer (times that do not come from SignalWire's
/// rules), the documented [`ACCESS_TOKEN_LIFETIME`].
fn lifetime(pair: &TokenPair) -> Duration {
    let gap = pair
        .refresh_expires_at()
        .saturating_duration_since(pair.access_expires_at());
    match REFRESH_TOKEN_LIFETIME.checked_sub(gap) {
        Some(lifetime) if !lifetime.is_zero() => lifetime,
        _ => ACCESS_TOKEN_LIFETIME,
    }
}

/// A number in `0.0..1.0`, uniform over tokens and the same for every holder of `token`
/// in every process and build: FNV-1a over the token's text (a fixed algorithm, unlike
/// the standard library's hasher), then a 64-bit finalizer so that every bit of the text
/// moves the result's top bits. Only the resulting fraction leaves this function.
fn draw(token: &AccessToken) -> f64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(token.expose_secret().as_bytes());
    let mut x = hasher.finish();
    // SplitMix64's output function.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    // The top 53 bits, as a double in [0, 1).
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RefreshToken;

    /// A token whose text differs from its neighbours' in a few characters only, the
    /// hardest case for a hash.
    fn access_token(seed: &str) -> AccessToken {
        AccessToken::parse(format!("eyJ0eXAiOiJTQVQifQ.{seed}.c2ln")).expect("a valid token")
    }

    #[test]
    fn draws_are_spread_evenly_and_fixed_per_token() {
        let draws: Vec<f64> = (0..10_000)
            .map(|n| draw(&access_token(&format!("user-{n}"))))
            .collect();
        let mut bins = [0u32; 10];
        for &draw in &draws {
            assert!((0.0..1.0).contains(&draw), "{draw}");
            bins[(draw * 10.0) as usize] += 1;
        }
        // 1,000 expected per bin; a fair draw stays within ±15 % (about 5 standard
        // deviations).
        assert!(bins.iter().all(|&n| (850..=1150).contains(&n)), "{bins:?}");
        assert_eq!(draw(&access_token("user-7")), draws[7]);
    }

    #[test]
    fn the_lifetime_comes_from_the_refresh_tokens_expiry() {
        let now = Instant::now();
        let pair = |access: u64, refresh: u64| {
            TokenPair::new(
                access_token("a"),
                RefreshToken::parse("eyJ0eXAiOiJSZWZyZXNoIn0.a.c2ln").expect("a valid token"),
                now + Duration::from_secs(access),
                now + Duration::from_secs(refresh),
            )
        };
        // Issued now with the documented lifetimes, or with a one-minute access token.
        assert_eq!(lifetime(&pair(7200, 7500)), Duration::from_secs(7200));
        assert_eq!(lifetime(&pair(60, 7500)), Duration::from_secs(60));
        // Issued an hour ago.
        assert_eq!(lifetime(&pair(3600, 3900)), Duration::from_secs(7200));
        // Times that do not fit the rule: the documented lifetime.
        assert_eq!(lifetime(&pair(60, 9000)), ACCESS_TOKEN_LIFETIME);
        assert_eq!(lifetime(&pair(0, 7500)), ACCESS_TOKEN_LIFETIME);
    }
}
