//! Sessions that share a subscriber, for the topology tests: made (the way
//! `signalwire_fabric::testing`'s shared suites make them), rotated, and checked on real
//! time with bounded waits.

use std::collections::HashSet;
use std::time::Duration;

use signalwire_fabric::testing::{RefreshEndpoint, first_session, joined_session, wait_until};
use signalwire_fabric::{AccessToken, Error, SessionKey, SubscriberSession};
use signalwire_fabric_redis::RedisCoordinator;
use tokio::time::Instant;

use super::doubles::text;

/// How long a rotation may take while a topology changes under it.
pub const WITHIN: Duration = Duration::from_secs(30);

/// A session for a new pair from `space`, published under `key` (waits until it is).
pub async fn first(
    space: &RefreshEndpoint,
    coordinator: RedisCoordinator,
    key: &SessionKey,
    lease: Duration,
) -> SubscriberSession {
    first_session(space, coordinator, key, space.create(), lease).await
}

/// A session that joins the pair stored under `key`.
pub async fn joined(
    space: &RefreshEndpoint,
    coordinator: RedisCoordinator,
    key: &SessionKey,
    lease: Duration,
) -> SubscriberSession {
    joined_session(space, coordinator, key, lease).await
}

/// Waits (polling, at most [`WITHIN`]) until `done` holds.
pub async fn until(what: &str, done: impl FnMut() -> bool) {
    wait_until(what, WITHIN, done).await;
}

/// Reports `refused` until the session hands out another token; meanwhile an attempt may
/// fail only with a retryable coordinator error (Redis changing under it), never with the
/// refused token.
pub async fn rotate(session: &SubscriberSession, refused: &AccessToken) -> AccessToken {
    let started = Instant::now();
    loop {
        match session.refresh_if_current(refused).await {
            Ok(token) => {
                assert_ne!(
                    text(&token),
                    text(refused),
                    "the refused token is no answer"
                );
                return token;
            }
            Err(error) => assert!(
                matches!(error, Error::Coordinator { .. }) && error.is_retryable(),
                "{error:?}"
            ),
        }
        assert!(started.elapsed() < WITHIN, "no rotation within {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`rotate`] in a task of its own.
pub fn rotate_later(
    session: &SubscriberSession,
    refused: &AccessToken,
) -> tokio::task::JoinHandle<AccessToken> {
    let session = session.clone();
    let refused = refused.clone();
    tokio::spawn(async move { rotate(&session, &refused).await })
}

/// Every session reports the first one's token refused at once; answers the tokens they
/// got (one, if they agree).
pub async fn rotate_everyone(sessions: &[SubscriberSession]) -> HashSet<String> {
    let refused = sessions[0].access_token().await.expect("valid");
    let turns: Vec<_> = sessions
        .iter()
        .map(|session| rotate_later(session, &refused))
        .collect();
    let mut served = HashSet::new();
    for turn in turns {
        served.insert(text(&turn.await.expect("no panic")));
    }
    served
}
