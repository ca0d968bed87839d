//! The Lua scripts: each operation that must be atomic is one script, run with EVALSHA
//! (and loaded again when the server has forgotten it, after a restart for example).
//!
//! Layout of one subscriber (see [`SubscriberKeys`](crate::keys::SubscriberKeys)):
//! `KEYS[1]` is the pair hash (fields `generation`, `pair` and `in_flight`), `KEYS[2]` the
//! lease string (the holder's owner value, with a `PX` expiry).

use std::sync::LazyLock;

use redis::Script;

/// `ARGV`: the generation the caller has seen, the lease's length in milliseconds, the
/// new owner. Answers `{"newer", generation, pair}`, `{"held", milliseconds left}` or
/// `{"granted", generation, taken_over}`.
pub(crate) static TRY_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local stored = tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0
if stored > tonumber(ARGV[1]) then
  return {'newer', stored, redis.call('HGET', KEYS[1], 'pair')}
end
local left = redis.call('PTTL', KEYS[2])
if left > 0 then
  return {'held', left}
end
local taken_over = redis.call('HEXISTS', KEYS[1], 'in_flight')
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'in_flight', ARGV[3])
return {'granted', stored, taken_over}
",
    )
});

/// `ARGV`: the owner, the lease's base generation, the generation the pair replaced, the
/// pair's stored bytes. Lets go of the lease and the in-flight mark if they are the
/// owner's; then stores the pair as `max(stored, seen) + 1` when the store still holds
/// the base generation or nothing at all, answering `{"committed", generation}`, and
/// otherwise writes nothing and answers `{"superseded", generation, pair}`.
pub(crate) static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
if redis.call('HGET', KEYS[1], 'in_flight') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'in_flight')
end
local stored = tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0
if stored ~= 0 and stored ~= tonumber(ARGV[2]) then
  return {'superseded', stored, redis.call('HGET', KEYS[1], 'pair')}
end
local generation = math.max(stored, tonumber(ARGV[3])) + 1
redis.call('HSET', KEYS[1], 'generation', string.format('%d', generation), 'pair', ARGV[4])
return {'committed', generation}
",
    )
});

/// `ARGV`: the owner. Deletes the lease and the in-flight mark if they are the owner's.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
if redis.call('HGET', KEYS[1], 'in_flight') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'in_flight')
end
return 1
",
    )
});

/// `KEYS[1]` is the lease; `ARGV`: the owner a `try_lease` was sent with whose answer the
/// client never got. Deletes the lease if it is that owner's and answers 1, else 0. The
/// in-flight mark stays: the lease may have been granted over a predecessor's mark, which
/// the next holder must still learn of (as "taken over"). Sent as `EVAL` with its text,
/// not `EVALSHA`: it is sent by a client that may stop listening, which could not load the
/// script again after a `NOSCRIPT` answer.
pub(crate) const GIVE_UP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// `ARGV`: the pair's stored bytes. Stores it as the next generation, whatever the store
/// holds, and answers that generation.
pub(crate) static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local generation = (tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0) + 1
redis.call('HSET', KEYS[1], 'generation', string.format('%d', generation), 'pair', ARGV[1])
return generation
",
    )
});
