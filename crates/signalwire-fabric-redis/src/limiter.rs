//! [`RedisRateLimiter`]: per-key rate limits counted in Redis, so that every instance of
//! an app sharing one Redis counts a user's requests against one bucket. Decisions are
//! made by one script ([`scripts::rate_limit`]): for each request, read its key's
//! theoretical arrival time, compare it with the server's clock, write it back with an
//! expiry.
//!
//! Requests asked for in the same turn of the runtime go together, in one script (see
//! [`Batches`]): one request alone is sent at once, by the task it starts, and under
//! load the requests of many connections share a round trip, so its cost (the
//! instance's system calls, the server's script call) is shared. Batches do not wait
//! for each other: several may be under way at once, on one connection.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::Value;
use signalwire_fabric::{Error, RateDecision, RateLimit, RateLimiter, SessionKey};
use tokio::sync::oneshot;

use crate::RedisCoordinator;
use crate::connection::Server;
use crate::keys::escape;
use crate::scripts;

/// A [`RateLimiter`] in Redis, sharing its [`RedisCoordinator`]'s connection and key
/// prefix: one bucket per key, `<prefix>{<key>}:rate`, holding one number (the GCRA's
/// theoretical arrival time, in microseconds on the Redis server's clock) with an expiry
/// no longer than the bucket takes to fill again, so idle users leave nothing behind.
///
/// Every decision is made by a script on the server, with the server's clock (`TIME`):
/// the instances' own clocks, however far apart, play no part. Decisions asked for in
/// the same turn of the runtime go together in one script (up to 128 a script, more in
/// further scripts), each decided on its own, in the order asked within a script (Redis
/// runs a script as one step, so no other instance's request comes between); against a
/// Redis Cluster, where one script reaches one key's node, each goes alone. It decides as
/// [`RateLimit::decide`] does, so exactly as [`InProcessRateLimiter`](signalwire_fabric::InProcessRateLimiter)
/// would for the same requests at the same times (a test replays both). A bucket is not
/// made to survive a failover (its script does not wait for replicas): a user whose
/// bucket is lost gets a full one.
///
/// The coordinator offers it as its [`Coordinator::rate_limiter`](signalwire_fabric::Coordinator::rate_limiter),
/// which `signalwire-fabric-axum`'s token service uses unless told otherwise.
///
/// ```no_run
/// # async fn run() -> Result<(), signalwire_fabric::Error> {
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use signalwire_fabric::{RateDecision, RateLimit, RateLimiter};
/// use signalwire_fabric_redis::RedisCoordinator;
///
/// let coordinator = RedisCoordinator::builder("redis://127.0.0.1:6379").build()?;
/// let limiter = coordinator.limiter();
/// let limit = RateLimit::new(NonZeroU32::new(20).expect("20"), Duration::from_secs(60));
/// match limiter.check(&"user-42".parse()?, &limit).await? {
///     RateDecision::Allowed => {}
///     RateDecision::Limited { retry_after } => println!("ask again in {retry_after:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRateLimiter {
    server: Arc<Server>,
    prefix: Arc<str>,
    batches: Arc<Batches>,
}

/// The most requests one script decides.
const MAX_BATCH: usize = 128;

/// The decisions waiting to be sent, and whether a task that sends them is on its way.
/// The first request queued starts that task; the task takes every request queued by
/// the time it runs, and sends them as one script.
#[derive(Default)]
struct Batches {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Whether a task has been started that has not yet taken `waiting`.
    sender_started: bool,
}

/// One request waiting for its decision.
struct Waiting {
    request: Request,
    answer: oneshot::Sender<Result<RateDecision, Error>>,
}

/// One request to decide: its key (for messages), its bucket and its limit's interval
/// and tolerance.
struct Request {
    key: SessionKey,
    bucket: String,
    gcra: (u64, u64),
}

impl RedisCoordinator {
    /// A rate limiter in this coordinator's Redis, on its connection and key prefix.
    /// Its clones send their requests together; another call makes a limiter that
    /// sends its own.
    pub fn limiter(&self) -> RedisRateLimiter {
        let (server, prefix) = self.parts();
        RedisRateLimiter {
            server,
            prefix: Arc::from(prefix),
            batches: Arc::default(),
        }
    }
}

impl RedisRateLimiter {
    /// The Redis key that holds `key`'s bucket: `<prefix>{<key>}:rate` (the same hash tag
    /// as the subscriber's other keys).
    pub fn key_of(&self, key: &SessionKey) -> String {
        format!("{}{{{}}}:rate", self.prefix, escape(key.as_str()))
    }

    /// Decides as [`RateLimiter::check`] does, but at `now_micros` on a clock of the
    /// caller's instead of the server's, alone rather than with other requests: for
    /// tests that replay a sequence of requests at chosen times (feature `test-util`; not
    /// for production).
    #[cfg(feature = "test-util")]
    pub async fn check_at(
        &self,
        key: &SessionKey,
        limit: &RateLimit,
        now_micros: u64,
    ) -> Result<RateDecision, Error> {
        self.alone(self.request(key, limit), Some(now_micros)).await
    }

    /// Decides `request` in a script of its own.
    async fn alone(&self, request: Request, now: Option<u64>) -> Result<RateDecision, Error> {
        let mut decided = decide(&self.server, &[request], now).await?;
        decided.pop().ok_or_else(|| unexpected(&self.server, 1))
    }

    fn request(&self, key: &SessionKey, limit: &RateLimit) -> Request {
        Request {
            key: key.clone(),
            bucket: self.key_of(key),
            gcra: limit.gcra_micros(),
        }
    }

    /// Queues `request`, starting a task to send it if none is on its way, and waits
    /// for its decision.
    async fn queued(&self, request: Request) -> Result<RateDecision, Error> {
        let (answer, decision) = oneshot::channel();
        let start = {
            let mut queue = self.batches.lock();
            queue.waiting.push(Waiting { request, answer });
            !std::mem::replace(&mut queue.sender_started, true)
        };
        if start {
            let sender = Sender {
                batches: Arc::clone(&self.batches),
                took: false,
            };
            tokio::spawn(sender.send(Arc::clone(&self.server)));
        }
        decision.await.unwrap_or_else(|_| {
            // The task sending it was dropped (its runtime shut down) before the answer.
            Err(Error::coordinator(format!(
                "Redis at {}: the rate limit's decision was interrupted",
                self.server.address()
            )))
        })
    }
}

impl Batches {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The task that sends one batch.
struct Sender {
    batches: Arc<Batches>,
    /// Whether it took the queue.
    took: bool,
}

impl Sender {
    /// Takes what is queued (at most [`MAX_BATCH`]; a new task for the rest), sends it as
    /// one script and hands each request its decision. (Boxed: a task may start another.)
    fn send(self, server: Arc<Server>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.send_now(server))
    }

    async fn send_now(mut self, server: Arc<Server>) {
        let batch: Vec<Waiting> = {
            let mut queue = self.batches.lock();
            self.took = true;
            let count = queue.waiting.len().min(MAX_BATCH);
            let batch = queue.waiting.drain(..count).collect();
            if queue.waiting.is_empty() {
                queue.sender_started = false;
            } else {
                let rest = Sender {
                    batches: Arc::clone(&self.batches),
                    took: false,
                };
                tokio::spawn(rest.send(Arc::clone(&server)));
            }
            batch
        };
        let (requests, answers): (Vec<Request>, Vec<_>) = batch
            .into_iter()
            .map(|waiting| (waiting.request, waiting.answer))
            .unzip();
        match decide(&server, &requests, None).await {
            Ok(decisions) => {
                for (answer, decision) in answers.into_iter().zip(decisions) {
                    // A caller that stopped waiting was counted all the same.
                    let _ = answer.send(Ok(decision));
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// A task dropped before it ran (its runtime shut down) fails the requests it was to
/// send, rather than leaving them waiting for nobody, and lets the next request start a
/// task of its own. (Once it took them, dropping it fails them by itself.)
impl Drop for Sender {
    fn drop(&mut self) {
        if !self.took {
            let mut queue = self.batches.lock();
            queue.sender_started = false;
            queue.waiting.clear();
        }
    }
}

/// The decisions of `requests`, in order, by one script.
async fn decide(
    server: &Server,
    requests: &[Request],
    now: Option<u64>,
) -> Result<Vec<RateDecision>, Error> {
    let Some(first) = requests.first() else {
        return Ok(Vec::new());
    };
    let invocation = scripts::rate_limit(
        requests
            .iter()
            .map(|request| (request.bucket.as_str(), request.gcra)),
        now,
    );
    // A failure is named after the first request's key; with others in the script, the
    // message says so, for the logs of the others.
    let what = match requests.len() {
        1 => "rate_limit".to_owned(),
        count => format!("rate_limit ({count} requests in one script; the first)"),
    };
    let answer = server.invoke(&what, &first.key, invocation).await?;
    decisions(&answer, requests.len()).ok_or_else(|| unexpected(server, requests.len()))
}

fn unexpected(server: &Server, count: usize) -> Error {
    Error::coordinator(format!(
        "Redis at {}: unexpected answer to the rate limit's script about {count} bucket(s); is another program writing there?",
        server.address()
    ))
}

/// The script's answer for `count` requests: `1, 0` allowed, `0, microseconds` limited,
/// for each.
fn decisions(answer: &Value, count: usize) -> Option<Vec<RateDecision>> {
    let Value::Array(parts) = answer else {
        return None;
    };
    if parts.len() != 2 * count {
        return None;
    }
    parts.chunks(2).map(decision).collect()
}

/// One request's part of the script's answer: `1, 0` allowed, `0, microseconds` limited.
fn decision(parts: &[Value]) -> Option<RateDecision> {
    match parts {
        [Value::Int(1), Value::Int(0)] => Some(RateDecision::Allowed),
        [Value::Int(0), Value::Int(wait)] if *wait > 0 => Some(RateDecision::Limited {
            retry_after: Duration::from_micros(u64::try_from(*wait).ok()?),
        }),
        _ => None,
    }
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("address", &self.server.address())
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &SessionKey, limit: &RateLimit) -> Result<RateDecision, Error> {
        let request = self.request(key, limit);
        if self.server.is_cluster() {
            // One script reaches one key's node: each request goes alone.
            return self.alone(request, None).await;
        }
        self.queued(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_anything_else_is_refused() {
        let array = |parts: Vec<Value>| Value::Array(parts);
        let int = Value::Int;
        assert_eq!(
            decisions(&array(vec![int(1), int(0)]), 1),
            Some(vec![RateDecision::Allowed])
        );
        assert_eq!(
            decisions(&array(vec![int(0), int(2_500_000), int(1), int(0)]), 2),
            Some(vec![
                RateDecision::Limited {
                    retry_after: Duration::from_millis(2_500)
                },
                RateDecision::Allowed
            ])
        );
        for (other, count) in [
            (int(1), 1),
            (array(vec![int(0), int(0)]), 1),
            (array(vec![int(0), int(-5)]), 1),
            (array(vec![int(2), int(0)]), 1),
            (array(vec![int(1)]), 1),
            // One answer short, or one too many, for the requests sent.
            (array(vec![int(1), int(0)]), 2),
            (array(vec![int(1), int(0), int(1), int(0)]), 1),
            (array(vec![int(1), int(0), int(1), int(0), int(1)]), 2),
            (Value::Nil, 1),
        ] {
            assert_eq!(decisions(&other, count), None, "{other:?} for {count}");
        }
    }
}
