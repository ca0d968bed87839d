//! Refresh round trip: `client.subscriber_tokens().refresh(&token)` beside the same POST
//! written by hand with reqwest + serde, and with a raw hyper connection.
//!
//! All three run one after another on the same current-thread tokio runtime, against the
//! same [`LocalServer`] (its own thread and runtime) answering 201 with a fixed pair, over
//! a keep-alive connection. Each call's result is checked, so a failure cannot pass for
//! a fast call. BENCHMARKS.md takes the ratios from the `ratios` bench, which measures
//! the same calls interleaved; this one gives each call's time with its confidence
//! interval. `token_checks` times the facade's check of a received pair on its own.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use signalwire_fabric::{AccessToken, RefreshToken};
use signalwire_fabric_benchmarks::{
    HyperClient, LocalServer, access_text, pair_json, refresh_text, tokens,
};

fn refresh_round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let server = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    let (_, old) = tokens("old");
    let facade = server.facade_client();
    let baseline = server.baseline_client();
    let mut hyper = runtime
        .block_on(HyperClient::connect(server.addr()))
        .expect("hyper connects to the local server");

    let mut group = c.benchmark_group("refresh_round_trip");
    group.bench_function("facade", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let pair = facade.subscriber_tokens().refresh(&old).await;
                    black_box(pair.expect("the facade refresh succeeds"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let pair = baseline.refresh(old.expose_secret()).await;
                    black_box(pair.expect("the reqwest refresh succeeds"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("hyper", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let pair = hyper.refresh(old.expose_secret()).await;
                    black_box(pair.expect("the hyper refresh succeeds"));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    // One keep-alive connection per client: a figure that included connecting would
    // measure the TCP handshake, not the client.
    eprintln!(
        "refresh_round_trip: the server saw {} requests on {} connections",
        server.requests(),
        server.connections()
    );
}

/// The facade checks both tokens of every pair it receives (`AccessToken::parse`,
/// `RefreshToken::parse`): the cost of that per refresh, beside copying the two texts
/// alone (which the parse includes).
fn token_checks(c: &mut Criterion) {
    let access = access_text("next");
    let refresh = refresh_text("next");
    let mut group = c.benchmark_group("token_checks");
    group.bench_function("parse_pair", |b| {
        b.iter(|| {
            let access = AccessToken::parse(black_box(&access).clone()).expect("valid");
            let refresh = RefreshToken::parse(black_box(&refresh).clone()).expect("valid");
            (access, refresh)
        })
    });
    group.bench_function("copy_pair_texts", |b| {
        b.iter(|| (black_box(&access).clone(), black_box(&refresh).clone()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = refresh_round_trip, token_checks
}
criterion_main!(benches);
