//! Per-user rate limits: the [`RateLimit`] counted by a [`RateLimiter`] the service's
//! instances may share (the coordinator's by default: in Redis, one bucket per user for
//! the whole fleet), with a limiter in this process to fall back on while the shared one
//! cannot be reached.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::{InProcessRateLimiter, RateDecision, RateLimit, RateLimiter, SessionKey};

use crate::metrics;

/// The per-user limiter of one service.
pub(crate) struct UserLimiter {
    limit: RateLimit,
    /// Where requests are counted: shared by every instance that shares it.
    shared: Arc<dyn RateLimiter>,
    /// This instance's own count, used only for requests the shared limiter could not
    /// decide (Redis unreachable): a user then gets the limit once per instance, never
    /// without limit, and nobody is refused for the limiter's fault.
    fallback: InProcessRateLimiter,
}

impl UserLimiter {
    pub(crate) fn new(limit: RateLimit, shared: Arc<dyn RateLimiter>) -> Self {
        Self {
            limit,
            shared,
            fallback: InProcessRateLimiter::new(),
        }
    }

    /// Counts a request of `key`'s user: `Err(wait)` when it is over the limit, `wait`
    /// being how long until one would be allowed.
    pub(crate) async fn check(&self, key: &SessionKey) -> Result<(), Duration> {
        let decision = match self.shared.check(key, &self.limit).await {
            Ok(decision) => decision,
            Err(error) => {
                metrics::rate_limiter_failed();
                tracing::warn!(%key, %error, "the shared rate limiter could not be asked; counting this request in this instance");
                self.fallback.check_now(key, &self.limit)
            }
        };
        match decision {
            RateDecision::Allowed => Ok(()),
            RateDecision::Limited { retry_after } => {
                metrics::rate_limited();
                Err(retry_after)
            }
        }
    }
}

impl fmt::Debug for UserLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserLimiter")
            .field("limit", &self.limit)
            .field("shared", &self.shared)
            .field("fallback", &self.fallback)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use signalwire_fabric::Error;

    use super::*;

    /// A shared limiter that cannot be reached.
    #[derive(Debug)]
    struct Unreachable;

    #[async_trait::async_trait]
    impl RateLimiter for Unreachable {
        async fn check(&self, _: &SessionKey, _: &RateLimit) -> Result<RateDecision, Error> {
            Err(Error::coordinator("down"))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_unreachable_shared_limiter_falls_back_to_this_instances_count() {
        let limit = RateLimit::new(NonZeroU32::new(2).expect("2"), Duration::from_secs(60));
        let limiter = UserLimiter::new(limit, Arc::new(Unreachable));
        let alice: SessionKey = "alice".parse().expect("a key");
        assert_eq!(limiter.check(&alice).await, Ok(()));
        assert_eq!(limiter.check(&alice).await, Ok(()));
        assert_eq!(limiter.check(&alice).await, Err(Duration::from_secs(30)));
        assert!(format!("{limiter:?}").contains("InProcessRateLimiter { keys: 1 }"));
    }
}
