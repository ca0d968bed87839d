//! The sessions one service keeps: one [`SubscriberSession`] per user, started once
//! however many requests for a new user arrive together, and the user's session token
//! each request without a fingerprint is answered with ([`UserSessions::token`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::response::Response;
use signalwire_fabric::{
    AccessToken, Coordinator, Error, RetryPolicy, SessionKey, SubscriberSession,
};
use tokio::sync::OnceCell;

use crate::SubscriberProfile;
use crate::answer;
use crate::failure::Failure;
use crate::tokens::NewTokens;

/// The users' sessions of one service: those started (or being started), and how a new
/// one starts.
pub(crate) struct UserSessions {
    sessions: Sessions,
    pub(crate) start: SessionStart,
}

/// How a user's session starts: joined from the coordinator, or on a new subscriber
/// token, with the service's refresh settings.
#[derive(Clone)]
pub(crate) struct SessionStart {
    pub(crate) coordinator: Arc<dyn Coordinator>,
    pub(crate) tokens: NewTokens,
    pub(crate) refresh_ahead: Duration,
    pub(crate) jitter: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
}

impl UserSessions {
    pub(crate) fn new(start: SessionStart) -> Self {
        Self {
            sessions: Sessions::default(),
            start,
        }
    }

    /// `key`'s session, if this service holds a started one.
    pub(crate) fn get(&self, key: &SessionKey) -> Option<SubscriberSession> {
        self.sessions.get(key)
    }

    /// How many users this service holds a session (or a slot) for.
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// The user's session token: see [`TokenService`](crate::TokenService)'s docs. With
    /// `refused` (a token the browser says SignalWire refused), the session refreshes now
    /// if that is its current token, and answers its newer token if it has moved past it
    /// ([`SubscriberSession::refresh_if_current`]); it never answers `refused` itself
    /// unless a refresh handed it out again. A session that ended is dropped and a new one
    /// started in the same request, never on the ended pair.
    pub(crate) async fn token(
        &self,
        profile: &SubscriberProfile,
        refused: Option<&AccessToken>,
    ) -> Result<Response, Failure> {
        let key = profile.key();
        // The generation of a session that ended here: never join it again.
        let mut ended: Option<u64> = None;
        let mut last_error = None;
        for _ in 0..2 {
            let (slot, prune) = self.sessions.slot(key);
            if prune {
                self.sessions.prune();
            }
            let session = match slot.get() {
                Some(session) => session.clone(),
                None => self.started(profile, ended, &slot).await?,
            };
            let token = match refused {
                Some(refused) => session.refresh_if_current(refused).await,
                None => session.access_token().await,
            };
            match token {
                Ok(_) => return Ok(answer::credential(&session.pair())),
                Err(error) if error.is_session_ended() => {
                    tracing::warn!(%key, error = %error, "the user's subscriber session ended; starting a new one");
                    ended = Some(session.status().generation);
                    self.sessions.remove(key, &slot);
                    last_error = Some(error);
                }
                Err(error) => return Err(Failure::upstream(key, &error)),
            }
        }
        let error = last_error.unwrap_or(Error::RefreshInterrupted);
        Err(Failure::upstream(key, &error))
    }

    /// The session `slot` holds once it is started, starting it if nobody is. The start
    /// runs in a task of its own, which the request only waits for: a request given up
    /// on (a closed tab, a reload, a proxy's timeout) would otherwise abandon a
    /// subscriber token half made, with the coordinator's lease still taken, and the
    /// user's next request would wait out the lease and create another. The task
    /// finishes creating and publishing the pair and fills the slot, so the next request
    /// finds the session (or waits for the same start) and nothing is created twice.
    async fn started(
        &self,
        profile: &SubscriberProfile,
        ended: Option<u64>,
        slot: &Slot,
    ) -> Result<SubscriberSession, Failure> {
        let key = profile.key();
        let start = self.start.clone();
        let owned = profile.clone();
        let slot = Arc::clone(slot);
        let task = tokio::spawn(async move {
            slot.get_or_try_init(|| start.start(&owned, ended))
                .await
                .cloned()
        });
        match task.await {
            Ok(started) => started,
            // The start panicked (a coordinator's bug, say): nothing was kept, and the
            // next request starts again. The panic's message is not logged: it could
            // quote anything.
            Err(_) => {
                tracing::error!(%key, "the task starting the user's session panicked");
                Err(Error::RefreshInterrupted)
            }
        }
        .map_err(|error| Failure::upstream(key, &error))
    }
}

impl SessionStart {
    /// A session for the user: joined from the coordinator, or on a new subscriber token
    /// that exactly one instance creates ([`SubscriberSession::join_or_create`]). After a
    /// session ended at generation `ended`, only a newer pair is joined.
    async fn start(
        &self,
        profile: &SubscriberProfile,
        ended: Option<u64>,
    ) -> Result<SubscriberSession, Error> {
        let key = profile.key();
        let request = self.tokens.request(profile);
        let client = self.tokens.client().clone();
        let builder = SubscriberSession::join_or_create(
            self.tokens.client().clone(),
            Arc::clone(&self.coordinator),
            key.clone(),
            ended.unwrap_or(0),
            || async move {
                let created = client.subscriber_tokens().create(request).await?;
                crate::metrics::created(crate::metrics::Created::Session);
                tracing::info!(%key, "created a subscriber token for the user");
                Ok(created.pair)
            },
        )
        .await?
        .refresh_ahead(self.refresh_ahead);
        let builder = match self.jitter {
            Some(jitter) => builder.jitter(jitter),
            None => builder,
        };
        Ok(match self.retry {
            Some(retry) => builder.retry(retry),
            None => builder,
        }
        .build())
    }
}

/// Where a user's session is, or is being started.
pub(crate) type Slot = Arc<OnceCell<SubscriberSession>>;

/// Below this many users, nothing is pruned.
const FIRST_PRUNE: usize = 1024;

/// The slots of the users' sessions, by key.
#[derive(Default)]
pub(crate) struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<SessionKey, Slot>,
    /// The number of users at which dead sessions are next pruned.
    prune_at: usize,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `key`'s session, if this service holds a started one.
    pub(crate) fn get(&self, key: &SessionKey) -> Option<SubscriberSession> {
        self.lock()
            .slots
            .get(key)
            .and_then(|slot| slot.get().cloned())
    }

    /// `key`'s slot, made empty when there is none. Returns whether sessions should be
    /// pruned now (see [`Sessions::prune`]).
    pub(crate) fn slot(&self, key: &SessionKey) -> (Slot, bool) {
        let mut inner = self.lock();
        if let Some(slot) = inner.slots.get(key) {
            return (Arc::clone(slot), false);
        }
        let slot = Slot::default();
        inner.slots.insert(key.clone(), Arc::clone(&slot));
        let prune = inner.slots.len() >= inner.prune_at.max(FIRST_PRUNE);
        (slot, prune)
    }

    /// Forgets `key`'s session if `slot` is still where it is kept (a newer one may have
    /// been started meanwhile).
    pub(crate) fn remove(&self, key: &SessionKey, slot: &Slot) {
        let mut inner = self.lock();
        if inner
            .slots
            .get(key)
            .is_some_and(|kept| Arc::ptr_eq(kept, slot))
        {
            inner.slots.remove(key);
        }
    }

    /// Forgets the sessions that can no longer give a token: ended ones, and ones whose
    /// refresh token has run out (the user has not asked for over two hours). Their
    /// users get a new session on their next request. Slots still being started stay.
    pub(crate) fn prune(&self) {
        let mut inner = self.lock();
        inner.slots.retain(|_, slot| match slot.get() {
            Some(session) => {
                let status = session.status();
                !status.ended && !status.refresh_expires_in.is_zero()
            }
            None => Arc::strong_count(slot) > 1,
        });
        inner.prune_at = inner.slots.len().saturating_mul(2);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().slots.len()
    }
}

#[cfg(test)]
mod tests {
    use signalwire_fabric::{Client, SubscriberSession, TokenPair, testing};
    use tokio::time::Instant;

    use super::*;

    fn key(name: &str) -> SessionKey {
        SessionKey::new(name).expect("a key")
    }

    /// A session that is never asked to refresh: the client points nowhere.
    fn session(pair: TokenPair) -> SubscriberSession {
        let client = Client::builder()
            .base_url("http://127.0.0.1:9")
            .project_id("9f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10")
            .api_token("PTnot-used")
            .build()
            .expect("a client");
        client.session(pair).build()
    }

    #[tokio::test]
    async fn pruning_keeps_live_and_starting_sessions_and_forgets_the_rest() {
        let sessions = Sessions::default();
        let (live, _) = sessions.slot(&key("live"));
        live.set(session(testing::pair("live"))).expect("empty");
        let (stale, _) = sessions.slot(&key("stale"));
        let now = Instant::now();
        let run_out = TokenPair::new(
            testing::access_token("stale"),
            testing::refresh_token("stale"),
            now,
            now,
        );
        stale.set(session(run_out)).expect("empty");
        let (starting, _) = sessions.slot(&key("starting"));
        drop(sessions.slot(&key("abandoned")));
        assert_eq!(sessions.len(), 4);

        sessions.prune();
        assert_eq!(sessions.len(), 2);
        assert!(sessions.get(&key("live")).is_some());
        assert!(sessions.get(&key("stale")).is_none());
        let (again, _) = sessions.slot(&key("starting"));
        assert!(
            Arc::ptr_eq(&again, &starting),
            "a slot being started is kept"
        );
    }

    #[test]
    fn pruning_is_asked_for_once_the_users_double() {
        let sessions = Sessions::default();
        let asked: Vec<usize> = (0..FIRST_PRUNE * 2)
            .filter_map(|n| {
                let (slot, prune) = sessions.slot(&key(&format!("user-{n}")));
                drop(slot);
                if prune {
                    sessions.prune();
                    Some(n + 1)
                } else {
                    None
                }
            })
            .collect();
        // At 1024 users, all abandoned, everything goes; then again 1024 later.
        assert_eq!(asked, [FIRST_PRUNE, 2 * FIRST_PRUNE]);
        assert_eq!(sessions.len(), 0);
        let (slot, _) = sessions.slot(&key("the one"));
        assert_eq!(sessions.len(), 1);
        sessions.remove(&key("the one"), &Slot::default());
        assert_eq!(sessions.len(), 1, "only the slot kept is removed");
        sessions.remove(&key("the one"), &slot);
        assert_eq!(sessions.len(), 0);
    }
}
