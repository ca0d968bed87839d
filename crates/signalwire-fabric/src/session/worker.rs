//! The one task per session that talks to the coordinator, the server and the store.
//!
//! It loops over a short decision, made inside one state change: end the session if its
//! refresh token has run out; commit a pair only this session holds; refresh if due;
//! publish a new pair to the coordinator; save to the store; sleep until one of those is
//! ready; or stop. The I/O itself happens between state changes.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::coordinator::{CommitOutcome, Lease, LeaseOutcome, Released, SharedPair};
use super::lease_wait::{self, lease_or_newer};
use super::state::{Phase, Shared, State};
use crate::clock::{earlier, later};
use crate::metrics::{self, Adopted, Operation, Refreshed};
use crate::{Error, RefreshToken, SessionEnd, StoredTokenPair, TokenPair};

/// How long before its refresh token expires a session makes its last attempt, when the
/// server asked it to wait longer than the token has left (`Retry-After`). Long enough
/// for one exchange to finish.
pub(super) const LAST_ATTEMPT_LEAD: Duration = Duration::from_secs(30);

/// Runs the worker, and makes sure that however it stops (returning, panicking in a
/// `Refresher`, `TokenStore` or `Coordinator`, or dropped with its runtime) the session is
/// left able to start another: waiters are woken with [`Error::RefreshInterrupted`] and
/// the next call spawns a new worker.
pub(super) async fn supervised(shared: Arc<Shared>) {
    let mut guard = UnfinishedWorker(Some(Arc::clone(&shared)));
    run(shared).await;
    // It returned: nothing to clean up.
    guard.0 = None;
}

/// A drop guard: cleans up after a worker that did not return (it panicked, or was
/// dropped with its runtime); see [`supervised`].
struct UnfinishedWorker(Option<Arc<Shared>>);

impl Drop for UnfinishedWorker {
    fn drop(&mut self) {
        let Some(shared) = self.0.take() else { return };
        tracing::error!(
            "the session's refresh task stopped part-way; the next call starts it again"
        );
        shared.change(|state| {
            state.worker = false;
            if matches!(state.phase, Phase::Refreshing) {
                state.phase = Phase::RetryingAt(Instant::now());
            }
            state.last_error = Some(Box::new(Error::RefreshInterrupted));
            state.finished_attempts += 1;
        });
    }
}

enum Job {
    Refresh {
        refresh_token: RefreshToken,
        seen: u64,
        refresh_expires_at: Instant,
        attempt: u32,
    },
    /// Store a pair only this session holds, got under `lease` by refreshing `seen`.
    Commit {
        pair: StoredTokenPair,
        lease: Lease,
        seen: u64,
    },
    /// Store a pair that starts a new chain in the coordinator.
    Publish(StoredTokenPair),
    Save(StoredTokenPair),
    SleepUntil(Instant),
}

/// Retries of the chores (commit, publish, save) after a failure.
#[derive(Default)]
struct Chores {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Chores {
    fn ready(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    fn succeeded(&mut self) {
        *self = Self::default();
    }

    fn failed(&mut self, shared: &Shared) {
        self.failures += 1;
        self.retry_at = Some(later(
            Instant::now(),
            shared.retry.delay(self.failures, None),
        ));
    }
}

async fn run(shared: Arc<Shared>) {
    let mut chores = Chores::default();
    loop {
        let Some(job) = shared.change(|state| {
            shared.arm_due_timer(state);
            next_job(state, &chores)
        }) else {
            return;
        };
        match job {
            Job::Refresh {
                refresh_token,
                seen,
                refresh_expires_at,
                attempt,
            } => refresh(&shared, &refresh_token, seen, refresh_expires_at, attempt).await,
            Job::Commit { pair, lease, seen } => {
                match shared
                    .coordinator
                    .commit(&shared.key, &lease, seen, &pair)
                    .await
                {
                    Ok(outcome) => {
                        chores.succeeded();
                        shared.change(|state| state.uncommitted = None);
                        match outcome {
                            CommitOutcome::Committed { generation } => {
                                tracing::info!(generation, "the pair kept here is now stored");
                                shared.change(|state| {
                                    if state.pair.refresh_token() == pair.refresh_token() {
                                        state.generation = generation;
                                    }
                                });
                            }
                            CommitOutcome::Superseded(newer) => {
                                metrics::adopted(Adopted::AfterRefresh);
                                adopt(&shared, newer).await
                            }
                        }
                    }
                    Err(error) => {
                        metrics::coordinator_failed(Operation::Commit);
                        tracing::warn!(%error, "storing the pair kept here failed; will retry");
                        chores.failed(&shared);
                        shared.change(|state| state.last_error = Some(Box::new(error)));
                    }
                }
            }
            Job::Publish(pair) => match shared.coordinator.publish(&shared.key, &pair).await {
                Ok(generation) => {
                    chores.succeeded();
                    shared.change(|state| {
                        if state.pair.refresh_token() == pair.refresh_token() {
                            state.generation = generation;
                        }
                    });
                }
                Err(error) => {
                    metrics::coordinator_failed(Operation::Publish);
                    tracing::warn!(%error, "publishing the pair failed; will retry");
                    chores.failed(&shared);
                    shared.change(|state| state.last_error = Some(Box::new(error)));
                }
            },
            Job::Save(stored) => match shared.store.save(&stored).await {
                Ok(()) => {
                    chores.succeeded();
                    shared.change(|state| {
                        // A newer pair may have arrived meanwhile; only mark what was saved.
                        if state.pair.refresh_token() == stored.refresh_token() {
                            state.saved = true;
                            if state.failed_attempts == 0 {
                                state.last_error = None;
                            }
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "saving the pair failed; will retry");
                    chores.failed(&shared);
                    shared.change(|state| state.last_error = Some(Box::new(error)));
                }
            },
            Job::SleepUntil(at) => tokio::time::sleep_until(at).await,
        }
    }
}

/// Picks the next job, inside a state change. `None` stops the worker.
fn next_job(state: &mut State, chores: &Chores) -> Option<Job> {
    let stop = |state: &mut State| {
        state.worker = false;
        None
    };
    if state.ended().is_some() {
        return stop(state);
    }
    let now = Instant::now();
    let due = now >= state.refresh_at;
    if due && now >= state.pair.refresh_expires_at() {
        let last_attempt = match state.failed_attempts {
            0 => None,
            _ => state.last_error.take().map(|error| *error),
        };
        end(state, SessionEnd::RefreshTokenExpired, last_attempt);
        return stop(state);
    }
    let chores_ready = chores.ready(now);
    if let Some((lease, seen)) = state.uncommitted.as_deref() {
        if chores_ready {
            return Some(Job::Commit {
                pair: state.pair.to_stored(),
                lease: lease.clone(),
                seen: *seen,
            });
        }
    } else if due {
        match state.phase {
            Phase::RetryingAt(at) if now < at => {}
            _ => {
                state.phase = Phase::Refreshing;
                return Some(Job::Refresh {
                    refresh_token: state.pair.refresh_token().clone(),
                    seen: state.generation,
                    refresh_expires_at: state.pair.refresh_expires_at(),
                    attempt: state.failed_attempts + 1,
                });
            }
        }
    }
    if chores_ready && state.generation == 0 {
        return Some(Job::Publish(state.pair.to_stored()));
    }
    if chores_ready && !state.saved {
        return Some(Job::Save(state.pair.to_stored()));
    }
    // Nothing is ready: sleep until something is, or stop.
    let retry = match state.phase {
        Phase::RetryingAt(at) if due => Some(at),
        _ => None,
    };
    let chore = chores.retry_at.filter(|_| state.chores());
    match (retry, chore) {
        (Some(a), Some(b)) => Some(Job::SleepUntil(a.min(b))),
        (Some(at), None) | (None, Some(at)) => Some(Job::SleepUntil(at)),
        (None, None) => stop(state),
    }
}

/// One refresh attempt: the lease, the exchange, the commit.
async fn refresh(
    shared: &Arc<Shared>,
    refresh_token: &RefreshToken,
    seen: u64,
    refresh_expires_at: Instant,
    attempt: u32,
) {
    let Some(lease) = lease(shared, seen, refresh_expires_at, attempt).await else {
        return;
    };
    let started = Instant::now();
    tracing::info!(attempt, "subscriber token refresh started");
    let result = shared.refresher.refresh(refresh_token).await;
    metrics::exchanged(started.elapsed(), result.is_ok());
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(pair) => {
            tracing::info!(attempt, elapsed_ms, "subscriber token refresh succeeded");
            // The old refresh token is spent either way: this pair must not be lost.
            let stored = pair.to_stored();
            match shared
                .coordinator
                .commit(&shared.key, &lease, seen, &stored)
                .await
            {
                Ok(CommitOutcome::Committed { generation }) => {
                    metrics::refreshed(Refreshed::Stored);
                    install(shared, pair, generation, None).await;
                }
                Ok(CommitOutcome::Superseded(newer)) => {
                    metrics::refreshed(Refreshed::Superseded);
                    metrics::adopted(Adopted::AfterRefresh);
                    tracing::warn!(
                        generation = newer.generation,
                        "another session stored a newer pair while this one refreshed; adopting it"
                    );
                    adopt(shared, newer).await;
                }
                Err(error) => {
                    metrics::refreshed(Refreshed::Stored);
                    metrics::coordinator_failed(Operation::Commit);
                    tracing::warn!(%error, "the new pair could not be stored in the coordinator; it is kept here and the commit will be retried");
                    install(shared, pair, seen, Some((lease, seen))).await;
                }
            }
        }
        Err(error) if is_transient(&error) => {
            metrics::refreshed(Refreshed::Failed);
            release(shared, &lease).await;
            failed(shared, attempt, refresh_expires_at, error, elapsed_ms);
        }
        Err(error) => {
            metrics::refreshed(Refreshed::Refused);
            let released = release(shared, &lease).await;
            if error.requires_new_subscriber_token() {
                // Refused as spent or unknown: a sibling may have rotated it, and may not
                // have stored its pair yet.
                let look = look_for(shared, &lease, released);
                match newer_than(shared, seen, look).await {
                    Ok(Some(newer)) => {
                        metrics::adopted(Adopted::AfterRefusal);
                        tracing::info!(
                            generation = newer.generation,
                            "the refresh token was already exchanged by another session; adopting its pair"
                        );
                        return adopt(shared, newer).await;
                    }
                    Ok(None) => {}
                    Err(unreachable) => {
                        metrics::coordinator_failed(Operation::Load);
                        // Whether a sibling rotated it cannot be checked now: try again later.
                        tracing::warn!(error = %unreachable, "the refresh token was refused and the coordinator cannot be asked whether a sibling rotated it");
                        return failed(
                            shared,
                            attempt,
                            refresh_expires_at,
                            unreachable,
                            elapsed_ms,
                        );
                    }
                }
            }
            tracing::error!(attempt, elapsed_ms, error = %error, "subscriber token refresh refused; the session has ended");
            shared.change(|state| {
                state.failed_attempts = attempt;
                end(state, SessionEnd::Refused, Some(error));
            });
        }
    }
}

/// Gets the lease for refreshing generation `seen`, waiting while a sibling holds it
/// (see [`lease_or_newer`]), at the latest until the refresh token expires. `None` when
/// there is nothing to refresh (a newer pair was adopted) or the attempt failed (already
/// recorded).
async fn lease(
    shared: &Arc<Shared>,
    seen: u64,
    refresh_expires_at: Instant,
    attempt: u32,
) -> Option<Lease> {
    let asked = lease_or_newer(
        &*shared.coordinator,
        &shared.key,
        seen,
        shared.lease,
        Some(refresh_expires_at),
    )
    .await;
    match asked {
        Ok(Some(LeaseOutcome::Granted(lease))) => Some(lease),
        Ok(Some(LeaseOutcome::Newer(newer))) => {
            metrics::adopted(Adopted::BeforeRefresh);
            adopt(shared, newer).await;
            None
        }
        Ok(Some(other)) => {
            let error = Error::coordinator(format!("answered a lease request with {other:?}"));
            failed(shared, attempt, refresh_expires_at, error, 0);
            None
        }
        Ok(None) => {
            failed(shared, attempt, refresh_expires_at, lease_held(), 0);
            None
        }
        Err(error) => {
            metrics::coordinator_failed(Operation::TryLease);
            failed(shared, attempt, refresh_expires_at, error, 0);
            None
        }
    }
}

fn lease_held() -> Error {
    Error::coordinator("another session held the refresh lease until the refresh token expired")
}

/// How long a session whose refresh token was refused looks for a newer pair: once
/// (zero) when no other session may still store one. Otherwise another holder spent the
/// token and has not stored its pair yet, a predecessor whose lease this session took
/// over, or a successor that took over from this one while it was held up before sending:
/// look until that holder's lease has run out, plus a lease for a holder that stalls or
/// hears back late. When the release could not tell, assume a whole lease is left.
fn look_for(shared: &Shared, lease: &Lease, released: Option<Released>) -> Duration {
    match released {
        Some(released) if !released.others_in_flight && !lease.taken_over() => Duration::ZERO,
        Some(released) => released
            .lease_left
            .unwrap_or(Duration::ZERO)
            .saturating_add(shared.lease),
        None => shared.lease.saturating_mul(2),
    }
}

/// A newer pair than `seen` in the coordinator, looked for once, and then again until
/// `look` has passed (see [`look_for`]).
async fn newer_than(
    shared: &Shared,
    seen: u64,
    look: Duration,
) -> Result<Option<SharedPair>, Error> {
    let give_up_at = later(Instant::now(), look);
    let mut poll = lease_wait::POLL_FIRST;
    loop {
        let stored = shared.coordinator.load(&shared.key).await?;
        if let Some(newer) = stored.filter(|stored| stored.generation > seen) {
            return Ok(Some(newer));
        }
        if Instant::now() >= give_up_at {
            return Ok(None);
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(lease_wait::POLL_MAX * 4);
    }
}

/// Gives the lease up; `None` when the coordinator could not be told (the lease then runs
/// out by itself).
async fn release(shared: &Shared, lease: &Lease) -> Option<Released> {
    match shared.coordinator.release(&shared.key, lease).await {
        Ok(released) => Some(released),
        Err(error) => {
            metrics::coordinator_failed(Operation::Release);
            tracing::warn!(%error, "releasing the refresh lease failed; it will expire");
            None
        }
    }
}

/// Records a failed attempt that can pass (it took `elapsed_ms`), and when to try again;
/// ends the session when the refresh token has no time left for another attempt.
fn failed(
    shared: &Shared,
    attempt: u32,
    refresh_expires_at: Instant,
    error: Error,
    elapsed_ms: u64,
) {
    let now = Instant::now();
    let wanted = later(now, shared.retry.delay(attempt, error.retry_after()));
    // The last moment an attempt can surely still finish before the refresh token expires.
    let last_chance = earlier(refresh_expires_at, LAST_ATTEMPT_LEAD);
    let next = if wanted < refresh_expires_at {
        Some(wanted)
    } else if now < last_chance {
        // The server asks for a longer wait than the token has: waiting would certainly
        // end the session, so try once more at the last safe moment.
        Some(last_chance)
    } else {
        None
    };
    shared.change(|state| {
        state.failed_attempts = attempt;
        match next {
            Some(at) => {
                let wait_ms = at.saturating_duration_since(now).as_millis() as u64;
                tracing::warn!(attempt, elapsed_ms, wait_ms, error = %error, "subscriber token refresh failed; will retry");
                state.phase = Phase::RetryingAt(at);
                state.last_error = Some(Box::new(error));
                state.finished_attempts += 1;
            }
            None => {
                tracing::error!(attempt, elapsed_ms, error = %error, "subscriber token refresh failed and its refresh token has no time left for another attempt; the session has ended");
                end(state, SessionEnd::RefreshTokenExpired, Some(error));
            }
        }
    });
}

/// Adopts the newer pair a sibling stored.
async fn adopt(shared: &Shared, newer: SharedPair) {
    let pair = TokenPair::from_stored(newer.pair);
    install(shared, pair, newer.generation, None).await;
}

/// Saves a new pair to the store, then makes it the current one. `uncommitted` is set
/// when the coordinator could not store it yet.
async fn install(
    shared: &Shared,
    pair: TokenPair,
    generation: u64,
    uncommitted: Option<(Lease, u64)>,
) {
    // Save before anyone can use the new access token; if saving fails, the pair is kept
    // in memory and the save retried (the old refresh token is spent either way).
    let saved = shared.store.save(&pair.to_stored()).await;
    if let Err(error) = &saved {
        tracing::warn!(%error, "saving the new pair failed; it is kept in memory and the save will be retried");
    }
    let due_for = shared.change(|state| {
        let now = Instant::now();
        let due_for = now.saturating_duration_since(state.refresh_at);
        state.refresh_at = shared.schedule.refresh_at(&pair, now);
        state.pair = pair;
        state.generation = generation;
        state.uncommitted = uncommitted.map(Box::new);
        state.phase = Phase::Current;
        state.failed_attempts = 0;
        state.refreshes += 1;
        state.finished_attempts += 1;
        state.saved = saved.is_ok();
        state.last_error = saved.err().map(Box::new);
        due_for
    });
    metrics::refresh_delay(due_for);
}

/// Ends the session. Called inside a state change.
fn end(state: &mut State, reason: SessionEnd, cause: Option<Error>) {
    if reason == SessionEnd::RefreshTokenExpired && cause.is_none() {
        tracing::error!(
            "the refresh token expired before a refresh was attempted; the session has ended"
        );
    }
    metrics::ended(reason);
    let ended = Error::SessionEnded {
        reason,
        cause: cause.map(Box::new),
    };
    state.last_error = Some(Box::new(ended.clone()));
    state.phase = Phase::Ended(Box::new(ended));
    state.finished_attempts += 1;
}

/// Whether a failed refresh is worth retrying with the same refresh token.
///
/// Retryable errors (transport, 408, 429, 5xx) are; so is a success status whose body
/// could not be read, because the server may have issued a pair we never saw (see the
/// type's docs on lost answers). Everything else is the server refusing this token or
/// these credentials, and retrying would only repeat that.
fn is_transient(error: &Error) -> bool {
    error.is_retryable() || error.is_answer_lost()
}
