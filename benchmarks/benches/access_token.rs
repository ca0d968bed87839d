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

use std::hint::black_box;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use signalwire_fabric::SubscriberSession;
use signalwire_fabric_benchmarks::{LocalServer, fresh_pair, pair_json, tokens};

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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = cached_access_token, fast_path_parts
}
criterion_main!(benches);
