//! Refresh storm: 10,000 tasks ask a session for a token at the moment its access token
//! has expired (its refresh token is still good), against a [`LocalServer`] that counts
//! requests.
//!
//! Each iteration builds a new session holding an expired pair, then times the wall clock
//! from spawning the 10,000 callers to the last one holding a token. After each storm it
//! checks, outside the timing, that the server saw exactly one request and that every
//! caller got the new access token.
//!
//! The baseline (`one_refresh_then_10000_tasks`) is the least any single-flight design
//! could do: one refresh through the same client, then 10,000 spawned tasks that each
//! clone the new token. The difference is what the session's coordination costs.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use signalwire_fabric::TokenPair;
use signalwire_fabric_benchmarks::{LocalServer, access_text, pair_json, storm, tokens};

const CALLERS: usize = 10_000;

fn refresh_storm(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let server = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    let client = server.facade_client();
    let (access, refresh) = tokens("old");
    let new_access = access_text("next");

    let storms = std::cell::Cell::new(0u64);
    let requests_before = server.requests();
    let mut group = c.benchmark_group("refresh_storm");
    group.sample_size(10);
    group.bench_function("session_10000_callers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let now = tokio::time::Instant::now();
                let expired = TokenPair::new(
                    access.clone(),
                    refresh.clone(),
                    now,
                    now + Duration::from_secs(300),
                );
                let session = client.session(expired).build();
                storms.set(storms.get() + 1);
                let before = server.requests();
                let (elapsed, handed_out) = runtime.block_on(async {
                    let start = Instant::now();
                    let handed_out = storm(&session, CALLERS).await.expect("every caller");
                    (start.elapsed(), handed_out)
                });
                total += elapsed;
                assert_eq!(
                    server.requests() - before,
                    1,
                    "{CALLERS} callers must cause exactly one refresh request"
                );
                assert_eq!(handed_out.len(), CALLERS);
                assert!(
                    handed_out
                        .iter()
                        .all(|token| token.expose_secret() == new_access),
                    "every caller gets the new access token"
                );
            }
            total
        })
    });
    eprintln!(
        "refresh_storm: {} storms of {CALLERS} callers each, {} refresh requests",
        storms.get(),
        server.requests() - requests_before
    );
    group.bench_function("one_refresh_then_10000_tasks", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let pair = client
                        .subscriber_tokens()
                        .refresh(&refresh)
                        .await
                        .expect("the refresh succeeds");
                    let token = Arc::new(pair.access_token().clone());
                    let tasks: Vec<_> = (0..CALLERS)
                        .map(|_| {
                            let token = Arc::clone(&token);
                            tokio::spawn(async move { (*token).clone() })
                        })
                        .collect();
                    for task in tasks {
                        black_box(task.await.expect("a task does not panic"));
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = refresh_storm
}
criterion_main!(benches);
