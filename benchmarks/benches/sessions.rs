//! Many sessions: the time to build 1,000, 10,000 and 100,000 sessions with
//! `client.session(pair).build()`.
//!
//! The pairs are made before the clock starts (clones of one fresh pair: cloning a pair
//! only bumps two reference counts), and the sessions are dropped after it stops, so the
//! figure is the building alone, plus pushing into a vector sized in advance. Criterion
//! reports the time per batch and sessions per second; ns per session at each count is
//! the batch time divided by the count, and growth is linear when that stays flat.
//!
//! Memory per session is measured by the `session_memory` bench, which needs a counting
//! allocator that would slow this one down.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use signalwire_fabric_benchmarks::{LocalServer, fresh_pair, pair_json};

fn build_sessions(c: &mut Criterion) {
    let server = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    let client = server.facade_client();
    let pair = fresh_pair("now");

    let mut group = c.benchmark_group("session_build");
    group.sample_size(10);
    for count in [1_000u64, 10_000, 100_000] {
        group.throughput(Throughput::Elements(count));
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, &count| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let pairs = vec![pair.clone(); count as usize];
                    let mut sessions = Vec::with_capacity(pairs.len());
                    let start = Instant::now();
                    for pair in pairs {
                        sessions.push(client.session(pair).build());
                    }
                    total += start.elapsed();
                    black_box(&sessions);
                }
                total
            })
        });
    }
    group.finish();
    assert_eq!(server.requests(), 0, "building a session sends nothing");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = build_sessions
}
criterion_main!(benches);
