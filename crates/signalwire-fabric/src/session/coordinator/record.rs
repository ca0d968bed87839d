//! The rules of the coordination protocol as one pure state machine: what a store holds
//! for one subscriber and how it answers each operation.
//!
//! [`Record`] is the in-process coordinator's store ([`super::InProcessCoordinator`] and
//! the session's own [`super::Solo`]), the store of the protocol model
//! (`session::model`, checked with stateright), and the reference the Redis scripts are
//! replayed against (`testing::protocol`). Change a rule here and the model, the
//! in-process coordinator and the replay all see it; change a Redis script without it and
//! the replay fails.
//!
//! It is generic over the owner value `O` of a lease, the stored pair `P` and the instant
//! `T`, so that the model can run it on small numbers and the coordinator on real ones.
//! Nothing here reads a clock: the caller says what time it is.

/// One subscriber's state in a store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Record<O, P, T> {
    /// The newest pair and its generation (1, 2, ...); `None` when nothing is stored.
    shared: Option<(u64, P)>,
    /// Who holds the lease, and until when.
    lease: Option<(O, T)>,
    /// In-flight marks, sorted by owner: every holder granted a lease that has neither
    /// committed nor released, with the generation it refreshes. A mark outlives its
    /// lease, and no other holder's grant or release touches it, so every later holder
    /// learns that a predecessor may still commit a pair it got. It goes when its holder
    /// commits or releases, or when a generation above the one it refreshes is stored
    /// (the fence then refuses its commit, so it cannot store anything newer).
    in_flight: Vec<(O, u64)>,
    /// When the store may forget the record: the pair's refresh token's expiry plus a
    /// margin, or, for a record that holds marks but no pair, the end of its newest lease.
    keep_until: Option<T>,
}

/// What [`Record::try_lease`] answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Asked<P, T> {
    /// The store holds a newer generation than the caller's: adopt it.
    Newer(u64, P),
    /// Another lease is live until then.
    Held(T),
    /// Granted on generation `base`; `taken_over` when another holder's mark was there.
    Granted { base: u64, taken_over: bool },
}

/// What [`Record::release`] answers: who else may still commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Released<T> {
    /// Whether another holder's mark is there: it was granted a lease and has neither
    /// committed nor released, and the fence would still take its pair.
    pub(crate) others_in_flight: bool,
    /// Until when another holder's lease lasts, if there is one (live or not).
    pub(crate) lease_until: Option<T>,
}

/// What [`Record::commit`] answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Committed<P> {
    /// Stored as this generation.
    Stored(u64),
    /// The store holds a generation above the one the pair was refreshed from: this is
    /// its pair; nothing was written.
    Superseded(u64, P),
}

impl<O, P, T> Default for Record<O, P, T> {
    fn default() -> Self {
        Self {
            shared: None,
            lease: None,
            in_flight: Vec::new(),
            keep_until: None,
        }
    }
}

impl<O: Ord + Clone, P: Clone, T: Ord + Copy> Record<O, P, T> {
    /// The stored generation, 0 for none.
    pub(crate) fn generation(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |(generation, _)| *generation)
    }

    /// The stored pair and its generation.
    pub(crate) fn load(&self) -> Option<(u64, P)> {
        self.shared.clone()
    }

    fn mark(&self, owner: &O) -> Result<usize, usize> {
        self.in_flight.binary_search_by(|(held, _)| held.cmp(owner))
    }

    /// Asks for the lease at `now`, by a caller that holds generation `seen`, for a lease
    /// that would last `until`, under the new owner value `owner`.
    pub(crate) fn try_lease(&mut self, now: T, seen: u64, owner: O, until: T) -> Asked<P, T> {
        if let Some((generation, pair)) = self.shared.as_ref().filter(|(g, _)| *g > seen) {
            return Asked::Newer(*generation, pair.clone());
        }
        if let Some((_, held_until)) = self.lease.as_ref().filter(|(_, u)| now < *u) {
            return Asked::Held(*held_until);
        }
        let taken_over = !self.in_flight.is_empty();
        if let Err(at) = self.mark(&owner) {
            self.in_flight.insert(at, (owner.clone(), seen));
        }
        self.lease = Some((owner, until));
        if self.shared.is_none() {
            // Marks without a pair matter only while their lease lasts.
            self.keep_until = Some(until);
        }
        Asked::Granted {
            base: self.generation(),
            taken_over,
        }
    }

    /// Stores `pair`, got under `owner`'s lease by refreshing generation `seen`, as
    /// `max(stored, seen) + 1`, unless the store holds a generation above `seen` (the
    /// fence: a pair newer than the one this was refreshed from is stored); then it
    /// answers the stored pair and writes nothing. Either way the owner's lease and mark
    /// are let go of.
    pub(crate) fn commit(&mut self, owner: &O, seen: u64, pair: P, keep_until: T) -> Committed<P> {
        let _ = self.release(owner);
        let stored = self.generation();
        if let Some((generation, stored_pair)) = self.shared.as_ref().filter(|_| stored > seen) {
            return Committed::Superseded(*generation, stored_pair.clone());
        }
        let generation = seen.max(stored) + 1;
        self.store(generation, pair, keep_until);
        Committed::Stored(generation)
    }

    /// Lets go of the lease and the mark, if they are `owner`'s. Also how a lease granted
    /// to an ask whose answer never arrived is given up: its owner was never handed to a
    /// session, so nothing can be sent or committed under it.
    ///
    /// Answers whether anyone else may still commit a pair, and until when another
    /// holder's lease lasts: a session whose refresh token was refused learns from it how
    /// long a pair may still be on its way.
    pub(crate) fn release(&mut self, owner: &O) -> Released<T> {
        if self.lease.as_ref().is_some_and(|(held, _)| held == owner) {
            self.lease = None;
        }
        if let Ok(at) = self.mark(owner) {
            self.in_flight.remove(at);
        }
        if self.shared.is_none() && self.in_flight.is_empty() && self.lease.is_none() {
            self.keep_until = None;
        }
        Released {
            others_in_flight: !self.in_flight.is_empty(),
            lease_until: self.lease.as_ref().map(|(_, until)| *until),
        }
    }

    /// Stores a pair that starts a new chain as the next generation, whatever is stored.
    pub(crate) fn publish(&mut self, pair: P, keep_until: T) -> u64 {
        let generation = self.generation() + 1;
        self.store(generation, pair, keep_until);
        generation
    }

    /// Stores `pair` as `generation` and drops the marks of holders the fence now refuses
    /// (they refresh a generation below it).
    fn store(&mut self, generation: u64, pair: P, keep_until: T) {
        self.shared = Some((generation, pair));
        self.in_flight.retain(|(_, seen)| *seen >= generation);
        self.keep_until = Some(keep_until);
    }

    /// Ends the lease now (its time ran out); the marks stay.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn expire_lease(&mut self) {
        self.lease = None;
    }

    /// Whether nothing is stored, or everything stored may be forgotten at `now`.
    pub(crate) fn is_forgettable(&self, now: T) -> bool {
        let live_lease = self.lease.as_ref().is_some_and(|(_, until)| now < *until);
        !live_lease
            && match self.keep_until {
                Some(until) => now >= until,
                None => self.shared.is_none() && self.in_flight.is_empty(),
            }
    }

    /// Who holds the lease, and until when.
    #[cfg(test)]
    pub(crate) fn lease(&self) -> Option<&(O, T)> {
        self.lease.as_ref()
    }

    /// The owners of the in-flight marks.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> Vec<O> {
        self.in_flight
            .iter()
            .map(|(owner, _)| owner.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = Record<u8, &'static str, u32>;

    fn granted(record: &mut R, now: u32, seen: u64, owner: u8) -> (u64, bool) {
        match record.try_lease(now, seen, owner, now + 10) {
            Asked::Granted { base, taken_over } => (base, taken_over),
            other => panic!("granted expected, got {other:?}"),
        }
    }

    #[test]
    fn every_earlier_holder_that_may_still_commit_is_known_to_each_later_one() {
        // Issue 19: H stalls past its lease; A takes over, is refused and releases; B must
        // still learn of H, and so must C after B.
        let mut record = R::default();
        record.publish("p1", 1000);
        assert_eq!(granted(&mut record, 0, 1, 1), (1, false), "H");
        record.expire_lease();
        assert_eq!(granted(&mut record, 11, 1, 2), (1, true), "A takes over");
        record.release(&2);
        assert_eq!(
            granted(&mut record, 12, 1, 3),
            (1, true),
            "B, after A let go"
        );
        record.release(&3);
        assert_eq!(
            granted(&mut record, 13, 1, 4),
            (1, true),
            "C, after B let go"
        );
        record.release(&4);
        assert_eq!(record.in_flight(), [1]);
        // H resumes: its commit lands, and no mark is left.
        assert_eq!(record.commit(&1, 1, "p2", 2000), Committed::Stored(2));
        assert!(record.in_flight().is_empty());
        assert_eq!(granted(&mut record, 14, 2, 5), (2, false));
    }

    #[test]
    fn a_new_generation_clears_the_marks_of_holders_the_fence_now_refuses() {
        let mut record = R::default();
        record.publish("p1", 1000);
        granted(&mut record, 0, 1, 1);
        record.expire_lease();
        granted(&mut record, 11, 1, 2);
        assert_eq!(record.commit(&2, 1, "p2", 2000), Committed::Stored(2));
        assert!(
            record.in_flight().is_empty(),
            "1's mark went with generation 1"
        );
        assert_eq!(
            record.commit(&1, 1, "late", 2000),
            Committed::Superseded(2, "p2")
        );
        granted(&mut record, 12, 2, 3);
        assert_eq!(record.publish("new chain", 3000), 3);
        assert!(record.in_flight().is_empty(), "a publish clears them too");
    }

    #[test]
    fn a_live_lease_is_held_and_a_stale_ask_is_told_to_adopt() {
        let mut record = R::default();
        assert_eq!(granted(&mut record, 0, 0, 1), (0, false));
        assert_eq!(record.try_lease(5, 0, 2, 15), Asked::Held(10));
        assert_eq!(record.commit(&1, 0, "p1", 100), Committed::Stored(1));
        assert_eq!(record.try_lease(6, 0, 3, 16), Asked::Newer(1, "p1"));
        assert_eq!(record.lease(), None);
    }

    #[test]
    fn releasing_touches_only_the_callers_own_lease_and_mark() {
        let mut record = R::default();
        granted(&mut record, 0, 0, 1);
        let released = record.release(&9);
        assert_eq!(record.lease(), Some(&(1, 10)));
        assert_eq!(record.in_flight(), [1]);
        assert_eq!(
            released,
            Released {
                others_in_flight: true,
                lease_until: Some(10)
            },
            "a stale holder learns of the live one"
        );
        let released = record.release(&1);
        assert_eq!(record.lease(), None);
        assert!(record.in_flight().is_empty());
        assert_eq!(
            released,
            Released {
                others_in_flight: false,
                lease_until: None
            }
        );
    }

    #[test]
    fn a_record_is_forgettable_once_its_pair_or_its_last_lease_has_run_out() {
        let mut record = R::default();
        assert!(record.is_forgettable(0), "nothing stored");
        granted(&mut record, 0, 0, 1);
        assert!(!record.is_forgettable(5), "a live lease");
        assert!(
            record.is_forgettable(10),
            "marks without a pair last a lease"
        );
        record.publish("p1", 100);
        assert!(!record.is_forgettable(99));
        assert!(record.is_forgettable(100));
        let mut released = R::default();
        granted(&mut released, 0, 0, 1);
        let _ = released.release(&1);
        assert!(released.is_forgettable(1));
    }

    #[test]
    fn after_a_loss_a_commit_lands_over_a_generation_no_higher_than_the_one_it_refreshed() {
        // The store lost everything. Holder 1, at generation 2, is granted on the empty
        // store; its lease runs out; holder 2, a session still at generation 1, stores
        // generation 2 (a commit retried after its answer was lost).
        let mut record = R::default();
        assert_eq!(granted(&mut record, 0, 2, 1), (0, false));
        record.expire_lease();
        assert_eq!(granted(&mut record, 11, 1, 2), (0, true));
        assert_eq!(record.commit(&2, 1, "p2", 100), Committed::Stored(2));
        assert_eq!(
            record.in_flight(),
            [1],
            "holder 1 can still commit: its mark stays"
        );
        // Holder 1's pair was refreshed from generation 2: nothing above it is stored.
        assert_eq!(record.commit(&1, 2, "p3", 100), Committed::Stored(3));
        assert!(record.in_flight().is_empty());
    }

    #[test]
    fn a_store_that_lost_everything_still_takes_a_commit_and_generations_keep_growing() {
        let mut record = R::default();
        granted(&mut record, 0, 3, 1);
        assert_eq!(record.commit(&1, 3, "p4", 100), Committed::Stored(4));
    }
}
