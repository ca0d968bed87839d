//! Sessions that share one subscriber through a coordinator, made the way the shared
//! suites make them (a lease of the test's choosing, no jitter, quick retries), a bounded
//! wait for what they do in the background, and checks of what they do: a rotation that
//! served everyone one token after one refresh, an end after a refusal for good.
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

use std::collections::HashSet;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::RefreshEndpoint;
use crate::{
    AccessToken, Coordinator, Error, Refresher, RetryPolicy, SessionEnd, SessionKey,
    SubscriberSession, TokenPair,
};

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

/// Panics unless `error` ended its session because SignalWire refused the refresh token
/// for good ([`Error::SessionEnded`] with [`SessionEnd::Refused`]), which tells the caller
/// to create a new subscriber token.
///
/// ```
/// use signalwire_fabric::SubscriberSession;
/// use signalwire_fabric::testing::{RefreshEndpoint, assert_ended_by_refusal, pair};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let space = RefreshEndpoint::single_use();
/// let session = SubscriberSession::builder(space, pair("unknown")).build();
/// let token = session.access_token().await.expect("valid");
/// let error = session.refresh_if_current(&token).await.expect_err("refused");
/// assert_ended_by_refusal(&error);
/// # }
/// ```
#[track_caller]
pub fn assert_ended_by_refusal(error: &Error) {
    assert!(
        matches!(
            error,
            Error::SessionEnded {
                reason: SessionEnd::Refused,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.requires_new_subscriber_token(), "{error:?}");
}

/// Checks rotation number `rotation` of `sessions`, which share a subscriber refreshed
/// through `space`: every one of `callers` got a token, the same one; `space` has answered
/// exactly `rotation` refreshes and refused none (no spent token was ever sent); every
/// session holds generation `1 + rotation`. Answers the token's text.
///
/// ```
/// use std::time::Duration;
///
/// use signalwire_fabric::SessionKey;
/// use signalwire_fabric::testing::{
///     ConformanceHarness, InProcessHarness, RefreshEndpoint, assert_rotated_once,
///     first_session, joined_session,
/// };
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// let (space, harness) = (RefreshEndpoint::single_use(), InProcessHarness::default());
/// let key = SessionKey::new("user-1")?;
/// let lease = Duration::from_secs(2);
/// let sessions = vec![
///     first_session(&space, harness.coordinator().await, &key, space.create(), lease).await,
///     joined_session(&space, harness.coordinator().await, &key, lease).await,
/// ];
/// let old = sessions[0].access_token().await?;
/// let callers = sessions
///     .iter()
///     .map(|session| {
///         let (session, old) = (session.clone(), old.clone());
///         tokio::spawn(async move { session.refresh_if_current(&old).await })
///     })
///     .collect();
/// let served = assert_rotated_once(&space, &sessions, 1, callers).await;
/// assert_ne!(served, old.expose_secret());
/// # Ok(()) }
/// ```
pub async fn assert_rotated_once(
    space: &RefreshEndpoint,
    sessions: &[SubscriberSession],
    rotation: usize,
    callers: Vec<JoinHandle<Result<AccessToken, Error>>>,
) -> String {
    let mut served = HashSet::new();
    for caller in callers {
        let token = caller.await.expect("no panic").expect("a token");
        served.insert(token.expose_secret().to_owned());
    }
    assert_eq!(
        space.refreshes(),
        rotation,
        "exactly one refresh per rotation"
    );
    assert_eq!(space.refused(), 0, "no spent token was ever sent");
    assert_eq!(
        served.len(),
        1,
        "every caller of every session got the same token"
    );
    for session in sessions {
        assert_eq!(session.status().generation, 1 + rotation as u64);
    }
    served.into_iter().next().unwrap_or_default()
}
