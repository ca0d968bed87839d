//! Asking for a subscriber's lease while another session holds it: what the worker does
//! before a refresh, and what [`SubscriberSession::join_or_create`](super::SubscriberSession::join_or_create)
//! does before it creates a first pair.

use std::time::Duration;

use tokio::time::Instant;

use super::coordinator::{Coordinator, LeaseOutcome, SessionKey};
use crate::{Error, metrics};

/// The first wait between asks for a lease a sibling holds.
pub(super) const POLL_FIRST: Duration = Duration::from_millis(10);
/// The longest wait between asks.
pub(super) const POLL_MAX: Duration = Duration::from_millis(250);

/// Asks `coordinator` for `key`'s lease, for `ttl`, as a session that holds generation
/// `seen`, until it is granted ([`LeaseOutcome::Granted`]) or a newer pair is stored
/// ([`LeaseOutcome::Newer`]). While a sibling holds it, asks again after 10 ms, then twice
/// as long each time up to a quarter of a second, never later than the lease's own end.
/// `Ok(None)` when the lease is still held at `give_up_at`. Records a lease wait (and how
/// long it lasted) when a sibling held it, and a take-over when the lease granted was
/// another holder's that ran out.
pub(super) async fn lease_or_newer(
    coordinator: &dyn Coordinator,
    key: &SessionKey,
    seen: u64,
    ttl: Duration,
    give_up_at: Option<Instant>,
) -> Result<Option<LeaseOutcome>, Error> {
    let mut poll = POLL_FIRST;
    // When this session began to wait for a sibling's lease, if it did.
    let mut waiting_since: Option<Instant> = None;
    let answer = loop {
        match coordinator.try_lease(key, seen, ttl).await {
            Ok(LeaseOutcome::Held { expires_in }) => {
                waiting_since.get_or_insert_with(Instant::now);
                if give_up_at.is_some_and(|at| Instant::now() >= at) {
                    break Ok(None);
                }
                let wait =
                    expires_in.map_or(poll, |left| left.clamp(Duration::from_millis(1), poll));
                tokio::time::sleep(wait).await;
                poll = (poll * 2).min(POLL_MAX);
            }
            Ok(outcome) => break Ok(Some(outcome)),
            Err(error) => break Err(error),
        }
    };
    if let Some(since) = waiting_since {
        metrics::lease_waited(since.elapsed());
    }
    if let Ok(Some(LeaseOutcome::Granted(lease))) = &answer
        && lease.taken_over()
    {
        metrics::lease_taken_over();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{InProcessCoordinator, SessionKey};

    fn key() -> SessionKey {
        SessionKey::new("lease-wait").expect("valid")
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lease_is_waited_for_and_granted_once_it_is_let_go() {
        let coordinator = InProcessCoordinator::new();
        let ttl = Duration::from_secs(45);
        let Some(LeaseOutcome::Granted(held)) = lease_or_newer(&coordinator, &key(), 0, ttl, None)
            .await
            .expect("answers")
        else {
            panic!("the first ask is granted");
        };
        let waiting = {
            let coordinator = coordinator.clone();
            tokio::spawn(async move { lease_or_newer(&coordinator, &key(), 0, ttl, None).await })
        };
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "still held");
        let started = Instant::now();
        coordinator.release(&key(), &held).await.expect("released");
        let outcome = waiting.await.expect("no panic").expect("answers");
        assert!(
            matches!(outcome, Some(LeaseOutcome::Granted(_))),
            "{outcome:?}"
        );
        assert!(
            started.elapsed() <= POLL_MAX,
            "asked again within the longest poll: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_pair_is_answered_and_a_lease_held_past_the_deadline_gives_up() {
        let coordinator = InProcessCoordinator::new();
        let ttl = Duration::from_secs(45);
        coordinator
            .publish(&key(), &testing::pair("lease-wait").to_stored())
            .await
            .expect("published");
        let newer = lease_or_newer(&coordinator, &key(), 0, ttl, None)
            .await
            .expect("answers");
        assert!(matches!(newer, Some(LeaseOutcome::Newer(_))), "{newer:?}");

        let Some(LeaseOutcome::Granted(_held)) = lease_or_newer(&coordinator, &key(), 1, ttl, None)
            .await
            .expect("answers")
        else {
            panic!("granted");
        };
        let give_up_at = Instant::now() + Duration::from_secs(5);
        let gave_up = lease_or_newer(&coordinator, &key(), 1, ttl, Some(give_up_at))
            .await
            .expect("answers");
        assert!(gave_up.is_none(), "{gave_up:?}");
        assert!(Instant::now() >= give_up_at);
        assert!(
            Instant::now() < give_up_at + POLL_MAX * 2,
            "stopped soon after"
        );
    }
}
