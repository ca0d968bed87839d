//! [`RedisRateLimiter`]: per-key rate limits counted in Redis, so that every instance of
//! an app sharing one Redis counts a user's requests against one bucket. Each decision
//! is one script ([`scripts::rate_limit`]): read the key's theoretical arrival time,
//! compare it with the server's clock, write it back with an expiry.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use signalwire_fabric::{Error, RateDecision, RateLimit, RateLimiter, SessionKey};

use crate::RedisCoordinator;
use crate::connection::Server;
use crate::keys::escape;
use crate::scripts;

/// A [`RateLimiter`] in Redis, sharing its [`RedisCoordinator`]'s connection and key
/// prefix: one bucket per key, `<prefix>{<key>}:rate`, holding one number (the GCRA's
/// theoretical arrival time, in microseconds on the Redis server's clock) with an expiry
/// no longer than the bucket takes to fill again, so idle users leave nothing behind.
///
/// Every decision is one script on the server, with the server's clock (`TIME`): the
/// instances' own clocks, however far apart, play no part. It decides as
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
}

impl RedisCoordinator {
    /// A rate limiter in this coordinator's Redis, on its connection and key prefix.
    pub fn limiter(&self) -> RedisRateLimiter {
        let (server, prefix) = self.parts();
        RedisRateLimiter {
            server,
            prefix: Arc::from(prefix),
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
    /// caller's instead of the server's: for tests that replay a sequence of requests
    /// at chosen times (feature `test-util`; not for production).
    #[cfg(feature = "test-util")]
    pub async fn check_at(
        &self,
        key: &SessionKey,
        limit: &RateLimit,
        now_micros: u64,
    ) -> Result<RateDecision, Error> {
        self.decide(key, limit, Some(now_micros)).await
    }

    async fn decide(
        &self,
        key: &SessionKey,
        limit: &RateLimit,
        now: Option<u64>,
    ) -> Result<RateDecision, Error> {
        let bucket = self.key_of(key);
        let invocation = scripts::rate_limit(&bucket, limit, now);
        let answer = self.server.invoke("rate_limit", key, invocation).await?;
        decision(&answer).ok_or_else(|| {
            Error::coordinator(format!(
                "Redis at {}: unexpected answer about {bucket} (the rate limit's script); is another program writing there?",
                self.server.address()
            ))
        })
    }
}

/// The script's answer: `{1, 0}` allowed, `{0, microseconds}` limited.
fn decision(answer: &Value) -> Option<RateDecision> {
    let Value::Array(parts) = answer else {
        return None;
    };
    match parts.as_slice() {
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
        self.decide(key, limit, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_anything_else_is_refused() {
        let array = |parts: Vec<Value>| Value::Array(parts);
        assert_eq!(
            decision(&array(vec![Value::Int(1), Value::Int(0)])),
            Some(RateDecision::Allowed)
        );
        assert_eq!(
            decision(&array(vec![Value::Int(0), Value::Int(2_500_000)])),
            Some(RateDecision::Limited {
                retry_after: Duration::from_millis(2_500)
            })
        );
        for other in [
            Value::Int(1),
            array(vec![Value::Int(0), Value::Int(0)]),
            array(vec![Value::Int(0), Value::Int(-5)]),
            array(vec![Value::Int(2), Value::Int(0)]),
            array(vec![Value::Int(1)]),
            Value::Nil,
        ] {
            assert_eq!(decision(&other), None, "{other:?}");
        }
    }
}
