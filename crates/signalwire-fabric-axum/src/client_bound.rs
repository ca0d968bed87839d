//! Client-bound tokens already minted, for browsers that authenticate again: the browser
//! SDK calls `authenticate` with its fingerprint on every reconnect, and a token minted
//! for the same user and fingerprint is bound to the same browser's key pair, so while it
//! has enough life left it is answered again instead of minting another at SignalWire.
//!
//! The cache is this process's: bounded (a number of tokens, and a few per user),
//! forgetting tokens once they have too little life left, and keyed by the user's
//! [`SessionKey`] (from the app's sign-in, never from the request) with the subscriber
//! reference and the fingerprint, so that one user can never be answered another's
//! token. A token minted for a key is minted once however many of the browser's requests
//! arrive together (the first mints, the others wait for it).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use signalwire_fabric::{AccessToken, SessionKey};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::SubscriberProfile;

/// The most client-bound tokens kept for one user: more browsers than that reconnecting
/// in turn mint anew, as without a cache.
pub(crate) const MAX_PER_USER: usize = 16;

/// How often, at most, the cache looks through all its tokens for ones it can forget
/// when it is full, and how often it does anyway.
const SWEEP_WHEN_FULL: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A client-bound access token and when it expires, on tokio's clock. Its refresh token
/// is not kept: the browser refreshes such a token itself, with its key pair. (`Debug`
/// shows the token as `[redacted]`.)
#[derive(Clone, Debug)]
pub(crate) struct Minted {
    pub(crate) token: AccessToken,
    pub(crate) expires_at: Instant,
}

/// Where a token for one user and fingerprint is, or is being minted.
pub(crate) type Slot = Arc<OnceCell<Minted>>;

struct Entry {
    reference: Box<str>,
    fingerprint: Box<str>,
    slot: Slot,
}

/// The client-bound tokens of one service.
pub(crate) struct ClientBoundCache {
    inner: Mutex<Cache>,
    /// The most tokens kept (0: none, every authenticate with a fingerprint mints).
    pub(crate) capacity: usize,
    /// How much life a token must have left to be answered again.
    pub(crate) min_left: Duration,
}

struct Cache {
    users: HashMap<SessionKey, Vec<Entry>>,
    entries: usize,
    last_sweep: Instant,
}

impl ClientBoundCache {
    pub(crate) fn new(capacity: usize, min_left: Duration) -> Self {
        Self {
            inner: Mutex::new(Cache {
                users: HashMap::new(),
                entries: 0,
                last_sweep: Instant::now(),
            }),
            capacity,
            min_left,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `minted` may be answered again now.
    pub(crate) fn fresh(&self, minted: &Minted) -> bool {
        minted.expires_at.saturating_duration_since(Instant::now()) > self.min_left
    }

    /// The slot of `profile`'s user's token for `fingerprint`, made empty when there is
    /// none; `None` when nothing may be kept (the cache is off, or full of tokens that
    /// are all still good).
    pub(crate) fn slot(&self, profile: &SubscriberProfile, fingerprint: &str) -> Option<Slot> {
        if self.capacity == 0 {
            return None;
        }
        let mut cache = self.lock();
        let now = Instant::now();
        if let Some(entry) = cache.users.get(profile.key()).and_then(|entries| {
            entries.iter().find(|entry| {
                &*entry.fingerprint == fingerprint && &*entry.reference == profile.reference()
            })
        }) {
            return Some(Arc::clone(&entry.slot));
        }
        let since = now.saturating_duration_since(cache.last_sweep);
        if (cache.entries >= self.capacity && since >= SWEEP_WHEN_FULL) || since >= SWEEP_EVERY {
            self.sweep(&mut cache, now);
        }
        if cache.entries >= self.capacity {
            return None;
        }
        let slot = Slot::default();
        let entries = cache.users.entry(profile.key().clone()).or_default();
        if entries.len() >= MAX_PER_USER {
            // The one that expires first (or an empty one) makes room.
            let oldest = entries
                .iter()
                .enumerate()
                .min_by_key(|(_, entry)| entry.slot.get().map(|minted| minted.expires_at))
                .map(|(index, _)| index);
            if let Some(index) = oldest {
                entries.swap_remove(index);
            }
        } else {
            cache.entries += 1;
        }
        let entries = cache.users.entry(profile.key().clone()).or_default();
        entries.push(Entry {
            reference: profile.reference().into(),
            fingerprint: fingerprint.into(),
            slot: Arc::clone(&slot),
        });
        Some(slot)
    }

    /// Forgets `slot` for `key` if it is still kept (a newer one may be there instead).
    pub(crate) fn remove(&self, key: &SessionKey, slot: &Slot) {
        let mut cache = self.lock();
        let Some(entries) = cache.users.get_mut(key) else {
            return;
        };
        let before = entries.len();
        entries.retain(|entry| !Arc::ptr_eq(&entry.slot, slot));
        let removed = before - entries.len();
        if entries.is_empty() {
            cache.users.remove(key);
        }
        cache.entries -= removed;
    }

    /// Forgets `token` if it is one of `key`'s user's (a token SignalWire refused, so the
    /// browser's next authenticate mints another). Answers whether it was kept.
    pub(crate) fn forget_token(&self, key: &SessionKey, token: &AccessToken) -> bool {
        let mut cache = self.lock();
        let Some(entries) = cache.users.get_mut(key) else {
            return false;
        };
        let before = entries.len();
        entries.retain(|entry| entry.slot.get().is_none_or(|minted| minted.token != *token));
        let removed = before - entries.len();
        if entries.is_empty() {
            cache.users.remove(key);
        }
        cache.entries -= removed;
        removed > 0
    }

    /// Forgets the tokens with too little life left, and the slots nobody is minting in
    /// any more (a request given up before its token came).
    fn sweep(&self, cache: &mut Cache, now: Instant) {
        let min_left = self.min_left;
        let mut entries = 0;
        cache.users.retain(|_, kept| {
            kept.retain(|entry| match entry.slot.get() {
                Some(minted) => minted.expires_at.saturating_duration_since(now) > min_left,
                None => Arc::strong_count(&entry.slot) > 1,
            });
            entries += kept.len();
            !kept.is_empty()
        });
        cache.users.shrink_to_fit();
        cache.entries = entries;
        cache.last_sweep = now;
    }

    /// How many tokens (and slots being minted) are kept.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries
    }
}

impl fmt::Debug for ClientBoundCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBoundCache")
            .field("tokens", &self.len())
            .field("capacity", &self.capacity)
            .field("min_left", &self.min_left)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use signalwire_fabric::testing;

    use super::*;

    fn profile(user: &str) -> SubscriberProfile {
        SubscriberProfile::new(
            SessionKey::new(format!("user-{user}")).expect("a key"),
            format!("{user}@example.com"),
        )
    }

    fn minted(seed: &str, left: Duration) -> Minted {
        Minted {
            token: testing::access_token(seed),
            expires_at: Instant::now() + left,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test(start_paused = true)]
    async fn one_slot_per_user_reference_and_fingerprint() {
        let cache = ClientBoundCache::new(100, Duration::from_secs(300));
        let alice = profile("alice");
        let slot = cache.slot(&alice, "fp-1").expect("room");
        slot.set(minted("a1", HOUR)).expect("empty");
        let again = cache.slot(&alice, "fp-1").expect("kept");
        assert!(Arc::ptr_eq(&slot, &again));
        // Another fingerprint, another user with the same fingerprint, or the same key
        // with another reference: each its own slot.
        let other_fingerprint = cache.slot(&alice, "fp-2").expect("room");
        let bob_same_fingerprint = cache.slot(&profile("bob"), "fp-1").expect("room");
        let renamed = SubscriberProfile::new(alice.key().clone(), "alice@elsewhere.example");
        let other_reference = cache.slot(&renamed, "fp-1").expect("room");
        for other in [&other_fingerprint, &bob_same_fingerprint, &other_reference] {
            assert!(!Arc::ptr_eq(&slot, other));
            assert!(other.get().is_none());
        }
        assert_eq!(cache.len(), 4);
        cache.remove(alice.key(), &slot);
        assert_eq!(cache.len(), 3);
        assert!(!Arc::ptr_eq(
            &slot,
            &cache.slot(&alice, "fp-1").expect("room")
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_stays_within_its_capacity_and_forgets_what_runs_out() {
        let cache = ClientBoundCache::new(10, Duration::from_secs(300));
        let mut held = Vec::new();
        for n in 0..10 {
            let slot = cache.slot(&profile(&format!("u{n}")), "fp").expect("room");
            slot.set(minted(&format!("t{n}"), HOUR)).expect("empty");
            held.push(slot);
        }
        assert_eq!(cache.len(), 10);
        // Full of good tokens: nothing more is kept (the caller mints without caching).
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.slot(&profile("late"), "fp").is_none());
        assert_eq!(cache.len(), 10);
        // Once they have less than the margin left, the next sweep forgets them.
        tokio::time::advance(HOUR - Duration::from_secs(200)).await;
        assert!(cache.slot(&profile("late"), "fp").is_some());
        assert_eq!(cache.len(), 1);
        assert!(!cache.fresh(held[0].get().expect("minted")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_keeps_at_most_a_few_tokens_and_the_first_to_expire_makes_room() {
        let cache = ClientBoundCache::new(1_000, Duration::from_secs(300));
        let alice = profile("alice");
        for n in 0..MAX_PER_USER + 5 {
            let slot = cache.slot(&alice, &format!("fp-{n}")).expect("room");
            // The later ones live longer.
            let left = HOUR + Duration::from_secs(n as u64);
            slot.set(minted(&format!("t{n}"), left)).expect("empty");
        }
        assert_eq!(cache.len(), MAX_PER_USER);
        // The five that expired first made room for the last five.
        assert!(cache.slot(&alice, "fp-0").expect("room").get().is_none());
        assert!(
            cache
                .slot(&alice, &format!("fp-{}", MAX_PER_USER + 4))
                .expect("kept")
                .get()
                .is_some()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_token_is_forgotten_only_for_its_own_user() {
        let cache = ClientBoundCache::new(100, Duration::from_secs(300));
        let (alice, bob) = (profile("alice"), profile("bob"));
        let token = minted("shared-looking", HOUR);
        cache
            .slot(&alice, "fp")
            .expect("room")
            .set(token.clone())
            .expect("empty");
        assert!(
            !cache.forget_token(bob.key(), &token.token),
            "bob cannot touch alice's"
        );
        assert_eq!(cache.len(), 1);
        assert!(cache.forget_token(alice.key(), &token.token));
        assert_eq!(cache.len(), 0);
        assert!(cache.slot(&alice, "fp").expect("room").get().is_none());
    }
}
