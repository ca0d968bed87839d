//! The session's state: one value in a `tokio::sync::watch` channel, its phases, the view
//! of it the hot path reads without a lock, and [`Shared::change`], the way every change
//! is made.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::time::Instant;

use super::coordinator::{Coordinator, Lease, SessionKey};
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
    pub(super) state: watch::Sender<State>,
}

/// What the hot path reads without a lock.
pub(super) struct Hot {
    pub(super) access_token: AccessToken,
    /// Before this instant, and while `servable`, the cached token is handed out as is.
    pub(super) refresh_at: Instant,
    /// Whether the cached token may be handed out without the slow path: false while the
    /// worker has something to do (a refresh under way or retrying, a pair to save,
    /// publish or commit), or the session has ended.
    pub(super) servable: bool,
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
    pub(super) uncommitted: Option<(Lease, u64)>,
    pub(super) phase: Phase,
    /// Whether a worker task is running.
    pub(super) worker: bool,
    /// How many attempts have finished (refreshed, adopted, failed or interrupted); a
    /// caller waiting for an attempt waits for this to grow.
    pub(super) finished_attempts: u64,
    pub(super) refreshes: u64,
    pub(super) failed_attempts: u32,
    pub(super) last_error: Option<Error>,
}

/// Where the session is between refreshes; see the module docs for the transitions.
#[derive(Debug, Clone)]
pub(super) enum Phase {
    Current,
    Refreshing,
    RetryingAt(Instant),
    Ended(Error),
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
}

pub(super) fn hot_view(state: &State) -> Hot {
    Hot {
        access_token: state.pair.access_token().clone(),
        refresh_at: state.refresh_at,
        servable: matches!(state.phase, Phase::Current) && !state.chores(),
    }
}

impl Shared {
    /// Changes the state with `change` and publishes the result to the hot path and to
    /// every waiter. Returns what `change` returns.
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let mut result = None;
        self.state.send_modify(|state| {
            result = Some(change(state));
            self.hot.store(Arc::new(hot_view(state)));
        });
        match result {
            Some(result) => result,
            None => unreachable!("send_modify runs its closure"),
        }
    }

    /// Starts the worker unless it runs already (or the session has ended): the one state
    /// change that does not go through [`Shared::change`], because it changes nothing a
    /// waiter or the hot path looks at, so nobody is woken and the hot view is not
    /// rewritten.
    pub(super) fn ensure_worker(self: &Arc<Self>) {
        self.state.send_if_modified(|state| {
            if !state.worker && state.ended().is_none() {
                state.worker = true;
                tokio::spawn(worker::supervised(Arc::clone(self)));
            }
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn state(phase: Phase, saved: bool, generation: u64) -> State {
        let pair = testing::pair("state");
        State {
            refresh_at: pair.access_expires_at(),
            pair,
            generation,
            saved,
            uncommitted: None,
            phase,
            worker: false,
            finished_attempts: 0,
            refreshes: 0,
            failed_attempts: 0,
            last_error: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_hot_path_serves_only_a_current_pair_with_nothing_left_to_do() {
        assert!(hot_view(&state(Phase::Current, true, 1)).servable);
        assert!(
            !hot_view(&state(Phase::Current, false, 1)).servable,
            "a pair not saved yet goes through the slow path, which starts the worker"
        );
        assert!(
            !hot_view(&state(Phase::Current, true, 0)).servable,
            "nor does one not published yet"
        );
        let mut uncommitted = state(Phase::Current, true, 1);
        uncommitted.uncommitted = Some((Lease::new("owner", 1, false), 1));
        assert!(!hot_view(&uncommitted).servable);
        for phase in [
            Phase::Refreshing,
            Phase::RetryingAt(Instant::now()),
            Phase::Ended(Error::RefreshInterrupted),
        ] {
            assert!(
                !hot_view(&state(phase.clone(), true, 1)).servable,
                "{phase:?}"
            );
        }
        let current = state(Phase::Current, true, 1);
        let hot = hot_view(&current);
        assert_eq!(hot.access_token, *current.pair.access_token());
        assert_eq!(hot.refresh_at, current.refresh_at);
    }
}
