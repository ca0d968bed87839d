//! The one task per session that talks to the server and the store.
//!
//! It loops over a short decision, made with the state locked: end the session if its
//! refresh token has run out, refresh if a refresh is due, save if the newest pair is not
//! saved, otherwise stop. The I/O itself happens with the lock released.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Shared, State, refresh_at};
use crate::clock::{earlier, later};
use crate::{Error, RefreshToken, SessionEnd, StoredTokenPair, TokenPair};

/// How long before its refresh token expires a session makes its last attempt, when the
/// server asked it to wait longer than the token has left (`Retry-After`). Long enough
/// for one exchange to finish.
pub(super) const LAST_ATTEMPT_LEAD: Duration = Duration::from_secs(30);

/// Runs the worker, and makes sure that however it stops (returning, panicking in a
/// `Refresher` or `TokenStore`, or dropped with its runtime) the session is left able to
/// start another: waiters are woken with [`Error::RefreshInterrupted`] and the next call
/// spawns a new worker.
pub(super) async fn supervised(shared: Arc<Shared>) {
    let mut guard = Interrupted(Some(Arc::clone(&shared)));
    run(shared).await;
    // It returned: nothing to clean up.
    guard.0 = None;
}

/// Cleans up after a worker that did not return; see [`supervised`].
struct Interrupted(Option<Arc<Shared>>);

impl Drop for Interrupted {
    fn drop(&mut self) {
        let Some(shared) = self.0.take() else { return };
        let mut state = shared.lock();
        tracing::error!(
            "the session's refresh task stopped part-way; the next call starts it again"
        );
        state.worker_running = false;
        state.refreshing = false;
        state.last_error = Some(Error::RefreshInterrupted);
        shared.announce(&mut state, Err(Error::RefreshInterrupted));
    }
}

enum Job {
    Refresh {
        refresh_token: RefreshToken,
        refresh_expires_at: Instant,
        attempt: u32,
    },
    Save(StoredTokenPair),
    /// Wait before retrying a save that failed (or until a refresh is due).
    SleepUntil(Instant),
}

pub(super) async fn run(shared: Arc<Shared>) {
    let mut save_failures = 0u32;
    let mut save_retry_at: Option<Instant> = None;
    loop {
        let job = {
            let mut state = shared.lock();
            match next_job(&shared, &mut state, save_retry_at) {
                Some(job) => job,
                None => {
                    state.worker_running = false;
                    return;
                }
            }
        };
        match job {
            Job::Refresh {
                refresh_token,
                refresh_expires_at,
                attempt,
            } => {
                if let Some(at) =
                    refresh(&shared, &refresh_token, refresh_expires_at, attempt).await
                {
                    pause_until(&shared, at).await;
                }
            }
            Job::Save(stored) => {
                if save(&shared, &stored).await {
                    save_failures = 0;
                    save_retry_at = None;
                } else {
                    save_failures += 1;
                    save_retry_at = Some(later(
                        Instant::now(),
                        shared.retry.delay(save_failures, None),
                    ));
                }
            }
            Job::SleepUntil(at) => tokio::time::sleep_until(at).await,
        }
    }
}

fn next_job(shared: &Shared, state: &mut State, save_retry_at: Option<Instant>) -> Option<Job> {
    if state.ended.is_some() {
        return None;
    }
    let now = Instant::now();
    if now >= state.refresh_at {
        if now >= state.pair.refresh_expires_at() {
            let last_attempt = match state.failed_attempts {
                0 => None,
                _ => state.last_error.take(),
            };
            end(shared, state, SessionEnd::RefreshTokenExpired, last_attempt);
            return None;
        }
        state.refreshing = true;
        state.retry_at = None;
        return Some(Job::Refresh {
            refresh_token: state.pair.refresh_token().clone(),
            refresh_expires_at: state.pair.refresh_expires_at(),
            attempt: state.failed_attempts + 1,
        });
    }
    if !state.saved {
        return Some(match save_retry_at {
            Some(at) if now < at => Job::SleepUntil(at.min(state.refresh_at)),
            _ => Job::Save(state.pair.to_stored()),
        });
    }
    None
}

/// One refresh attempt. Returns when to make the next attempt when it failed transiently
/// and there is time for another.
async fn refresh(
    shared: &Arc<Shared>,
    refresh_token: &RefreshToken,
    refresh_expires_at: Instant,
    attempt: u32,
) -> Option<Instant> {
    let started = Instant::now();
    tracing::info!(attempt, "subscriber token refresh started");
    let result = shared.refresher.refresh(refresh_token).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(pair) => {
            tracing::info!(attempt, elapsed_ms, "subscriber token refresh succeeded");
            // Save before anyone can use the new access token; the old refresh token is
            // spent either way, so the new pair replaces it in memory even if saving fails.
            let saved = shared.store.save(&pair.to_stored()).await;
            let mut state = shared.lock();
            install(shared, &mut state, pair, saved);
            None
        }
        Err(error) if is_transient(&error) => {
            let now = Instant::now();
            let wanted = later(now, shared.retry.delay(attempt, error.retry_after()));
            // The last moment an attempt can surely still finish before the refresh token
            // expires.
            let last_chance = earlier(refresh_expires_at, LAST_ATTEMPT_LEAD);
            let next = if wanted < refresh_expires_at {
                Some(wanted)
            } else if now < last_chance {
                // The server asks for a longer wait than the token has: waiting would
                // certainly end the session, so try once more at the last safe moment.
                Some(last_chance)
            } else {
                None
            };
            let mut state = shared.lock();
            state.failed_attempts = attempt;
            state.refreshing = false;
            state.retry_at = next;
            match next {
                Some(at) => {
                    let wait_ms = at.saturating_duration_since(now).as_millis() as u64;
                    tracing::warn!(attempt, elapsed_ms, wait_ms, error = %error, "subscriber token refresh failed; will retry");
                    state.last_error = Some(error.clone());
                    shared.announce(&mut state, Err(error));
                }
                None => {
                    tracing::error!(attempt, elapsed_ms, error = %error, "subscriber token refresh failed and its refresh token has no time left for another attempt; the session has ended");
                    end(
                        shared,
                        &mut state,
                        SessionEnd::RefreshTokenExpired,
                        Some(error),
                    );
                }
            }
            next
        }
        Err(error) => {
            tracing::error!(attempt, elapsed_ms, error = %error, "subscriber token refresh refused; the session has ended");
            let mut state = shared.lock();
            state.failed_attempts = attempt;
            end(shared, &mut state, SessionEnd::Refused, Some(error));
            None
        }
    }
}

async fn pause_until(shared: &Shared, at: Instant) {
    if shared.lock().ended.is_some() {
        return;
    }
    tokio::time::sleep_until(at).await;
}

/// Installs a new pair. Called with the state locked.
fn install(shared: &Shared, state: &mut State, pair: TokenPair, saved: Result<(), Error>) {
    state.refresh_at = refresh_at(&pair, shared.margin);
    state.pair = pair;
    state.refreshing = false;
    state.failed_attempts = 0;
    state.refreshes += 1;
    state.saved = saved.is_ok();
    state.last_error = match saved {
        Ok(()) => None,
        Err(error) => {
            tracing::warn!(error = %error, "saving the new pair failed; it is kept in memory and the save will be retried");
            Some(error)
        }
    };
    shared.announce(state, Ok(()));
}

/// Saves the newest pair; true on success.
async fn save(shared: &Shared, stored: &StoredTokenPair) -> bool {
    let result = shared.store.save(stored).await;
    let mut state = shared.lock();
    // A newer pair may have arrived meanwhile; only mark what was saved.
    let still_newest = state.pair.refresh_token() == stored.refresh_token();
    match result {
        Ok(()) => {
            if still_newest {
                state.saved = true;
                state.last_error = None;
                shared.publish(&state);
            }
            true
        }
        Err(error) => {
            tracing::warn!(error = %error, "saving the pair failed; will retry");
            state.last_error = Some(error);
            false
        }
    }
}

/// Ends the session. Called with the state locked.
fn end(shared: &Shared, state: &mut State, reason: SessionEnd, cause: Option<Error>) {
    if reason == SessionEnd::RefreshTokenExpired && cause.is_none() {
        tracing::error!(
            "the refresh token expired before a refresh was attempted; the session has ended"
        );
    }
    let ended = Error::SessionEnded {
        reason,
        cause: cause.map(Box::new),
    };
    state.refreshing = false;
    state.last_error = Some(ended.clone());
    state.ended = Some(ended.clone());
    shared.announce(state, Err(ended));
}

/// Whether a failed refresh is worth retrying with the same refresh token.
///
/// Retryable errors (transport, 408, 429, 5xx) are; so is a success status whose body
/// could not be read, because the server may have issued a pair we never saw (see the
/// type's docs on lost answers). Everything else is the server refusing this token or
/// these credentials, and retrying would only repeat that.
fn is_transient(error: &Error) -> bool {
    error.is_retryable()
        || matches!(
            error,
            Error::Decode {
                status: 200..=299,
                ..
            } | Error::ResponseTooLarge {
                status: 200..=299,
                ..
            }
        )
}
