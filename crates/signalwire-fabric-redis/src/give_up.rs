//! Giving up the lease a failed `try_lease` may still be granted.
//!
//! A `try_lease` that fails after it may have reached Redis (it timed out, or its
//! connection was lost) may still be run by Redis later and grant a lease to its owner
//! value. That owner was never returned to a session, so nothing can be sent under it, but
//! the lease would keep every instance waiting until it expires. [`give_up_lease`] sends
//! the release script for that owner, from a task of its own.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use signalwire_fabric::SessionKey;

use crate::connection::{Link, Server};
use crate::keys::SubscriberKeys;
use crate::scripts;

/// The first pause before the give-up is sent again on a new connection; each next one
/// is twice as long, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// Gives up the lease that the `try_lease` of `owner`, sent on `sent_on`, may still be
/// granted once Redis runs it. The give-up is sent from a task of its own (so the
/// caller's error is not delayed and dropping the caller cannot cancel it), first on
/// `sent_on`, the connection the ask went out on: Redis runs one connection's commands in
/// order, so it runs right after the ask, however long Redis was paused or busy, even if
/// this client has stopped waiting for either answer by then (`redis` writes a command as
/// soon as it is queued, and the connection is closed only after that). If that fails at
/// once (the connection was lost), it is sent again on a new connection, with backoff,
/// until it is answered or `ttl` (the lease's length) has passed.
///
/// The lease is deleted only if it is still that owner's: a lease granted to anyone else
/// is never touched. That owner's in-flight mark goes with it; every other mark stays
/// (see [`scripts::give_up`]).
pub(crate) fn give_up_lease(
    server: &Arc<Server>,
    key: &SessionKey,
    keys: &SubscriberKeys,
    owner: &str,
    mut sent_on: Link,
    ttl: Duration,
) {
    let give_up = scripts::give_up(keys, owner);
    let server = Arc::clone(server);
    let key = key.clone();
    let give_up_by = tokio::time::Instant::now() + ttl;
    tokio::spawn(async move {
        let first = tokio::time::timeout(
            server.operation_timeout(),
            give_up.query_async::<Value>(&mut sent_on),
        )
        .await;
        drop(sent_on);
        let mut outcome = match first {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(error)) if !error.is_timeout() => Err(()),
            // Queued behind the ask on its connection: it runs when Redis does.
            Ok(Err(_)) | Err(_) => {
                tracing::debug!(%key, "giving up a lease that may be granted late: sent, no answer yet");
                return;
            }
        };
        let mut pause = FIRST_PAUSE;
        loop {
            match outcome {
                Ok(_) => {
                    tracing::debug!(%key, "gave up a lease that may have been granted late");
                    return;
                }
                Err(()) if tokio::time::Instant::now() + pause > give_up_by => {
                    tracing::warn!(%key, "could not give up a lease that may have been granted late; it expires by itself");
                    return;
                }
                Err(()) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                    outcome = server
                        .query("give up a late lease", &key, give_up.clone())
                        .await
                        .map_err(drop);
                }
            }
        }
    });
}
