//! The due timer: ends the hot path's view of a pair when the pair's refresh point comes,
//! so that the hot path itself never reads a clock.
//!
//! Each refresh point gets a tokio sleep until a millisecond before it (see
//! [`serve_until`]), polled once, by the session's worker, with a waker of ours: when
//! tokio's time driver fires it, the waker records the timer as fired in
//! [`Shared::fired`], which the hot path checks. Nothing else runs then, and no task is
//! kept per session. The record is made before any task runs: on the paused clock of a
//! test, the test's own future runs first after `tokio::time::advance`, and must already
//! see it. Callers then take the slow path, which reads the clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::state::Shared;

/// The hot path stops serving a pair a millisecond before its refresh point, and the due
/// timer fires then: tokio's timers fire on whole milliseconds, rounded up, so a timer
/// set for the point itself could fire up to a millisecond after it, while the hot path
/// still served. Set a millisecond early, it fires no later than the point; a call in
/// that millisecond takes the slow path, which reads the clock and serves.
pub(super) fn serve_until(refresh_at: Instant) -> Instant {
    crate::clock::earlier(refresh_at, Duration::from_millis(1))
}

/// A timer armed for one refresh point. Dropped (replaced by a newer one, or with its
/// session), it is cancelled.
pub(super) struct DueTimer {
    /// The refresh point it is armed for.
    pub(super) at: Instant,
    /// Its number: timers armed later have larger ones, and none has 0.
    pub(super) number: u64,
    _sleep: Pin<Box<Sleep>>,
}

impl DueTimer {
    /// Arms timer `number` of `shared` for `at`. Must run inside a tokio runtime with
    /// time enabled (the session's worker task): tokio panics otherwise, and a panic in
    /// the worker stays in the worker.
    pub(super) fn arm(shared: Weak<Shared>, at: Instant, number: u64) -> Self {
        let mut sleep = Box::pin(tokio::time::sleep_until(serve_until(at)));
        let fired = Waker::from(Arc::new(Fired { shared, number }));
        if let Poll::Ready(()) = sleep.as_mut().poll(&mut Context::from_waker(&fired)) {
            fired.wake_by_ref();
        }
        Self {
            at,
            number,
            _sleep: sleep,
        }
    }
}

/// The waker the sleep is polled with: records its timer as fired.
struct Fired {
    shared: Weak<Shared>,
    number: u64,
}

impl Wake for Fired {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.fired.fetch_max(self.number, Ordering::Release);
        }
    }
}
