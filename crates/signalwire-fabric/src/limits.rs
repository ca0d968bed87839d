//! Per-key rate limits whose state lives where the app's instances can share it: the
//! [`RateLimiter`] seam, next to [`Coordinator`](crate::Coordinator), and the in-process
//! implementation.
//!
//! A limit is a bucket of `burst` requests refilled evenly over a `period`
//! ([`RateLimit`]), decided by the generic cell rate algorithm (GCRA): the state of one
//! key is a single number, the *theoretical arrival time* (TAT), so a limiter that keeps
//! it in a shared store (Redis, in `signalwire-fabric-redis`) decides each request with
//! one atomic step there (read the number, compare it with now, write it back with an
//! expiry) and every instance of the app counts against the same bucket. Every store
//! decides with [`RateLimit::decide`], so they all agree on the same sequence of requests.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, SessionKey};

/// The longest period a [`RateLimit`] keeps: longer ones are taken as this (a year).
pub const MAX_RATE_PERIOD: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// How many requests one key may make, as a bucket of `burst` requests refilled one by
/// one over `period`.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use signalwire_fabric::RateLimit;
///
/// let strict = RateLimit::new(NonZeroU32::new(5).expect("not zero"), Duration::from_secs(60));
/// assert_eq!(strict.burst().get(), 5);
/// assert_eq!(strict.interval(), Duration::from_secs(12));
/// assert_eq!(RateLimit::default(), RateLimit::new(NonZeroU32::new(20).expect("not zero"), Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    burst: NonZeroU32,
    period: Duration,
}

/// What a [`RateLimiter`] decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The request is within the limit (and was counted).
    Allowed,
    /// The request is over the limit (and was not counted): one would be allowed after
    /// `retry_after`.
    Limited {
        /// How long until a request would be allowed.
        retry_after: Duration,
    },
}

impl RateLimit {
    /// At most `burst` requests at once, refilled one by one over `period`. The period is
    /// kept in whole microseconds, at least one (a shorter one is no limit worth the
    /// name) and at most [`MAX_RATE_PERIOD`].
    pub fn new(burst: NonZeroU32, period: Duration) -> Self {
        let micros = period.as_micros().clamp(1, MAX_RATE_PERIOD.as_micros());
        Self {
            burst,
            period: Duration::from_micros(micros as u64),
        }
    }

    /// The most requests allowed at once.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    /// How long an empty bucket takes to fill again.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How long one request takes to come back: the period over the burst, in whole
    /// microseconds (at least one).
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.interval_micros())
    }

    fn interval_micros(&self) -> u64 {
        (self.period.as_micros() as u64 / u64::from(self.burst.get())).max(1)
    }

    /// How far ahead of now the theoretical arrival time may be for a request to pass:
    /// the interval times `burst − 1`, in microseconds.
    fn tolerance_micros(&self) -> u64 {
        self.interval_micros()
            .saturating_mul(u64::from(self.burst.get() - 1))
    }

    /// The arguments a store's script needs to make [`RateLimit::decide`]'s decision:
    /// the interval and the tolerance, in microseconds. Both are below 2^53, so a
    /// script whose numbers are doubles (Lua's) holds them exactly.
    pub fn gcra_micros(&self) -> (u64, u64) {
        (self.interval_micros(), self.tolerance_micros())
    }

    /// One decision of the generic cell rate algorithm, on a clock counting microseconds:
    /// `tat` is the theoretical arrival time stored for the key (`None` when nothing is
    /// stored), `now` the time of the request. Answers the decision and, when the request
    /// is allowed, the new time to store. A store may forget that time once `now` has
    /// reached it: from then on, nothing stored decides the same.
    ///
    /// Any store that keeps the state elsewhere decides with this, so that all of them
    /// agree (the Redis limiter's script is replayed against it in its tests).
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::Duration;
    /// use signalwire_fabric::{RateDecision, RateLimit};
    ///
    /// let limit = RateLimit::new(NonZeroU32::new(2).expect("2"), Duration::from_secs(2));
    /// let (first, tat) = limit.decide(None, 0);
    /// let (second, tat) = limit.decide(tat, 0);
    /// let (third, unchanged) = limit.decide(tat, 0);
    /// assert_eq!((first, second), (RateDecision::Allowed, RateDecision::Allowed));
    /// assert_eq!(third, RateDecision::Limited { retry_after: Duration::from_secs(1) });
    /// assert_eq!(unchanged, None);
    /// ```
    pub fn decide(&self, tat: Option<u64>, now: u64) -> (RateDecision, Option<u64>) {
        let tat = tat.unwrap_or(now);
        let earliest = tat.saturating_sub(self.tolerance_micros());
        if now < earliest {
            let retry_after = Duration::from_micros(earliest - now);
            return (RateDecision::Limited { retry_after }, None);
        }
        let next = tat.max(now).saturating_add(self.interval_micros());
        (RateDecision::Allowed, Some(next))
    }
}

/// 20 requests per key, refilled over a minute.
impl Default for RateLimit {
    fn default() -> Self {
        Self {
            burst: NonZeroU32::MIN.saturating_add(19),
            period: Duration::from_secs(60),
        }
    }
}

/// Where the rate limits of many callers are counted: in this process
/// ([`InProcessRateLimiter`]), or in a store every instance of the app shares, so that a
/// user gets the limit once across the fleet rather than once per instance
/// (`signalwire-fabric-redis`'s `RedisRateLimiter`: scripts on the server's clock, each
/// request decided on its own).
///
/// A [`Coordinator`](crate::Coordinator) that keeps sessions in a shared store offers
/// one in the same store ([`Coordinator::rate_limiter`](crate::Coordinator::rate_limiter)).
///
/// An implementation decides with [`RateLimit::decide`] on a clock of its own choosing
/// that all its callers share. Failures are [`Error::Coordinator`] (retryable); what a
/// caller does then is its own choice (`signalwire-fabric-axum` falls back to a limiter
/// in its own process).
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug + 'static {
    /// Counts one request of `key` against `limit`, unless it is over it.
    async fn check(&self, key: &SessionKey, limit: &RateLimit) -> Result<RateDecision, Error>;
}

/// A shared limiter is a limiter, so one `Arc<dyn RateLimiter>` can serve many callers.
#[async_trait::async_trait]
impl<L: RateLimiter + ?Sized> RateLimiter for Arc<L> {
    async fn check(&self, key: &SessionKey, limit: &RateLimit) -> Result<RateDecision, Error> {
        (**self).check(key, limit).await
    }
}

/// A [`RateLimiter`] in this process's memory, on tokio's clock (so a paused test clock
/// holds it too). Clones share one set of buckets.
///
/// It forgets idle keys by itself: a bucket is full again at most one period after its
/// key's last request, so once a period (on the first request after it) the keys whose
/// bucket is full are dropped. It remembers only the keys that asked within about the
/// last two periods.
///
/// ```
/// # async fn run() -> Result<(), signalwire_fabric::Error> {
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use signalwire_fabric::{InProcessRateLimiter, RateDecision, RateLimit, RateLimiter, SessionKey};
///
/// let limiter = InProcessRateLimiter::new();
/// let limit = RateLimit::new(NonZeroU32::new(1).expect("1"), Duration::from_secs(60));
/// let alice: SessionKey = "alice".parse()?;
/// assert_eq!(limiter.check(&alice, &limit).await?, RateDecision::Allowed);
/// assert!(matches!(limiter.check(&alice, &limit).await?, RateDecision::Limited { .. }));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InProcessRateLimiter {
    inner: Arc<Mutex<Buckets>>,
}

struct Buckets {
    /// Each key's theoretical arrival time, in microseconds since `origin`.
    tats: HashMap<SessionKey, u64>,
    origin: Instant,
    /// When idle keys are next looked for, in microseconds since `origin`.
    next_sweep: Option<u64>,
}

impl Default for InProcessRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessRateLimiter {
    /// An empty limiter whose clock starts now.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Buckets {
                tats: HashMap::new(),
                origin: Instant::now(),
                next_sweep: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a request of `key` against `limit` now: what [`RateLimiter::check`] does,
    /// without a future (it cannot fail).
    pub fn check_now(&self, key: &SessionKey, limit: &RateLimit) -> RateDecision {
        let mut buckets = self.lock();
        let now = buckets.origin.elapsed().as_micros() as u64;
        let (decision, tat) = limit.decide(buckets.tats.get(key).copied(), now);
        if let Some(tat) = tat {
            buckets.tats.insert(key.clone(), tat);
        }
        // Once a period, forget the keys whose bucket is full again.
        let period = limit.period().as_micros() as u64;
        match buckets.next_sweep {
            None => buckets.next_sweep = Some(now.saturating_add(period)),
            Some(at) if now >= at => {
                buckets.tats.retain(|_, tat| *tat > now);
                buckets.tats.shrink_to_fit();
                buckets.next_sweep = Some(now.saturating_add(period));
            }
            Some(_) => {}
        }
        decision
    }

    /// How many keys the limiter remembers.
    pub fn keys(&self) -> usize {
        self.lock().tats.len()
    }
}

impl fmt::Debug for InProcessRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessRateLimiter")
            .field("keys", &self.keys())
            .finish()
    }
}

#[async_trait::async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn check(&self, key: &SessionKey, limit: &RateLimit) -> Result<RateDecision, Error> {
        Ok(self.check_now(key, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(burst: u32, period: Duration) -> RateLimit {
        RateLimit::new(NonZeroU32::new(burst).expect("not zero"), period)
    }

    fn key(text: &str) -> SessionKey {
        SessionKey::new(text).expect("a key")
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_gets_the_burst_then_waits_for_the_refill_on_tokios_clock() {
        let limit = limit(3, Duration::from_secs(30));
        let limiter = InProcessRateLimiter::new();
        let (alice, bob) = (key("alice"), key("bob"));
        for _ in 0..3 {
            assert_eq!(limiter.check_now(&alice, &limit), RateDecision::Allowed);
        }
        let RateDecision::Limited { retry_after } = limiter.check_now(&alice, &limit) else {
            panic!("the fourth is over the limit");
        };
        assert_eq!(
            retry_after,
            Duration::from_secs(10),
            "one request comes back every 10 s"
        );
        assert_eq!(
            limiter.check_now(&bob, &limit),
            RateDecision::Allowed,
            "keys have their own buckets"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limiter.check_now(&alice, &limit), RateDecision::Allowed);
        assert!(matches!(
            limiter.check_now(&alice, &limit),
            RateDecision::Limited { .. }
        ));
        // Refused requests are not counted: the wait does not grow.
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(
            limiter.check_now(&alice, &limit),
            RateDecision::Limited {
                retry_after: Duration::from_secs(1)
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_keys_are_forgotten_once_a_period_without_anyone_asking_it_to() {
        let limit = limit(3, Duration::from_secs(30));
        let limiter = InProcessRateLimiter::new();
        let key = |n: usize| key(&format!("user-{n}"));
        for n in 0..500 {
            assert_eq!(limiter.check_now(&key(n), &limit), RateDecision::Allowed);
        }
        assert_eq!(limiter.keys(), 500);
        // Within the period, nobody's bucket is full again and nobody is looked for.
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(limiter.check_now(&key(1), &limit), RateDecision::Allowed);
        assert_eq!(limiter.keys(), 500);
        // A period on, every bucket but user 1's (who asked 2 s ago) is full again: the
        // next request, anyone's, forgets their keys.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(limiter.check_now(&key(1000), &limit), RateDecision::Allowed);
        assert_eq!(limiter.keys(), 2, "user 1 and user 1000: {limiter:?}");
        assert_eq!(format!("{limiter:?}"), "InProcessRateLimiter { keys: 2 }");
        // Another period of quiet, and the next request leaves only its own key.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(limiter.check_now(&key(2000), &limit), RateDecision::Allowed);
        assert_eq!(limiter.keys(), 1);
    }

    #[test]
    fn a_stored_time_in_the_past_decides_as_nothing_stored() {
        let limit = limit(4, Duration::from_secs(8));
        for now in [0, 5, 1_000_000, 1 << 50] {
            for past in [0, now / 2, now] {
                assert_eq!(limit.decide(Some(past), now), limit.decide(None, now));
            }
        }
    }

    #[test]
    fn periods_are_whole_microseconds_within_bounds_and_never_overflow() {
        let one = NonZeroU32::MIN;
        assert_eq!(
            RateLimit::new(one, Duration::ZERO).period(),
            Duration::from_micros(1)
        );
        assert_eq!(RateLimit::new(one, Duration::MAX).period(), MAX_RATE_PERIOD);
        let huge = RateLimit::new(NonZeroU32::MAX, MAX_RATE_PERIOD);
        let (interval, tolerance) = huge.gcra_micros();
        assert!(interval >= 1 && tolerance < (1 << 53));
        let tiny = RateLimit::new(NonZeroU32::MAX, Duration::from_secs(1));
        assert_eq!(tiny.gcra_micros(), (1, u64::from(u32::MAX - 1)));
        assert!(matches!(
            tiny.decide(Some(u64::MAX), u64::MAX - 1),
            (RateDecision::Allowed, Some(u64::MAX))
        ));
    }
}
