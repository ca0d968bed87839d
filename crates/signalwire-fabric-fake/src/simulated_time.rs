//! [`SimulatedTime`]: a session against the fake on a paused tokio clock, hours in
//! milliseconds.

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use crate::{FakeClock, FakeSpace};

/// Simulated time for a test that runs a client (a `SubscriberSession`, say) against a
/// [`FakeSpace`] on tokio's paused clock: it moves tokio's clock and the fake's clock
/// together, and holds tokio's clock still while a request to the fake is in flight.
///
/// Two clocks are involved. The SDK takes its time from tokio (token lifetimes, the
/// refresh-ahead margin, retry waits, request timeouts), and a test pauses it to jump
/// hours ahead. The fake takes its time from its own [`FakeClock`] (it answers from a
/// thread of its own, outside the test's runtime), and checks every expiry on it. Moving
/// one without the other makes tokens expire on one side only: [`SimulatedTime::advance`]
/// moves both by the same amount.
///
/// A paused tokio clock also moves by itself: whenever the runtime has nothing to do
/// but wait, it jumps to the next timer. While a request waits for the fake's answer,
/// that next timer is the request's timeout, which would then fire at once.
/// [`SimulatedTime::hold`] keeps the clock still until the future it is given is done
/// (a blocking task in flight stops tokio's automatic advance), so run every call that
/// talks to the fake through it, and, after an [`advance`](SimulatedTime::advance),
/// wait through it for the work the advance started (for example
/// `hold(session.access_token())`, which waits for a refresh that came due) before
/// advancing again.
///
/// It needs a runtime whose clock is paused: `#[tokio::test(start_paused = true)]` or
/// `tokio::time::pause()` on a current-thread runtime (tokio's rule); `advance` panics
/// otherwise, as `tokio::time::advance` does. The crate documentation has a whole
/// example: a session through six simulated hours.
///
/// ```
/// use std::time::Duration;
/// use signalwire_fabric_fake::{FakeSpace, SimulatedTime};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let fake = FakeSpace::start().await;
/// let time = SimulatedTime::new(&fake);
/// let before = tokio::time::Instant::now();
/// time.advance(Duration::from_secs(3600)).await;
/// assert_eq!(before.elapsed(), Duration::from_secs(3600));
/// assert_eq!(fake.clock().offset(), Duration::from_secs(3600));
/// # }
/// ```
#[derive(Clone)]
pub struct SimulatedTime {
    clock: FakeClock,
}

impl SimulatedTime {
    /// Simulated time for `fake`, whose clock it moves along with tokio's.
    pub fn new(fake: &FakeSpace) -> Self {
        Self {
            clock: fake.clock().clone(),
        }
    }

    /// Moves the fake's clock and tokio's paused clock forward by `by`: timers due by
    /// then fire. Work they start that talks to the fake (a session's refresh, say) must
    /// then be waited for through [`hold`](SimulatedTime::hold) before the next advance.
    ///
    /// # Panics
    ///
    /// When tokio's clock is not paused, or outside a tokio runtime (as
    /// `tokio::time::advance` does).
    pub async fn advance(&self, by: Duration) {
        // The fake's clock first: a request a due timer starts must find the fake at the
        // new time already.
        self.clock.advance(by);
        tokio::time::advance(by).await;
    }

    /// Runs `future` with tokio's clock held still, so that waiting for the fake's
    /// answer cannot move it to a pending timeout. Returns what `future` returns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::CreateSubscriberToken;
    /// use signalwire_fabric_fake::{FakeSpace, SimulatedTime};
    ///
    /// let fake = FakeSpace::start().await;
    /// let time = SimulatedTime::new(&fake);
    /// let tokens = fake.client();
    /// let created = time
    ///     .hold(tokens.subscriber_tokens().create(CreateSubscriberToken::new("alice@example.com")))
    ///     .await?;
    /// # drop(created);
    /// # Ok(()) }
    /// ```
    pub async fn hold<F: IntoFuture>(&self, future: F) -> F::Output {
        // While a blocking task runs, tokio does not advance a paused clock by itself.
        // The task ends when `release` is dropped: after `future`, or if this call is
        // dropped first.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let _holder = tokio::task::spawn_blocking(move || {
            let _ = wait.recv();
        });
        let output = future.into_future().await;
        drop(release);
        output
    }
}

impl fmt::Debug for SimulatedTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedTime")
            .field("fake_clock", &self.clock)
            .finish()
    }
}
