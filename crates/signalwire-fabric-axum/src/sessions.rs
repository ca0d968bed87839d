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
