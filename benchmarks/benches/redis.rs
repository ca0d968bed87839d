//! Sessions coordinated through Redis (`signalwire-fabric-redis`), against a real
//! `redis-server` this bench starts on a loopback port: prints markdown tables, then runs
//! a criterion group for the cached read.
//!
//! - **Round trips per rotation**, counted by Redis itself: every command a client sends,
//!   whatever it is, as `MONITOR` shows it (`testing::CommandMonitor`; not the commands
//!   scripts run inside Redis): for the session that refreshes, and for a sibling that
//!   adopts.
//! - **A coordinated refresh against an uncoordinated one**, interleaved rounds on one
//!   current-thread runtime, against the hyper `LocalServer`: a session with the default
//!   in-process coordinator, one with a `RedisCoordinator`, and one with a sealing
//!   `RedisCoordinator`, each doing `refresh_if_current` of its current token (one
//!   rotation per call).
//! - **The cached `access_token()`** of a session with a `RedisCoordinator` against one
//!   without: the same ArcSwap read, never touching Redis.
//! - **A rotation on each topology** against one on a single node, interleaved rounds:
//!   a primary with a replica found through Sentinel (writes not waiting, and waiting for
//!   the replica: what `WAIT` costs), a Redis Cluster of three primaries, and one of
//!   three primaries with a replica each, waiting for it. The refresh is answered in
//!   process at once (no socket, no timer: `RefreshEndpoint`'s zero latency still waits
//!   for tokio's millisecond timer), so each rotation is the coordinator's two round
//!   trips and little else.
//!
//! `BENCH_ROUNDS` (default 100) sets the number of rounds. Without `redis-server` (and
//! `redis-cli`, for the clusters) the bench says so and does nothing.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use signalwire_fabric::testing::RefreshEndpoint;
use signalwire_fabric::{Error, RefreshToken, Refresher, SubscriberSession, TokenPair};
use signalwire_fabric_benchmarks::{
    LocalServer, fresh_pair, interleaved, median, median_ratio, pair_json,
};
use signalwire_fabric_redis::testing::{
    RedisCluster, RedisServer, ReplicatedRedis, TEST_REPLICA_WAIT,
};
use signalwire_fabric_redis::{RedisCoordinator, SealingKey};
use tokio::runtime::Runtime;

/// Rotations per batch, and cached reads per batch.
const ROTATIONS: u32 = 20;
const READS: u32 = 100_000;

fn coordinated(
    runtime: &Runtime,
    refresher: impl Refresher,
    coordinator: RedisCoordinator,
    key: &str,
    pair: TokenPair,
) -> SubscriberSession {
    let session = SubscriberSession::builder(refresher, pair)
        .coordinator(coordinator, key.parse().expect("a valid key"))
        .jitter(Duration::ZERO)
        .build();
    runtime.block_on(async {
        session.access_token().await.expect("valid");
        while session.status().generation == 0 {
            tokio::task::yield_now().await;
        }
    });
    session
}

/// One batch of rotations: each reports the current token refused.
fn rotations(runtime: &Runtime, session: &SubscriberSession) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..ROTATIONS {
            let token = session.access_token().await.expect("valid");
            black_box(session.refresh_if_current(&token).await.expect("refreshed"));
        }
        start.elapsed()
    })
}

fn reads(runtime: &Runtime, session: &SubscriberSession) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..READS {
            black_box(session.access_token().await.expect("cached"));
        }
        start.elapsed()
    })
}

fn micros(time: Duration, calls: u32) -> String {
    format!("{:.1} µs", time.as_secs_f64() * 1e6 / f64::from(calls))
}

fn nanos(time: Duration, calls: u32) -> String {
    format!("{:.1} ns", time.as_secs_f64() * 1e9 / f64::from(calls))
}

/// Answers every refresh at once with a new pair: no socket, no timer.
#[derive(Debug, Clone, Default)]
struct AtOnce {
    issued: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Refresher for AtOnce {
    async fn refresh(&self, _: &RefreshToken) -> Result<TokenPair, Error> {
        let number = self.issued.fetch_add(1, Ordering::Relaxed);
        Ok(fresh_pair(&format!("at-once-{number}")))
    }
}

/// A rotation on each topology against one on a single node, in one run.
fn topologies(runtime: &Runtime, single: &RedisServer, rounds: usize) {
    let test = "benchmarks/benches/redis.rs (topologies)";
    let Some(replicated) = ReplicatedRedis::start(test, 1) else {
        return;
    };
    let Some(cluster) = RedisCluster::start(test, 3, 0) else {
        return;
    };
    let Some(cluster_with_replicas) = RedisCluster::start(test, 3, 1) else {
        return;
    };
    // Writes that wait for a replica wait at most this long; on an idle loopback they
    // are acknowledged within a millisecond.
    let wait = TEST_REPLICA_WAIT;
    let contenders: Vec<(&str, RedisCoordinator)> = vec![
        ("one node", single.coordinator().build().expect("valid")),
        (
            "primary + replica, addressed directly (no Sentinel), not waiting",
            runtime
                .block_on(replicated.primary())
                .coordinator()
                .key_prefix(replicated.prefix.clone())
                .build()
                .expect("valid"),
        ),
        (
            "primary + replica (Sentinel), not waiting",
            replicated.coordinator().build().expect("valid"),
        ),
        (
            "primary + replica (Sentinel), `wait_for_replicas(1, …)`",
            replicated
                .coordinator()
                .wait_for_replicas(1, wait)
                .build()
                .expect("valid"),
        ),
        (
            "cluster, 3 primaries",
            cluster.coordinator().build().expect("valid"),
        ),
        (
            "cluster, 3 primaries + 3 replicas, not waiting",
            cluster_with_replicas.coordinator().build().expect("valid"),
        ),
        (
            "cluster, 3 primaries + 3 replicas, `wait_for_replicas(1, …)`",
            cluster_with_replicas
                .coordinator()
                .wait_for_replicas(1, wait)
                .build()
                .expect("valid"),
        ),
    ];
    let sessions: Vec<SubscriberSession> = contenders
        .iter()
        .enumerate()
        .map(|(index, (_, coordinator))| {
            coordinated(
                runtime,
                AtOnce::default(),
                coordinator.clone(),
                &format!("topology-{index}"),
                fresh_pair(&format!("topology-{index}")),
            )
        })
        .collect();
    // Warm up: connections made, scripts loaded, the Sentinel asked.
    for session in &sessions {
        rotations(runtime, session);
    }
    let mut batches: Vec<Box<dyn FnMut() -> Duration + '_>> = sessions
        .iter()
        .map(|session| {
            Box::new(move || rotations(runtime, session)) as Box<dyn FnMut() -> Duration>
        })
        .collect();
    let mut contenders_now: Vec<&mut dyn FnMut() -> Duration> = batches
        .iter_mut()
        .map(|batch| batch.as_mut() as &mut dyn FnMut() -> Duration)
        .collect();
    let times = interleaved(rounds, &mut contenders_now);
    println!(
        "\n| rotation on (`refresh_if_current`, refreshed at once in process, {rounds} rounds × {ROTATIONS}) | median per rotation | / one node |"
    );
    println!("|---|---:|---:|");
    for (index, (name, _)) in contenders.iter().enumerate() {
        println!(
            "| {name} | {} | {:.3} |",
            micros(median(&times[index]), ROTATIONS),
            median_ratio(&times[index], &times[0])
        );
    }
    println!(
        "WAIT timeout {} ms; waiting / not waiting: primary + replica {:.3}, cluster with replicas {:.3}",
        wait.as_millis(),
        median_ratio(&times[3], &times[2]),
        median_ratio(&times[6], &times[5])
    );
}

fn main() {
    let Some(server) = RedisServer::start("benchmarks/benches/redis.rs") else {
        return;
    };
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let rt = &runtime;
    topologies(rt, &server, rounds);
    let local = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    let client = local.facade_client();
    let redis = || server.coordinator().build().expect("valid settings");
    let sealed = || {
        server
            .coordinator()
            .sealing_key(SealingKey::from_bytes([7; 32]))
            .build()
            .expect("valid settings")
    };

    // Round trips: a winner's rotation and an adopter's, 50 each, scripts already loaded.
    // The refresh endpoint issues a new pair each time (the local server answers the same
    // pair to every request, which a session refuses as no answer to the token it reported).
    let endpoint = RefreshEndpoint::single_use().latency(Duration::ZERO);
    let winner = coordinated(
        rt,
        endpoint.clone(),
        redis(),
        "round-trips",
        endpoint.create(),
    );
    let adopter = rt
        .block_on(SubscriberSession::join(
            endpoint.clone(),
            redis(),
            "round-trips".parse().expect("valid"),
        ))
        .expect("answers")
        .expect("shared")
        .jitter(Duration::ZERO)
        .build();
    // Only while counting: MONITOR costs Redis time on every command.
    let mut monitor = server.monitor();
    let (mut won, mut adopted) = (0, 0);
    for warm_up in [true, false] {
        for _ in 0..50 {
            let token = rt.block_on(winner.access_token()).expect("valid");
            monitor.take();
            rt.block_on(winner.refresh_if_current(&token))
                .expect("refreshed");
            let by_winner = monitor.take().len();
            rt.block_on(adopter.refresh_if_current(&token))
                .expect("adopted");
            let by_adopter = monitor.take().len();
            if !warm_up {
                won += by_winner;
                adopted += by_adopter;
            }
        }
    }
    drop(monitor);
    println!("| Redis round trips per rotation (50 rotations) | per rotation |");
    println!("|---|---:|");
    println!("| the session that refreshes | {:.2} |", won as f64 / 50.0);
    println!("| a sibling that adopts | {:.2} |", adopted as f64 / 50.0);
    println!(
        "| all instances, 2 sharing one subscriber | {:.2} |",
        (won + adopted) as f64 / 50.0
    );

    // Coordinated against uncoordinated rotations.
    let plain = client
        .session(fresh_pair("plain"))
        .jitter(Duration::ZERO)
        .build();
    rt.block_on(plain.access_token()).expect("valid");
    let with_redis = coordinated(rt, client.clone(), redis(), "timed", fresh_pair("timed"));
    let with_sealing = coordinated(
        rt,
        client.clone(),
        sealed(),
        "timed-sealed",
        fresh_pair("sealed"),
    );
    let times = interleaved(
        rounds,
        &mut [
            &mut || rotations(rt, &plain),
            &mut || rotations(rt, &with_redis),
            &mut || rotations(rt, &with_sealing),
        ],
    );
    println!(
        "\n| rotation (`refresh_if_current`, {rounds} rounds × {ROTATIONS}) | median per rotation | / uncoordinated |"
    );
    println!("|---|---:|---:|");
    for (name, index) in [
        ("uncoordinated (in-process coordinator)", 0),
        ("RedisCoordinator", 1),
        ("RedisCoordinator, sealed", 2),
    ] {
        println!(
            "| {name} | {} | {:.3} |",
            micros(median(&times[index]), ROTATIONS),
            median_ratio(&times[index], &times[0])
        );
    }

    // The cached read.
    let cached_plain = client.session(fresh_pair("cached")).build();
    rt.block_on(cached_plain.access_token()).expect("valid");
    let cached_redis = coordinated(
        rt,
        client.clone(),
        redis(),
        "cached",
        fresh_pair("cached-redis"),
    );
    let mut monitor = server.monitor();
    let times = interleaved(
        rounds,
        &mut [&mut || reads(rt, &cached_plain), &mut || {
            reads(rt, &cached_redis)
        }],
    );
    let touched = monitor.take().len();
    drop(monitor);
    println!(
        "\n| cached `access_token()` ({rounds} rounds × {READS}) | median per call | / without Redis |"
    );
    println!("|---|---:|---:|");
    println!(
        "| without a Redis coordinator | {} | 1.000 |",
        nanos(median(&times[0]), READS)
    );
    println!(
        "| with a RedisCoordinator | {} | {:.3} |",
        nanos(median(&times[1]), READS),
        median_ratio(&times[1], &times[0])
    );
    println!("Redis commands during the cached reads: {touched}");

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("cached_access_token");
    group.bench_function("without_redis", |b| {
        b.iter(|| rt.block_on(cached_plain.access_token()).expect("cached"))
    });
    group.bench_function("with_redis_coordinator", |b| {
        b.iter(|| rt.block_on(cached_redis.access_token()).expect("cached"))
    });
    group.finish();
    criterion.final_summary();
}
