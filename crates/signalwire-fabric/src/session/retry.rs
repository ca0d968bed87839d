//! [`RetryPolicy`]: how long a session waits before it tries a failed refresh again.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_from_the_initial_ceiling_to_the_largest_and_honour_retry_after() {
        let policy = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for _ in 0..200 {
            assert!(policy.delay(1, None) <= Duration::from_millis(100));
            assert!(policy.delay(3, None) <= Duration::from_millis(400));
            assert!(
                policy.delay(40, None) <= Duration::from_secs(1),
                "capped, no overflow"
            );
            assert!(policy.delay(u32::MAX, None) <= Duration::from_secs(1));
            assert!(
                policy.delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7),
                "never sooner than Retry-After"
            );
        }
        let draws: std::collections::HashSet<_> = (0..50).map(|_| policy.delay(4, None)).collect();
        assert!(draws.len() > 10, "the waits are jittered: {draws:?}");
    }
}
