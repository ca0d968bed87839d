//! Sessions that share a subscriber, for the topology tests: made (the way
//! `signalwire_fabric::testing`'s shared suites make them), rotated, and checked on real
//! time with bounded waits.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::testing::{RefreshEndpoint, first_session, joined_session, wait_until};
use signalwire_fabric::{AccessToken, Error, SessionKey, SubscriberSession};
use signalwire_fabric_redis::RedisCoordinator;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::doubles::{space, text};

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
pub fn rotate_later(session: &SubscriberSession, refused: &AccessToken) -> JoinHandle<AccessToken> {
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

/// Two more rotations of `sessions` (their second and third): one token for everyone,
/// one exchange each, nothing spent twice, every session on the new generation.
pub async fn two_more_rotations(sessions: &[SubscriberSession], space: &RefreshEndpoint) {
    for rotation in 2..=3 {
        let served = rotate_everyone(sessions).await;
        assert_eq!(served.len(), 1, "one token for everyone");
        assert_eq!(space.refreshes(), rotation, "one exchange per rotation");
        assert_eq!(space.refused(), 0, "nothing spent twice");
        for session in sessions {
            assert_eq!(session.status().generation, 1 + rotation as u64);
        }
    }
}

/// A rotation held mid-way, for the tests that change a topology under it: three
/// sessions share a subscriber (each with a coordinator of its own); the first has the
/// lease and SignalWire's answer, which its space holds back; the other two have reported
/// the same token refused and wait.
pub struct HeldRotation {
    /// The space, whose first answer is held back.
    pub space: RefreshEndpoint,
    /// The holder first, then its two siblings.
    pub sessions: Vec<SubscriberSession>,
    gate: Arc<Semaphore>,
    holder: Option<JoinHandle<AccessToken>>,
    siblings: Vec<JoinHandle<AccessToken>>,
}

impl HeldRotation {
    /// Three sessions on `key`, with leases of `lease`, each on a coordinator
    /// `coordinator` makes; answers once SignalWire answered the holder and both siblings
    /// are rotating.
    pub async fn start(
        key: &SessionKey,
        lease: Duration,
        coordinator: impl Fn() -> RedisCoordinator,
    ) -> Self {
        let gate = Arc::new(Semaphore::new(0));
        let space = space().hold_first_answer(Arc::clone(&gate));
        let mut sessions = vec![first(&space, coordinator(), key, lease).await];
        for _ in 0..2 {
            sessions.push(joined(&space, coordinator(), key, lease).await);
        }
        let old = sessions[0].access_token().await.expect("valid");
        let holder = rotate_later(&sessions[0], &old);
        until("SignalWire answered the holder", || space.refreshes() == 1).await;
        let siblings = sessions[1..]
            .iter()
            .map(|session| rotate_later(session, &old))
            .collect();
        Self {
            space,
            sessions,
            gate,
            holder: Some(holder),
            siblings,
        }
    }

    /// Whether no sibling has finished its rotation yet.
    pub fn siblings_wait(&self) -> bool {
        self.siblings.iter().all(|sibling| !sibling.is_finished())
    }

    /// Lets the holder's answer through; the token the holder rotated to.
    pub async fn let_through(&mut self) -> AccessToken {
        self.gate.add_permits(1);
        let holder = self.holder.take().expect("let through once");
        holder.await.expect("no panic")
    }

    /// Waits until both siblings adopted `rotated` (what [`HeldRotation::let_through`]
    /// answered) and every session holds generation 2; nothing was spent twice.
    pub async fn adopted_by_all(&mut self, rotated: &AccessToken) {
        for sibling in self.siblings.drain(..) {
            assert_eq!(
                text(&sibling.await.expect("no panic")),
                text(rotated),
                "the siblings adopted the holder's pair"
            );
        }
        for session in &self.sessions {
            until("every session holds the committed pair", || {
                session.status().generation == 2
            })
            .await;
        }
        assert_eq!(self.space.refreshes(), 1, "one exchange");
        assert_eq!(self.space.refused(), 0, "nothing spent twice");
    }
}
