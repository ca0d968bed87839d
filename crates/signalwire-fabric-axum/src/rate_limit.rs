//! Per-user rate limits: governor's GCRA, keyed by [`SessionKey`], on tokio's clock.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use signalwire_fabric::SessionKey;

/// How many requests one user may make to the endpoints (both count), as a bucket of
/// `burst` requests refilled evenly over `period`.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use signalwire_fabric_axum::RateLimit;
///
/// let strict = RateLimit::new(NonZeroU32::new(5).expect("not zero"), Duration::from_secs(60));
/// assert_eq!(strict.burst().get(), 5);
/// assert_eq!(RateLimit::default(), RateLimit::new(NonZeroU32::new(20).expect("not zero"), Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    burst: NonZeroU32,
    period: Duration,
}

impl RateLimit {
    /// At most `burst` requests at once, refilled one by one over `period` (a zero
    /// period is taken as one nanosecond: no limit worth the name).
    pub fn new(burst: NonZeroU32, period: Duration) -> Self {
        Self {
            burst,
            period: period.max(Duration::from_nanos(1)),
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

    fn quota(&self) -> Quota {
        let per_request = self.period / self.burst.get();
        Quota::with_period(per_request.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(self.burst))
            .allow_burst(self.burst)
    }
}

/// 20 requests per user, refilled over a minute: room for several tabs signing in at
/// once and the browser SDK's five refresh attempts, but not for a loop.
impl Default for RateLimit {
    fn default() -> Self {
        Self {
            burst: NonZeroU32::MIN.saturating_add(19),
            period: Duration::from_secs(60),
        }
    }
}

/// governor's clock, read from tokio's (so a paused test clock holds it too): the time
/// since the limiter was made.
#[derive(Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// The per-user limiter of one service.
pub(crate) struct UserLimiter {
    limiter: RateLimiter<
        SessionKey,
        HashMapStateStore<SessionKey>,
        TokioClock,
        NoOpMiddleware<Duration>,
    >,
    clock: TokioClock,
}

impl UserLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        Self {
            limiter: RateLimiter::new(limit.quota(), HashMapStateStore::default(), clock.clone()),
            clock,
        }
    }

    /// Counts a request of `key`'s user: `Err(wait)` when it is over the limit, `wait`
    /// being how long until one would be allowed.
    pub(crate) fn check(&self, key: &SessionKey) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets users whose bucket is full again, so the state holds only recent users.
    pub(crate) fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

impl fmt::Debug for UserLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserLimiter")
            .field("users", &self.limiter.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_user_gets_the_burst_then_waits_for_the_refill_on_tokios_clock() {
        let limit = RateLimit::new(NonZeroU32::new(3).expect("3"), Duration::from_secs(30));
        let limiter = UserLimiter::new(limit);
        let alice: SessionKey = "alice".parse().expect("key");
        let bob: SessionKey = "bob".parse().expect("key");
        for _ in 0..3 {
            assert_eq!(limiter.check(&alice), Ok(()));
        }
        let wait = limiter
            .check(&alice)
            .expect_err("the fourth is over the limit");
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(10),
            "one request comes back every 10 s: {wait:?}"
        );
        assert_eq!(limiter.check(&bob), Ok(()), "users have their own buckets");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limiter.check(&alice), Ok(()));
        assert!(limiter.check(&alice).is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        limiter.forget_idle();
        assert_eq!(limiter.limiter.len(), 0, "full buckets are forgotten");
    }
}
