//! [`SubscriberSession::spawn_auto_refresh`]: refreshing on schedule in the background.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::SubscriberSession;
use super::state::{Phase, Shared};
use crate::Error;

impl SubscriberSession {
    /// Refreshes in the background on schedule, so callers of
    /// [`SubscriberSession::access_token`] never wait. Stops when the returned handle is
    /// dropped, when every other handle to the session is gone, or when the session ends.
    pub fn spawn_auto_refresh(&self) -> AutoRefresh {
        let weak = Arc::downgrade(&self.shared);
        AutoRefresh {
            task: tokio::spawn(auto_refresh(weak)),
        }
    }
}

/// What the background refresh waits for before it looks at the session again.
enum AutoWait {
    /// The pair's refresh point: then it asks for a token, which refreshes if due.
    Due(Instant),
    /// A failed attempt's retry time: the worker retries by itself then; this makes sure
    /// a worker is there to do it, then waits for the attempt (after this many finished).
    Retry(Instant, u64),
    /// An attempt under way: its outcome (after this many finished).
    Outcome(u64),
}

async fn auto_refresh(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let wait = shared.read(|state| match state.phase {
            Phase::Ended(_) => None,
            Phase::Current => Some(AutoWait::Due(state.refresh_at)),
            Phase::RetryingAt(at) => Some(AutoWait::Retry(at, state.finished_attempts)),
            Phase::Refreshing => Some(AutoWait::Outcome(state.finished_attempts)),
        });
        let Some(wait) = wait else { return };
        match wait {
            AutoWait::Due(at) => {
                // Do not keep the session alive while waiting.
                drop(shared);
                tokio::time::sleep_until(at).await;
                let Some(shared) = weak.upgrade() else { return };
                let session = SubscriberSession { shared };
                match session.access_token().await {
                    Err(Error::SessionEnded { .. }) => return,
                    // The worker is retrying: the next look sees when.
                    Err(_) => {
                        let pause = session.shared.retry.initial.max(Duration::from_millis(100));
                        drop(session);
                        tokio::time::sleep(pause).await;
                    }
                    Ok(_) => {}
                }
            }
            // While a retry is scheduled, `access_token` answers at once with the token
            // that is still valid; asking it again and again until the retry would keep a
            // thread busy (and a paused clock from ever advancing).
            AutoWait::Retry(at, finished) => {
                drop(shared);
                tokio::time::sleep_until(at).await;
                let Some(shared) = weak.upgrade() else { return };
                shared.ensure_worker();
                // The worker holds the session until the attempt is over anyway.
                attempt_finished(&shared, finished).await;
            }
            AutoWait::Outcome(finished) => attempt_finished(&shared, finished).await,
        }
    }
}

/// Waits until more than `finished` attempts have finished, or the session has ended.
async fn attempt_finished(shared: &Shared, finished: u64) {
    loop {
        // Listening from before the state is read, so no change in between is missed.
        let next_change = shared.next_change();
        tokio::pin!(next_change);
        next_change.as_mut().enable();
        if shared.read(|state| state.finished_attempts > finished || state.ended().is_some()) {
            return;
        }
        next_change.await;
    }
}

/// The handle of [`SubscriberSession::spawn_auto_refresh`]; dropping it stops the
/// background refresh.
#[derive(Debug)]
pub struct AutoRefresh {
    task: tokio::task::JoinHandle<()>,
}

impl AutoRefresh {
    /// True once the background refresh has stopped (the session ended or is gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for AutoRefresh {
    fn drop(&mut self) {
        self.task.abort();
    }
}
