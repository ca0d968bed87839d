//! Cached token read: `session.access_token()` when no refresh is due, from 1, 2, 8 and 64
//! tasks at once.
//!
//! Every session holds a pair issued just now (two hours left) and has already saved it,
//! so every call takes the lock-free fast path. Each measurement spawns `tasks` tasks on
//! a 2-worker runtime that together make `iters` calls, and times the wall clock from the
//! first spawn to the last join: criterion's time per iteration is wall time divided by
//! the total number of calls, and its throughput is total calls per second.
//!
//! - `shared/N`: N tasks read one session (the contended case).
//! - `own_session/N`: N tasks each read a session of their own: the same work with no
//!   shared cache lines, the baseline that tells contention apart from a busy machine.
//! - `inline`: the loop run directly in `block_on`, without spawning: one caller.
//!
//! The calls never await anything real, so a task never yields: on 2 workers at most 2
//! callers run at the same moment, whatever N is.
//!
//! `fast_path_parts` times the pieces of the fast path on their own (reading tokio's
//! clock, cloning and dropping an `AccessToken`, loading an `ArcSwap` snapshot like the
//! session's), to show which dominates.
//!
//! `metrics_recorder` (issue 22) times the same cached read with a metrics recorder
//! installed (metrics-exporter-prometheus's, as the app would install it, set for the
//! thread) and with none, in one run: criterion's figures for each, then a table of
//! interleaved rounds (`BENCH_ROUNDS`, default 200, of 100,000 reads each) with the median
//! ratio. Before timing it checks the recorder is live: a due session's refresh through it
//! shows up in its Prometheus text.

use std::hint::black_box;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use signalwire_fabric::SubscriberSession;
use signalwire_fabric_benchmarks::{
    Contender, LocalServer, expired_pair, fresh_pair, interleaved, median, median_ratio, pair_json,
    tokens,
};

async fn read(session: &SubscriberSession, calls: u64) {
    for _ in 0..calls {
        black_box(session.access_token().await.expect("a cached token"));
    }
}

/// A session whose pair is saved, so that every call takes the fast path.
async fn ready_session(server: &LocalServer) -> SubscriberSession {
    let session = server.facade_client().session(fresh_pair("now")).build();
    // The first call hands the pair to the worker to save; from then on, calls take the
    // fast path.
    session
        .access_token()
        .await
        .expect("a fresh pair has a token");
    while !session.status().saved {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    session
}

/// Runs `iters` calls split over one task per session in `sessions`; returns the wall
/// time, scaled back to exactly `iters` calls when rounding added a few.
async fn spread(sessions: &[SubscriberSession], iters: u64) -> Duration {
    let tasks = sessions.len() as u64;
    let per_task = iters.div_ceil(tasks);
    let start = Instant::now();
    let handles: Vec<_> = sessions
        .iter()
        .map(|session| {
            let session = session.clone();
            tokio::spawn(async move { read(&session, per_task).await })
        })
        .collect();
    for handle in handles {
        handle.await.expect("a reader task does not panic");
    }
    start
        .elapsed()
        .mul_f64(iters as f64 / (per_task * tasks) as f64)
}

fn cached_access_token(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    // No request should reach it; it is there to prove that.
    let server = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    let session = runtime.block_on(ready_session(&server));

    let mut group = c.benchmark_group("cached_access_token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("inline", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                read(&session, iters).await;
                start.elapsed()
            })
        })
    });
    for tasks in [1usize, 2, 8, 64] {
        let shared = vec![session.clone(); tasks];
        group.bench_with_input(BenchmarkId::new("shared", tasks), &shared, |b, shared| {
            b.iter_custom(|iters| runtime.block_on(spread(shared, iters)))
        });
        let own: Vec<_> = runtime.block_on(async {
            let mut own = Vec::with_capacity(tasks);
            for _ in 0..tasks {
                own.push(ready_session(&server).await);
            }
            own
        });
        group.bench_with_input(BenchmarkId::new("own_session", tasks), &own, |b, own| {
            b.iter_custom(|iters| runtime.block_on(spread(own, iters)))
        });
    }
    group.finish();
    assert_eq!(server.requests(), 0, "a cached read never sends a request");
    assert_eq!(session.status().refreshes, 0);
}

fn fast_path_parts(c: &mut Criterion) {
    let (access, _) = tokens("now");
    let far = tokio::time::Instant::now() + Duration::from_secs(3600);
    let hot = ArcSwap::from_pointee((access.clone(), far, true));

    let mut group = c.benchmark_group("fast_path_parts");
    group.bench_function("tokio_instant_now", |b| b.iter(tokio::time::Instant::now));
    group.bench_function("access_token_clone_drop", |b| {
        b.iter(|| black_box(access.clone()))
    });
    group.bench_function("arc_swap_load_check", |b| {
        b.iter(|| {
            let snapshot = hot.load();
            black_box(snapshot.2 && black_box(far) > snapshot.1)
        })
    });
    group.bench_function("all_but_the_clock", |b| {
        b.iter(|| {
            let snapshot = hot.load();
            if snapshot.2 && black_box(far) > snapshot.1 {
                Some(snapshot.0.clone())
            } else {
                None
            }
        })
    });
    group.finish();
}

/// Reads per batch in `metrics_recorder`'s interleaved rounds.
const READS: u64 = 100_000;

fn metrics_recorder(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let server = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // The recorder is live: a due session refreshes through it, and that is counted.
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let due = server.facade_client().session(expired_pair("due")).build();
            due.access_token().await.expect("refreshed");
        })
    });
    let rendered = handle.render();
    assert!(
        rendered.contains("signalwire_fabric_session_refreshes_total{outcome=\"stored\"} 1"),
        "the recorder counted the refresh:\n{rendered}"
    );
    let session = runtime.block_on(ready_session(&server));
    let reads = |n: u64| {
        let start = Instant::now();
        runtime.block_on(read(&session, n));
        start.elapsed()
    };

    let mut group = c.benchmark_group("cached_access_token_metrics");
    group.throughput(Throughput::Elements(1));
    group.bench_function("no_recorder", |b| b.iter_custom(reads));
    group.bench_function("prometheus_recorder", |b| {
        b.iter_custom(|iters| metrics::with_local_recorder(&recorder, || reads(iters)))
    });
    group.finish();

    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200);
    let mut without = || reads(READS);
    let mut with = || metrics::with_local_recorder(&recorder, || reads(READS));
    let mut contenders: [Contender<'_>; 2] = [&mut with, &mut without];
    let times = interleaved(rounds, &mut contenders);
    let per_read = |times: &[Duration]| median(times).as_secs_f64() * 1e9 / READS as f64;
    println!(
        "\ncached access_token(), {rounds} interleaved rounds of {READS} reads\n\n| recorder | ns per read | with / without |\n|---|---:|---:|\n| none | {:.1} | |\n| metrics-exporter-prometheus | {:.1} | **{:.3}** |\n",
        per_read(&times[1]),
        per_read(&times[0]),
        median_ratio(&times[0], &times[1]),
    );
    assert_eq!(
        server.requests(),
        1,
        "only the due session's refresh was sent"
    );
    assert!(
        handle
            .render()
            .contains("signalwire_fabric_session_refreshes_total{outcome=\"stored\"} 1"),
        "the cached reads recorded nothing more"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = cached_access_token, fast_path_parts, metrics_recorder
}
criterion_main!(benches);
