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
    /// a worker is there to do it, then waits for the attempt.
    Retry(Instant),
    /// An attempt under way: its outcome.
    Outcome,
}

async fn auto_refresh(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        // Subscribed before looking, so that a change right after the look is not missed.
        let mut changes = shared.state.subscribe();
        let wait = {
            let state = changes.borrow_and_update();
            match state.phase {
                Phase::Ended(_) => return,
                Phase::Current => AutoWait::Due(state.refresh_at),
                Phase::RetryingAt(at) => AutoWait::Retry(at),
                Phase::Refreshing => AutoWait::Outcome,
            }
        };
        // Do not keep the session alive while waiting.
        drop(shared);
        match wait {
            AutoWait::Due(at) => {
                drop(changes);
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
            AutoWait::Retry(at) => {
                tokio::time::sleep_until(at).await;
                let Some(shared) = weak.upgrade() else { return };
                shared.ensure_worker();
                drop(shared);
                if changes.changed().await.is_err() {
                    return;
                }
            }
            AutoWait::Outcome => {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }
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
