//! The fake's clock: real time since the fake started, plus a manual offset.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The furthest the clock can be moved ahead (about 1,000 years), so that the time it
/// reports always fits in a [`SystemTime`].
pub const MAX_CLOCK_OFFSET: Duration = Duration::from_secs(1000 * 365 * 24 * 60 * 60);

/// The time the fake lives by: the wall-clock time it started at, plus the real time
/// elapsed since (measured monotonically), plus whatever [`FakeClock::advance`] added.
///
/// Every expiry the fake checks uses this clock, so a test can jump past a token's
/// lifetime without waiting. Clones share the same offset.
///
/// ```
/// use std::time::Duration;
/// use signalwire_fabric_fake::FakeClock;
///
/// let clock = FakeClock::new();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(7200));
/// let moved = clock.now().duration_since(before).expect("the clock only moves forward");
/// assert!(moved >= Duration::from_secs(7200));
/// assert_eq!(clock.offset(), Duration::from_secs(7200));
/// ```
#[derive(Clone)]
pub struct FakeClock {
    inner: Arc<Inner>,
}

struct Inner {
    started_wall: SystemTime,
    started: Instant,
    offset: Mutex<Duration>,
}

impl FakeClock {
    /// A clock that reads the current time and has no offset.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                started_wall: SystemTime::now(),
                started: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> SystemTime {
        let real = self.inner.started_wall + self.inner.started.elapsed();
        real.checked_add(self.offset()).unwrap_or(real)
    }

    /// The current time in whole unix seconds (what `expire_at` is written in).
    pub fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0)
    }

    /// Moves the clock forward by `by` (in total at most [`MAX_CLOCK_OFFSET`]).
    pub fn advance(&self, by: Duration) {
        let mut offset = self
            .inner
            .offset
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *offset = offset.saturating_add(by).min(MAX_CLOCK_OFFSET);
    }

    /// How far [`FakeClock::advance`] has moved the clock in total.
    pub fn offset(&self) -> Duration {
        *self
            .inner
            .offset
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeClock")
            .field("now", &self.now())
            .field("offset", &self.offset())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_is_shared_by_clones_and_capped() {
        let clock = FakeClock::new();
        let clone = clock.clone();
        clone.advance(Duration::from_secs(60));
        assert_eq!(clock.offset(), Duration::from_secs(60));
        clock.advance(Duration::MAX);
        assert_eq!(clone.offset(), MAX_CLOCK_OFFSET);
        assert!(clock.now() > SystemTime::now() + Duration::from_secs(365 * 24 * 60 * 60));
    }
}
