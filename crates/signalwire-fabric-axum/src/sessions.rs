//! The sessions one service keeps: one [`SubscriberSession`] per user, started once
//! however many requests for a new user arrive together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use signalwire_fabric::{SessionKey, SubscriberSession};
use tokio::sync::OnceCell;

/// Where a user's session is, or is being started.
pub(crate) type Slot = Arc<OnceCell<SubscriberSession>>;

/// Below this many users, nothing is pruned.
const FIRST_PRUNE: usize = 1024;

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
