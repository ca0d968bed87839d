//! The session's state: one value behind a lock, its phases, the view of it the hot path
//! reads without a lock, the timer that ends that view when the pair comes due, and
//! [`Shared::change`], the way every change is made.
//!
//! The hot path reads no clock: [`Hot::servable`] is worked out, with the clock, at every
//! change, and the due timer of the current pair's refresh point (see [`super::due`])
//! turns it off when that point comes. Until a timer is armed (for a session built
//! outside a runtime, say) the view is not servable and every call takes the slow path,
//! which reads the clock itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Instant;

use super::coordinator::{Coordinator, Lease, SessionKey};
use super::due::{DueTimer, serve_until};
use super::schedule::Schedule;
use super::{Refresher, RetryPolicy, TokenStore, worker};
use crate::{AccessToken, Error, TokenPair};

pub(super) struct Shared {
    pub(super) refresher: Arc<dyn Refresher>,
    pub(super) store: Arc<dyn TokenStore>,
    pub(super) coordinator: Arc<dyn Coordinator>,
    pub(super) key: SessionKey,
    /// When each pair this session gets is due.
    pub(super) schedule: Schedule,
    pub(super) retry: RetryPolicy,
    pub(super) lease: Duration,
    /// What the hot path reads without a lock; rewritten at every change of `state`.
    pub(super) hot: ArcSwap<Hot>,
    /// Changed only through [`Shared::change`]; never held across an `.await`.
    state: Mutex<State>,
    /// Woken at every change, for callers waiting on the worker.
    changed: Notify,
    /// This session, for the due timer (which must not keep it alive).
    me: Weak<Shared>,
    /// The number of the latest due timer that fired: the hot view of a pair whose timer
    /// has fired is not served.
    pub(super) fired: AtomicU64,
}

/// What the hot path reads without a lock.
pub(super) struct Hot {
    pub(super) access_token: AccessToken,
    /// Whether the cached token may be handed out as is, without the slow path: the pair
    /// is current, its refresh point has not come (the due timer turns this off when it
    /// does), and the worker has nothing to do (no refresh under way or retrying, no pair
    /// to save, publish or commit); never once the session has ended.
    pub(super) servable: bool,
    /// The number of the due timer that ends this view (see [`Hot::serves`]).
    pub(super) timer: u64,
}

impl Hot {
    /// Whether the hot path may hand out [`Hot::access_token`] of `shared` as is.
    #[inline]
    pub(super) fn serves(&self, shared: &Shared) -> bool {
        self.servable && shared.fired.load(Ordering::Acquire) < self.timer
    }
}

/// The session's state: one value, changed only through [`Shared::change`] (and, for
/// starting the worker, which no waiter looks at, [`Shared::ensure_worker`]).
pub(super) struct State {
    pub(super) pair: TokenPair,
    /// The coordinator's generation of `pair`; 0 until the pair is published there.
    pub(super) generation: u64,
    /// When the current pair is due for a refresh.
    pub(super) refresh_at: Instant,
    /// Whether `pair` is in the [`TokenStore`].
    pub(super) saved: bool,
    /// A pair this session got but could not commit yet: the lease it was got under and
    /// the generation it replaced. Committing it comes before anything else.
    pub(super) uncommitted: Option<Box<(Lease, u64)>>,
    pub(super) phase: Phase,
    /// Whether a worker task is running.
    pub(super) worker: bool,
    /// How many attempts have finished (refreshed, adopted, failed or interrupted); a
    /// caller waiting for an attempt waits for this to grow.
    pub(super) finished_attempts: u64,
    pub(super) refreshes: u64,
    pub(super) failed_attempts: u32,
    pub(super) last_error: Option<Box<Error>>,
    /// The latest due timer armed: for `refresh_at` (see the module docs), or for an
    /// earlier point.
    due_timer: Option<DueTimer>,
}

/// Where the session is between refreshes; see the module docs for the transitions.
#[derive(Debug, Clone)]
pub(super) enum Phase {
    Current,
    Refreshing,
    RetryingAt(Instant),
    Ended(Box<Error>),
}

impl State {
    pub(super) fn ended(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Ended(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the worker has something to do other than a refresh.
    pub(super) fn chores(&self) -> bool {
        !self.saved || self.generation == 0 || self.uncommitted.is_some()
    }

    /// Whether no due timer is armed for the current refresh point: the worker arms one
    /// (if the point is still ahead) when it looks for its next job.
    pub(super) fn timer_missing(&self) -> bool {
        self.due_timer
            .as_ref()
            .is_none_or(|timer| timer.at != self.refresh_at)
    }
}

impl State {
    /// A state for `pair`, due at `refresh_at`, of `generation` (0: not in the
    /// coordinator yet), `saved` or not.
    pub(super) fn new(pair: TokenPair, generation: u64, refresh_at: Instant, saved: bool) -> Self {
        Self {
            pair,
            generation,
            refresh_at,
            saved,
            uncommitted: None,
            phase: Phase::Current,
            worker: false,
            finished_attempts: 0,
            refreshes: 0,
            failed_attempts: 0,
            last_error: None,
            due_timer: None,
        }
    }
}

/// What the hot path may serve of `state` at `now`.
pub(super) fn hot_view(state: &State, now: Instant) -> Hot {
    let timer = state.due_timer.as_ref().filter(|_| !state.timer_missing());
    Hot {
        access_token: state.pair.access_token().clone(),
        servable: matches!(state.phase, Phase::Current)
            && !state.chores()
            && now < serve_until(state.refresh_at)
            && timer.is_some(),
        timer: timer.map_or(0, |timer| timer.number),
    }
}

impl Shared {
    /// A session's shared part; `me` is the `Weak` of the `Arc` it is built in
    /// (`Arc::new_cyclic`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        me: Weak<Shared>,
        refresher: Arc<dyn Refresher>,
        store: Arc<dyn TokenStore>,
        coordinator: Arc<dyn Coordinator>,
        key: SessionKey,
        schedule: Schedule,
        retry: RetryPolicy,
        lease: Duration,
        state: State,
    ) -> Self {
        let hot = hot_view(&state, Instant::now());
        Self {
            refresher,
            store,
            coordinator,
            key,
            schedule,
            retry,
            lease,
            hot: ArcSwap::from_pointee(hot),
            state: Mutex::new(state),
            changed: Notify::new(),
            me,
            fired: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the state.
    pub(super) fn read<R>(&self, read: impl FnOnce(&State) -> R) -> R {
        read(&self.lock())
    }

    /// A future that completes at the next change made after this call. Enable it (see
    /// [`Notified::enable`]) before reading the state, so that a change between the read
    /// and the wait is not missed.
    pub(super) fn next_change(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// Changes the state with `change`, publishes the result to the hot path, and wakes
    /// every waiter. Returns what `change`
    /// returns.
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let result = {
            let mut state = self.lock();
            let result = change(&mut state);
            self.hot.store(Arc::new(hot_view(&state, Instant::now())));
            result
        };
        self.changed.notify_waiters();
        result
    }

    /// Arms the due timer for the current pair's refresh point, unless it is armed or
    /// the point has come. Called by the worker only (see [`DueTimer::arm`]).
    pub(super) fn arm_due_timer(&self, state: &mut State) {
        let at = state.refresh_at;
        if !state.timer_missing() || Instant::now() >= serve_until(at) {
            return;
        }
        // Numbered one above the timer it replaces, so numbers only grow.
        let number = state.due_timer.as_ref().map_or(1, |timer| timer.number + 1);
        // The timer it replaces, if any, is cancelled when dropped here.
        state.due_timer = Some(DueTimer::arm(self.me.clone(), at, number));
    }

    /// Starts the worker unless it runs already (or the session has ended): the one state
    /// change that does not go through [`Shared::change`], because it changes nothing a
    /// waiter or the hot path looks at, so nobody is woken and the hot view is not
    /// rewritten.
    pub(super) fn ensure_worker(self: &Arc<Self>) {
        let mut state = self.lock();
        if !state.worker && state.ended().is_none() {
            state.worker = true;
            tokio::spawn(worker::supervised(Arc::clone(self)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// A state in `phase`, `saved` or not, of `generation`, with its due timer armed.
    fn state(phase: Phase, saved: bool, generation: u64) -> State {
        let pair = testing::pair("state");
        let at = pair.access_expires_at() - Duration::from_secs(600);
        let mut state = State::new(pair, generation, at, saved);
        state.phase = phase;
        state.due_timer = Some(DueTimer::arm(Weak::new(), at, 1));
        state
    }

    #[tokio::test(start_paused = true)]
    async fn the_hot_path_serves_only_a_current_pair_before_its_point_with_nothing_to_do() {
        let now = Instant::now();
        assert!(hot_view(&state(Phase::Current, true, 1), now).servable);
        assert!(
            !hot_view(&state(Phase::Current, false, 1), now).servable,
            "a pair not saved yet goes through the slow path, which starts the worker"
        );
        assert!(
            !hot_view(&state(Phase::Current, true, 0), now).servable,
            "nor does one not published yet"
        );
        let mut uncommitted = state(Phase::Current, true, 1);
        uncommitted.uncommitted = Some(Box::new((Lease::new("owner", 1, false), 1)));
        assert!(!hot_view(&uncommitted, now).servable);
        for phase in [
            Phase::Refreshing,
            Phase::RetryingAt(now),
            Phase::Ended(Box::new(Error::RefreshInterrupted)),
        ] {
            assert!(
                !hot_view(&state(phase.clone(), true, 1), now).servable,
                "{phase:?}"
            );
        }
        let current = state(Phase::Current, true, 1);
        assert!(
            !hot_view(&current, current.refresh_at).servable,
            "not at its refresh point"
        );
        assert!(
            !hot_view(&current, current.refresh_at - Duration::from_millis(1)).servable,
            "nor in the millisecond before it, when the due timer fires"
        );
        let mut unarmed = state(Phase::Current, true, 1);
        unarmed.due_timer = None;
        assert!(
            !hot_view(&unarmed, now).servable,
            "without a timer to end it, the view is never servable"
        );
        let hot = hot_view(&current, now);
        assert_eq!(hot.access_token, *current.pair.access_token());
    }
}
