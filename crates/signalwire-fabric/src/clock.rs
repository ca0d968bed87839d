//! Instant arithmetic that cannot panic.
//!
//! `Instant + Duration` panics on overflow, and a duration can come from a server
//! (`Retry-After`), a store or a caller. Every instant the crate computes goes through
//! here instead.

use std::time::Duration;

use tokio::time::Instant;

/// Far enough ahead to mean "never" for anything this crate schedules.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `at + by`, or as far ahead as an instant can be when that overflows.
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .or_else(|| at.checked_add(NEVER))
        .unwrap_or(at)
}

/// `at - by`, or `at` itself when that would fall before the clock's start.
pub(crate) fn earlier(at: Instant, by: Duration) -> Instant {
    at.checked_sub(by).unwrap_or(at)
}

/// `duration * factor` for a factor in `0.0..=1.0`, never panicking.
pub(crate) fn scaled(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor.clamp(0.0, 1.0))
        .unwrap_or(duration)
        .min(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_overflows() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(earlier(now, Duration::MAX) <= now);
        assert_eq!(scaled(Duration::MAX, 1.0), Duration::MAX);
        assert_eq!(scaled(Duration::from_secs(10), 0.5), Duration::from_secs(5));
        assert_eq!(
            scaled(Duration::from_secs(10), f64::NAN),
            Duration::from_secs(10)
        );
    }
}
