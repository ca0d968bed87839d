//! Rate limits counted in Redis (issue 22): one bucket per user however many instances
//! ask, the script deciding as the in-process limiter does, on the server's clock.

use std::num::NonZeroU32;
use std::time::Duration;

use signalwire_fabric::{
    Coordinator, InProcessRateLimiter, RateDecision, RateLimit, RateLimiter, SessionKey,
};
use signalwire_fabric_redis::RedisRateLimiter;

use crate::support::{RedisServer, session_key};

fn limit(burst: u32, period: Duration) -> RateLimit {
    RateLimit::new(NonZeroU32::new(burst).expect("not zero"), period)
}

/// Instances of an app, each with a coordinator of its own (its own connection) to the
/// same Redis, each asking the coordinator for its limiter as the token service does.
fn instances(server: &RedisServer, count: usize) -> Vec<std::sync::Arc<dyn RateLimiter>> {
    (0..count)
        .map(|_| {
            let coordinator = server.coordinator().build().expect("valid settings");
            coordinator
                .rate_limiter()
                .expect("a Redis coordinator offers a limiter")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_two_or_three_instances_give_a_user_the_limit_once_between_them() {
    let test = "limits::one_two_or_three_instances_give_a_user_the_limit_once_between_them";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let limit = limit(5, Duration::from_secs(600));
    for count in 1..=3 {
        let limiters = instances(&server, count);
        let alice = session_key("alice");
        let bob = session_key("bob");
        let mut allowed = 0;
        // Five requests per instance, turn by turn: five times the burst with three.
        for turn in 0..5 * count {
            match limiters[turn % count]
                .check(&alice, &limit)
                .await
                .expect("Redis answers")
            {
                RateDecision::Allowed => allowed += 1,
                RateDecision::Limited { retry_after } => {
                    // One request comes back every 120 s; the first of them after
                    // about that long.
                    assert!(
                        retry_after > Duration::from_secs(100)
                            && retry_after <= Duration::from_secs(120),
                        "{retry_after:?}"
                    );
                }
            }
        }
        assert_eq!(
            allowed, 5,
            "{count} instances: the user gets the burst once, not once per instance"
        );
        // Other users have their own buckets, on any instance.
        for limiter in &limiters {
            assert_eq!(
                limiter.check(&bob, &limit).await.expect("answers"),
                RateDecision::Allowed
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_lives_on_the_servers_clock_and_only_as_long_as_it_matters() {
    let test = "limits::the_bucket_lives_on_the_servers_clock_and_only_as_long_as_it_matters";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let coordinator = server.coordinator().build().expect("valid settings");
    let limiter: RedisRateLimiter = coordinator.limiter();
    let key = session_key("carol");
    let bucket = limiter.key_of(&key);
    assert!(
        bucket.starts_with(&server.prefix) && bucket.ends_with(&format!("{{{key}}}:rate")),
        "{bucket}"
    );
    let limit = limit(4, Duration::from_secs(40)); // one back every 10 s
    assert_eq!(
        limiter.check(&key, &limit).await.expect("answers"),
        RateDecision::Allowed
    );
    // What the script stored: the server's time plus one interval, in microseconds.
    let server_time = match server.command(&[b"TIME"]).await {
        redis::Value::Array(parts) => {
            let number = |value: &redis::Value| match value {
                redis::Value::BulkString(bytes) => std::str::from_utf8(bytes)
                    .expect("digits")
                    .parse::<u64>()
                    .expect("a number"),
                other => panic!("TIME answered {other:?}"),
            };
            number(&parts[0]) * 1_000_000 + number(&parts[1])
        }
        other => panic!("TIME answered {other:?}"),
    };
    let stored = match server.command(&[b"GET", bucket.as_bytes()]).await {
        redis::Value::BulkString(bytes) => std::str::from_utf8(&bytes)
            .expect("digits")
            .parse::<u64>()
            .expect("a number"),
        other => panic!("GET answered {other:?}"),
    };
    let ahead = stored.saturating_sub(server_time);
    assert!(
        stored > server_time && ahead <= 10_000_000 && ahead > 5_000_000,
        "the server's time plus 10 s: stored {stored}, server {server_time}"
    );
    let ttl = match server.command(&[b"PTTL", bucket.as_bytes()]).await {
        redis::Value::Int(ms) => ms,
        other => panic!("PTTL answered {other:?}"),
    };
    assert!(
        ttl > 5_000 && ttl <= 10_000,
        "kept until the bucket is full again: {ttl} ms"
    );
    // Each decision is one round trip: the script, with the interval and the tolerance
    // and no time of the instance's (whose clock therefore plays no part).
    let mut monitor = server.monitor();
    let mut decisions = Vec::new();
    for _ in 0..4 {
        decisions.push(limiter.check(&key, &limit).await.expect("answers"));
    }
    let sent: Vec<String> = monitor.take().into_iter().map(|sent| sent.name).collect();
    assert_eq!(sent, ["EVALSHA"; 4]);
    assert_eq!(
        &decisions[..3],
        [RateDecision::Allowed; 3],
        "three left in the bucket"
    );
    assert!(matches!(decisions[3], RateDecision::Limited { .. }));
}

/// A sequence of requests: how many microseconds pass before each, and whose it is.
fn sequence(seed: u64, steps: usize, interval: u64) -> Vec<(u64, usize)> {
    let mut random = fastrand::Rng::with_seed(seed);
    (0..steps)
        .map(|_| {
            // Mostly bursts (no time at all), sometimes part of an interval, sometimes
            // several: every branch of the decision is taken.
            let pause = match random.u8(0..10) {
                0..=4 => 0,
                5..=7 => random.u64(0..interval),
                _ => random.u64(interval..interval * 4),
            };
            (pause, random.usize(0..3))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_decides_every_request_of_a_replay_as_the_in_process_limiter_does() {
    let test =
        "limits::the_script_decides_every_request_of_a_replay_as_the_in_process_limiter_does";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let coordinator = server.coordinator().build().expect("valid settings");
    let redis = coordinator.limiter();
    // Intervals of 10 s and more: a bucket's expiry runs on the server's real clock,
    // which hardly moves during the replay, and must not run out between two requests
    // of one user however slow the machine is.
    let limits = [
        limit(1, Duration::from_secs(10)),
        limit(3, Duration::from_secs(30)),
        limit(20, Duration::from_secs(200)),
        limit(7, Duration::from_secs(100)), // an interval of 14,285,714 µs: truncated
    ];
    let mut compared = 0;
    let mut limited = 0;
    for (number, limit) in limits.iter().enumerate() {
        let interval = limit.interval().as_micros() as u64;
        let steps = sequence(number as u64 + 1, 300, interval);
        // The in-process limiter on a paused clock of its own, moved by each pause.
        let in_process = tokio::task::spawn_blocking({
            let steps = steps.clone();
            let limit = *limit;
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .start_paused(true)
                    .build()
                    .expect("a runtime");
                runtime.block_on(async move {
                    let limiter = InProcessRateLimiter::new();
                    let keys: Vec<SessionKey> = (0..3)
                        .map(|user| SessionKey::new(format!("replay-{user}")).expect("a key"))
                        .collect();
                    let mut decisions = Vec::new();
                    for (pause, user) in steps {
                        tokio::time::advance(Duration::from_micros(pause)).await;
                        decisions.push(limiter.check_now(&keys[user], &limit));
                    }
                    decisions
                })
            }
        })
        .await
        .expect("no panic");
        // The script at the same times, from a realistic start (microseconds since 1970).
        let keys: Vec<SessionKey> = (0..3)
            .map(|user| session_key(&format!("replay-{number}-{user}")))
            .collect();
        let mut now: u64 = 1_800_000_000_000_000;
        for (step, ((pause, user), expected)) in steps.iter().zip(&in_process).enumerate() {
            now += pause;
            let decided = redis
                .check_at(&keys[*user], limit, now)
                .await
                .expect("Redis answers");
            assert_eq!(
                decided, *expected,
                "limit {limit:?}, step {step}: the script and the in-process limiter disagree"
            );
            compared += 1;
            limited += usize::from(matches!(decided, RateDecision::Limited { .. }));
        }
    }
    assert_eq!(compared, 1_200);
    assert!(
        limited > 100 && limited < 1_100,
        "both answers are exercised: {limited} of {compared} limited"
    );
}
