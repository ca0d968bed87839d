//! Sessions that share one subscriber through a coordinator, made the way the shared
//! suites make them (a lease of the test's choosing, no jitter, quick retries), and a
//! bounded wait for what they do in the background.
//!
//! ```
//! use std::time::Duration;
//!
//! use signalwire_fabric::testing::{
//!     InProcessHarness, ConformanceHarness, RefreshEndpoint, first_session, joined_session,
//! };
//! use signalwire_fabric::SessionKey;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), signalwire_fabric::Error> {
//! let (space, harness) = (RefreshEndpoint::single_use(), InProcessHarness::default());
//! let key = SessionKey::new("user-1")?;
//! let lease = Duration::from_secs(2);
//! let first = first_session(&space, harness.coordinator().await, &key, space.create(), lease).await;
//! let second = joined_session(&space, harness.coordinator().await, &key, lease).await;
//! assert_eq!(
//!     first.access_token().await?.expose_secret(),
//!     second.access_token().await?.expose_secret()
//! );
//! # Ok(()) }
//! ```

use std::time::Duration;

use tokio::time::Instant;

use crate::{Coordinator, Refresher, RetryPolicy, SessionKey, SubscriberSession, TokenPair};

/// Retries that start at 20 ms and wait at most 200 ms, so a test on real time recovers
/// from a failed attempt quickly.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

/// A session for `pair` that publishes it to `coordinator` under `key`, with leases of
/// `lease`, no jitter and [`quick_retries`]; answered once it has served a token and the
/// pair is published (at most 30 s on tokio's clock, then panics).
pub async fn first_session(
    refresher: &(impl Refresher + Clone),
    coordinator: impl Coordinator,
    key: &SessionKey,
    pair: TokenPair,
    lease: Duration,
) -> SubscriberSession {
    let session = SubscriberSession::builder(refresher.clone(), pair)
        .coordinator(coordinator, key.clone())
        .lease(lease)
        .jitter(Duration::ZERO)
        .retry(quick_retries())
        .build();
    session
        .access_token()
        .await
        .expect("a fresh pair is served");
    wait_until("the pair is published", Duration::from_secs(30), || {
        session.status().generation > 0
    })
    .await;
    session
}

/// A session (on `coordinator`, a connection of its own where that means something) that
/// joins the pair stored under `key`, with leases of `lease`, no jitter and
/// [`quick_retries`]. Panics when the coordinator fails or holds no pair.
pub async fn joined_session(
    refresher: &(impl Refresher + Clone),
    coordinator: impl Coordinator,
    key: &SessionKey,
    lease: Duration,
) -> SubscriberSession {
    SubscriberSession::join(refresher.clone(), coordinator, key.clone())
        .await
        .expect("the coordinator answers")
        .expect("a pair is shared")
        .lease(lease)
        .jitter(Duration::ZERO)
        .retry(quick_retries())
        .build()
}

/// Polls `done` every 5 ms on tokio's clock (so a paused clock moves on) until it holds;
/// panics naming `what` once `within` has passed.
pub async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "waited {within:?} for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
