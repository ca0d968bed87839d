//! What the coordinator sends Redis: the Lua scripts (each operation that must be atomic
//! is one script, run with EVALSHA, and loaded again when the server has forgotten it,
//! after a restart for example), and for each operation a function that fills in the
//! script's keys and arguments in the order the script reads them. What each one answers
//! is read in [`replies`](crate::replies).
//!
//! Layout of one subscriber (see [`SubscriberKeys`]):
//! `KEYS[1]` is the pair hash (fields `generation` and `pair`, and one field
//! `in_flight:<owner>` per in-flight mark), `KEYS[2]` the lease string (the holder's owner
//! value, with a `PX` expiry).
//!
//! Each script does what `signalwire_fabric`'s store rules (`Record`, the in-process
//! coordinator's store and the protocol model's) do for the same operation; the
//! replay in `tests/redis/replay.rs` runs every sequence of operations up to a depth
//! against both and compares each answer.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Cmd, Script, ScriptInvocation};

use crate::keys::SubscriberKeys;

/// `HMGET`, not a script (a plain read is atomic): the generation and the pair.
pub(crate) fn load(keys: &SubscriberKeys) -> Cmd {
    let mut hmget = redis::cmd("HMGET");
    hmget.arg(&keys.pair).arg("generation").arg("pair");
    hmget
}

/// `DEL`, not a script: both of a subscriber's keys at once.
pub(crate) fn remove(keys: &SubscriberKeys) -> Cmd {
    let mut del = redis::cmd("DEL");
    del.arg(&keys.pair).arg(&keys.lease);
    del
}

/// Drops the in-flight marks (`in_flight:<owner>` = the generation that holder refreshes)
/// of holders whose commit the fence now refuses: those below `generation`.
macro_rules! drop_refused_marks {
    () => {
        r"
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 10) == 'in_flight:' and tonumber(fields[i + 1]) < generation then
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
"
    };
}

/// `ARGV`: the generation the caller has seen, the lease's length in milliseconds, the
/// new owner. Answers `{"newer", generation, pair}`, `{"held", milliseconds left}` or
/// `{"granted", generation, taken_over}`, where `taken_over` is 1 when any in-flight mark
/// was there. Marks the grant in flight with the generation the caller refreshes. A hash
/// that holds marks but no pair lives as long as the newest lease.
static TRY_LEASE: LazyLock<Script> = LazyLock::new(|| {
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
local taken_over = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 10) == 'in_flight:' then
    taken_over = 1
    break
  end
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'in_flight:' .. ARGV[3], ARGV[1])
if stored == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {'granted', stored, taken_over}
",
    )
});

/// [`TRY_LEASE`] for `owner`, who has seen `seen`, for a lease of `ttl` (in whole
/// milliseconds, at least 1, at most `u32::MAX`).
pub(crate) fn try_lease(
    keys: &SubscriberKeys,
    seen: u64,
    ttl: Duration,
    owner: &str,
) -> ScriptInvocation<'static> {
    let ttl_ms = ttl.as_millis().clamp(1, u128::from(u32::MAX)) as u64;
    let mut invocation = TRY_LEASE.prepare_invoke();
    invocation
        .key(&keys.pair)
        .key(&keys.lease)
        .arg(seen)
        .arg(ttl_ms)
        .arg(owner);
    invocation
}

/// `ARGV`: the owner, the generation the pair was refreshed from (`seen`), the pair's
/// stored bytes, how long to keep the pair in milliseconds. Lets go of the lease if it is
/// the owner's, and of the owner's mark. Then, unless the store holds a generation above
/// `seen` (answered `{"superseded", generation, pair}`, nothing written), stores the pair
/// as `max(stored, seen) + 1`, drops the marks the fence now refuses, keeps the hash for
/// the time given, and answers `{"committed", generation}`.
static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
redis.call('HDEL', KEYS[1], 'in_flight:' .. ARGV[1])
local stored = tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0
if stored > tonumber(ARGV[2]) then
  return {'superseded', stored, redis.call('HGET', KEYS[1], 'pair')}
end
local generation = math.max(stored, tonumber(ARGV[2])) + 1
",
        drop_refused_marks!(),
        r"
redis.call('HSET', KEYS[1], 'generation', string.format('%d', generation), 'pair', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'committed', generation}
"
    ))
});

/// [`COMMIT`] of the pair stored as `stored` by `owner`, refreshed from `seen`, kept for
/// `keep_ms` milliseconds.
pub(crate) fn commit(
    keys: &SubscriberKeys,
    owner: &str,
    seen: u64,
    stored: &[u8],
    keep_ms: u64,
) -> ScriptInvocation<'static> {
    let mut invocation = COMMIT.prepare_invoke();
    invocation
        .key(&keys.pair)
        .key(&keys.lease)
        .arg(owner)
        .arg(seen)
        .arg(stored)
        .arg(keep_ms);
    invocation
}

/// The text of [`RELEASE`]: `ARGV` is the owner. Deletes the lease if it is the owner's,
/// and the owner's mark; every other mark stays. Answers `{others, left}`: 1 when another
/// mark is left (0 otherwise), and the milliseconds another holder's lease has left (the
/// lease's `PTTL`: negative when there is none).
///
/// Also how a lease granted to a `try_lease` whose answer never arrived is given up: that
/// owner value was never handed to a session, so nothing can be sent or committed under
/// it, and its mark can go with its lease. The give-up is sent as `EVAL` with this text,
/// not `EVALSHA`: it is sent by a client that may stop listening, which could not load
/// the script again after a `NOSCRIPT` answer.
const RELEASE_TEXT: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
redis.call('HDEL', KEYS[1], 'in_flight:' .. ARGV[1])
local others = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 10) == 'in_flight:' then
    others = 1
    break
  end
end
return {others, redis.call('PTTL', KEYS[2])}
";

/// See [`RELEASE_TEXT`].
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE_TEXT));

/// [`RELEASE`] of `owner`'s lease.
pub(crate) fn release(keys: &SubscriberKeys, owner: &str) -> ScriptInvocation<'static> {
    let mut invocation = RELEASE.prepare_invoke();
    invocation.key(&keys.pair).key(&keys.lease).arg(owner);
    invocation
}

/// The give-up of a lease that may have been granted to `owner` after its `try_lease`
/// failed: [`RELEASE_TEXT`] as `EVAL` (see there why not `EVALSHA`).
pub(crate) fn give_up(keys: &SubscriberKeys, owner: &str) -> Cmd {
    let mut eval = redis::cmd("EVAL");
    eval.arg(RELEASE_TEXT)
        .arg(2)
        .arg(&keys.pair)
        .arg(&keys.lease)
        .arg(owner);
    eval
}

/// `ARGV`: the pair's stored bytes, how long to keep it in milliseconds. Stores it as the
/// next generation, whatever the store holds, drops the marks the fence now refuses, and
/// answers that generation.
static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        r"
local generation = (tonumber(redis.call('HGET', KEYS[1], 'generation')) or 0) + 1
",
        drop_refused_marks!(),
        r"
redis.call('HSET', KEYS[1], 'generation', string.format('%d', generation), 'pair', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return generation
"
    ))
});

/// [`PUBLISH`] of the pair stored as `stored`, kept for `keep_ms` milliseconds.
pub(crate) fn publish(
    keys: &SubscriberKeys,
    stored: &[u8],
    keep_ms: u64,
) -> ScriptInvocation<'static> {
    let mut invocation = PUBLISH.prepare_invoke();
    invocation.key(&keys.pair).arg(stored).arg(keep_ms);
    invocation
}

/// The rate limiter's step (issue 22), for one request or a batch of them: `KEYS[i]` is
/// the bucket of request `i`, holding its key's theoretical arrival time in
/// microseconds on the server's clock; `ARGV[2i]` and `ARGV[2i+1]` the interval and the
/// tolerance of its limit, in microseconds (`RateLimit::gcra_micros`). Now is the
/// server's `TIME`, read once for the batch, so instances whose clocks disagree still
/// count against one bucket; a replay test may pass now as `ARGV[1]` instead, which the
/// limiter never does (it passes `""`). Requests are decided in order, each as
/// `signalwire_fabric::RateLimit::decide` does, so two requests of one key in a batch
/// count as two in a row. For each it answers `1, 0` and stores the new time, kept
/// exactly as long as it matters (past it, nothing stored decides the same), or
/// `0, microseconds to wait` and writes nothing: `2n` numbers for `n` requests.
static RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- Redis before 5 replicates scripts as text unless told to replicate their effects;
-- TIME followed by a write needs the latter (later versions do it anyway).
if redis.replicate_commands then
  redis.replicate_commands()
end
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local answers = {}
for i, bucket in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', bucket)) or now
  local earliest = tat - tolerance
  if now < earliest then
    answers[2 * i - 1] = 0
    answers[2 * i] = earliest - now
  else
    local next = math.max(tat, now) + interval
    redis.call('SET', bucket, string.format('%d', next), 'PX', math.ceil((next - now) / 1000))
    answers[2 * i - 1] = 1
    answers[2 * i] = 0
  end
end
return answers
",
    )
});

/// [`RATE_LIMIT`] for `requests`: each a bucket (a key name from `RedisRateLimiter`) and
/// its limit's interval and tolerance; `now` only from the replay test.
pub(crate) fn rate_limit<'a>(
    requests: impl IntoIterator<Item = (&'a str, (u64, u64))>,
    now: Option<u64>,
) -> ScriptInvocation<'static> {
    let mut invocation = RATE_LIMIT.prepare_invoke();
    match now {
        Some(now) => invocation.arg(now),
        None => invocation.arg(""),
    };
    for (bucket, (interval, tolerance)) in requests {
        invocation.key(bucket).arg(interval).arg(tolerance);
    }
    invocation
}
