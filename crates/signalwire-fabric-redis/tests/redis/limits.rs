//! Rate limits counted in Redis (issue 22): one bucket per user however many instances
//! ask, the script deciding as the in-process limiter does, on the server's clock.

use std::future::Future as _;
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
    // Asked one after the other, each decision is one round trip: the script, with the
    // interval and the tolerance and no time of the instance's (whose clock therefore
    // plays no part).
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

/// A limiter on `server` whose script Redis already holds (it is loaded on first use),
/// so that from then on each script is one EVALSHA.
async fn loaded_limiter(server: &RedisServer, limit: &RateLimit) -> RedisRateLimiter {
    let limiter = server
        .coordinator()
        .build()
        .expect("valid settings")
        .limiter();
    limiter
        .check(&session_key("loads-the-script"), limit)
        .await
        .expect("Redis answers");
    limiter
}

/// Decisions asked for together go in one script, each still decided on its own and in
/// order: on a current-thread runtime every request below is queued before the task
/// that sends them first runs, so one round trip decides them all.
#[tokio::test]
async fn requests_asked_together_share_one_script_and_are_each_decided_in_order() {
    let test = "limits::requests_asked_together_share_one_script_and_are_each_decided_in_order";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let limit = limit(3, Duration::from_secs(300));
    let limiter = loaded_limiter(&server, &limit).await;
    for users in 1..=3 {
        let keys: Vec<SessionKey> = (0..users)
            .map(|user| session_key(&format!("together-{users}-{user}")))
            .collect();
        // Five requests per user, the users taking turns.
        let asked: Vec<&SessionKey> = (0..5 * users).map(|turn| &keys[turn % users]).collect();
        let mut monitor = server.monitor();
        let decided =
            futures_util::future::join_all(asked.iter().map(|key| limiter.check(key, &limit)))
                .await;
        let sent: Vec<String> = monitor.take().into_iter().map(|sent| sent.name).collect();
        assert_eq!(sent, ["EVALSHA"], "{users} users: one round trip");
        // Each user's first three are allowed, the other two limited, wherever they
        // stood in the script.
        let mut seen = vec![0; users];
        for (turn, decision) in decided.into_iter().enumerate() {
            let user = turn % users;
            seen[user] += 1;
            match decision.expect("Redis answers") {
                RateDecision::Allowed => assert!(seen[user] <= 3, "{users} users, turn {turn}"),
                RateDecision::Limited { retry_after } => {
                    assert!(seen[user] > 3, "{users} users, turn {turn}");
                    // One request comes back every 100 s.
                    assert!(
                        retry_after > Duration::from_secs(90)
                            && retry_after <= Duration::from_secs(100),
                        "{retry_after:?}"
                    );
                }
            }
        }
    }
}

/// More requests asked together than one script takes (128) go in as many scripts as
/// needed, every one of them decided: 300 requests of one user whose burst is 200.
#[tokio::test]
async fn more_requests_than_one_script_takes_are_split_and_all_decided() {
    let test = "limits::more_requests_than_one_script_takes_are_split_and_all_decided";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let limit = limit(200, Duration::from_secs(600));
    let limiter = loaded_limiter(&server, &limit).await;
    let grace = session_key("grace");
    let mut monitor = server.monitor();
    let decided =
        futures_util::future::join_all((0..300).map(|_| limiter.check(&grace, &limit))).await;
    let sent: Vec<String> = monitor.take().into_iter().map(|sent| sent.name).collect();
    assert_eq!(sent, ["EVALSHA"; 3], "128 + 128 + 44");
    let allowed = decided
        .into_iter()
        .map(|decision| decision.expect("Redis answers"))
        .filter(|decision| *decision == RateDecision::Allowed)
        .count();
    assert_eq!(allowed, 200);
}

/// Many requests at once from 1, 2 and 3 instances, on a runtime of two threads: however
/// they fall into batches, a user gets the burst once between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_from_one_two_or_three_instances_get_the_burst_once() {
    let test = "limits::concurrent_requests_from_one_two_or_three_instances_get_the_burst_once";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let limit = limit(25, Duration::from_secs(600));
    for count in 1..=3 {
        let limiters = instances(&server, count);
        let dave = session_key(&format!("dave-{count}"));
        let mut tasks = tokio::task::JoinSet::new();
        for request in 0..40 * count {
            let limiter = std::sync::Arc::clone(&limiters[request % count]);
            let dave = dave.clone();
            tasks.spawn(async move { limiter.check(&dave, &limit).await });
        }
        let mut allowed = 0;
        let mut limited = 0;
        while let Some(done) = tasks.join_next().await {
            match done.expect("no panic").expect("Redis answers") {
                RateDecision::Allowed => allowed += 1,
                RateDecision::Limited { .. } => limited += 1,
            }
        }
        assert_eq!(
            (allowed, limited),
            (25, 40 * count - 25),
            "{count} instances"
        );
    }
}

/// A task started to send a batch that is dropped before it runs (its runtime shut
/// down) fails the requests queued for it at once rather than leaving them waiting, and
/// the next request starts a task of its own.
#[test]
fn requests_queued_for_a_task_whose_runtime_shut_down_fail_and_the_next_goes_through() {
    let test =
        "limits::requests_queued_for_a_task_whose_runtime_shut_down_fail_and_the_next_goes_through";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let limit = limit(5, Duration::from_secs(60));
    let current_thread = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    };
    // The connection's own task runs on this runtime's worker, whichever runtime asks.
    let connect = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let limiter = connect.block_on(async {
        server
            .coordinator()
            .build()
            .expect("valid settings")
            .limiter()
    });
    // A request on a runtime that is never run again: it queues and starts the sending
    // task there, which never runs.
    let first = current_thread();
    let mut erin = {
        let _inside = first.enter();
        Box::pin(async {
            let erin = session_key("erin");
            limiter.check(&erin, &limit).await
        })
    };
    {
        let _inside = first.enter();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(erin.as_mut().poll(&mut context).is_pending());
    }
    // A second runtime's request queues behind it, for the same task.
    let second = current_thread();
    let (queued, answered) = std::sync::mpsc::channel();
    let second_limiter = limiter.clone();
    let waiter = std::thread::spawn(move || {
        second.block_on(async {
            let frank = session_key("frank");
            let answer = tokio::time::timeout(
                Duration::from_secs(30),
                second_limiter.check(&frank, &limit),
            )
            .await;
            queued.send(answer).expect("the test waits");
            second_limiter.check(&frank, &limit).await
        })
    });
    // Nothing is sent while the task waits to run.
    assert!(
        answered.recv_timeout(Duration::from_millis(300)).is_err(),
        "the second request waits for the task the first started"
    );
    drop(erin);
    drop(first);
    let answer = answered
        .recv_timeout(Duration::from_secs(30))
        .expect("the queued request was answered");
    let error = answer
        .expect("answered before its timeout")
        .expect_err("the task that was to send it was dropped");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("interrupted"), "{error}");
    // The next request starts a task of its own, and is counted: the first.
    assert_eq!(
        waiter.join().expect("no panic").expect("Redis answers"),
        RateDecision::Allowed
    );
    drop(connect);
}

/// When Redis cannot be reached, every request of a script gets the failure, retryable,
/// and a failure of several requests says it was several, so that the log of a request
/// whose key is not the one named is not misread. (No Redis is needed: nothing listens.)
#[tokio::test]
async fn a_script_that_fails_fails_each_of_its_requests_and_says_how_many_it_held() {
    let port = crate::support::free_port();
    let limiter =
        signalwire_fabric_redis::RedisCoordinator::builder(format!("redis://127.0.0.1:{port}"))
            .connection_timeout(Duration::from_millis(300))
            .build()
            .expect("valid settings")
            .limiter();
    let limit = limit(5, Duration::from_secs(60));
    for count in 1..=3 {
        let keys: Vec<SessionKey> = (0..count)
            .map(|user| session_key(&format!("unreachable-{count}-{user}")))
            .collect();
        let decided =
            futures_util::future::join_all(keys.iter().map(|key| limiter.check(key, &limit))).await;
        for decision in decided {
            let error = decision.expect_err("nothing listens");
            assert!(error.is_retryable(), "{error}");
            let shown = error.to_string();
            assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
            let batch = format!("{count} requests in one script");
            assert_eq!(shown.contains(&batch), count > 1, "{count}: {shown}");
        }
    }
}
