//! Per-user rate limits: governor's GCRA, keyed by [`SessionKey`], on tokio's clock.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Mutex;
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

/// The per-user limiter of one service. It forgets idle users by itself: a bucket is
/// full again at most one period after its user's last request, so once a period (on
/// the first request after it) the users whose bucket is full are dropped. It remembers
/// only the users who asked within about the last two periods, whoever they are and
/// whether or not they ever got a session.
pub(crate) struct UserLimiter {
    limiter: RateLimiter<
        SessionKey,
        HashMapStateStore<SessionKey>,
        TokioClock,
        NoOpMiddleware<Duration>,
    >,
    clock: TokioClock,
    /// How often idle users are looked for: the limit's period.
    sweep_every: Duration,
    /// When they are next looked for, on the limiter's clock.
    next_sweep: Mutex<Duration>,
}

impl UserLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        Self {
            limiter: RateLimiter::new(limit.quota(), HashMapStateStore::default(), clock.clone()),
            clock,
            sweep_every: limit.period(),
            next_sweep: Mutex::new(limit.period()),
        }
    }

    /// Counts a request of `key`'s user: `Err(wait)` when it is over the limit, `wait`
    /// being how long until one would be allowed. Once a period, forgets idle users.
    pub(crate) fn check(&self, key: &SessionKey) -> Result<(), Duration> {
        let verdict = self
            .limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()));
        if self.sweep_is_due() {
            self.forget_idle();
        }
        verdict
    }

    /// Whether a period has passed since idle users were last looked for; when it has,
    /// the next look is a period from now (so one caller sweeps, not every one).
    fn sweep_is_due(&self) -> bool {
        let now = self.clock.now();
        let mut next = self
            .next_sweep
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now < *next {
            return false;
        }
        *next = now + self.sweep_every;
        true
    }

    /// Forgets users whose bucket is full again, so the state holds only recent users.
    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many users the limiter remembers.
    pub(crate) fn users(&self) -> usize {
        self.limiter.len()
    }
}

impl fmt::Debug for UserLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserLimiter")
            .field("users", &self.users())
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
    }

    #[tokio::test(start_paused = true)]
    async fn idle_users_are_forgotten_once_a_period_without_anyone_asking_it_to() {
        let limit = RateLimit::new(NonZeroU32::new(3).expect("3"), Duration::from_secs(30));
        let limiter = UserLimiter::new(limit);
        let key = |n: usize| SessionKey::new(format!("user-{n}")).expect("key");
        for n in 0..500 {
            assert_eq!(limiter.check(&key(n)), Ok(()));
        }
        assert_eq!(limiter.users(), 500);
        // Within the period, nobody's bucket is full again and nobody is looked for.
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(limiter.check(&key(1)), Ok(()));
        assert_eq!(limiter.users(), 500);
        // A period on, every bucket but user 1's (who asked 2 s ago) is full again: the
        // next request, anyone's, forgets their users.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(limiter.check(&key(1000)), Ok(()));
        assert_eq!(limiter.users(), 2, "user 1 and user 1000: {limiter:?}");
        assert_eq!(format!("{limiter:?}"), "UserLimiter { users: 2 }");
        // Another period of quiet, and the next request leaves only its own user.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(limiter.check(&key(2000)), Ok(()));
        assert_eq!(limiter.users(), 1);
    }
}
