//! Error path: a 422 body decoded into the typed error, per call, beside the 201 success
//! path measured the same way.
//!
//! - `error_path_facade`: `client.subscriber_tokens().refresh(&token)` end to end, one
//!   client and one [`LocalServer`] for both paths: the server answers 201 with a pair,
//!   except for one refresh token that it answers 422 `token_expired`, so the two paths
//!   differ only in the answer. Each result is checked (a pair; an `Error::Rejected`
//!   whose one field error is `TokenExpired`). Ratio: 422 / 201.
//! - `error_path_generated`: the generated client alone, answered in-process by
//!   `CallContext::with_responder` (no sockets), so the figure is building the request plus
//!   decoding the body into `types::ErrorResponse` or the success type. A new generated
//!   client per call, as the facade makes one per exchange.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use signalwire_fabric::{Error, ErrorCode};
use signalwire_fabric_api::types;
use signalwire_fabric_benchmarks::{
    LocalServer, REJECTED_JSON, in_process_client, pair_json, refresh_text, responder, tokens,
};

fn facade(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let server = LocalServer::start_with_rejection(201, pair_json("next"), &refresh_text("spent"))
        .expect("the local server starts");
    let (_, old) = tokens("old");
    let (_, spent) = tokens("spent");
    let client = server.facade_client();

    let mut group = c.benchmark_group("error_path_facade");
    group.bench_function("201_success", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let pair = client.subscriber_tokens().refresh(&old).await;
                    black_box(pair.expect("201 is a pair"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("422_rejected", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    match client.subscriber_tokens().refresh(&spent).await {
                        Err(Error::Rejected { errors, .. })
                            if errors.first().map(|error| &error.code)
                                == Some(&ErrorCode::TokenExpired) =>
                        {
                            black_box(errors);
                        }
                        other => panic!("422 must be a token_expired rejection: {other:?}"),
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn generated(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let http = reqwest::Client::new();
    let success = responder(201, pair_json("next"));
    let rejected = responder(422, REJECTED_JSON);
    let (_, old) = tokens("old");
    let body = || types::RefreshSubscriberTokenRequest {
        refresh_token: old.expose_secret().to_owned(),
    };
    let client = |responder| in_process_client(&http, responder);

    let mut group = c.benchmark_group("error_path_generated");
    group.bench_function("201_success", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let api = client(&success);
                    let answer = api.refresh_subscriber_token().body(body()).send().await;
                    black_box(answer.expect("201 is a pair").into_inner());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("422_rejected", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let api = client(&rejected);
                    match api.refresh_subscriber_token().body(body()).send().await {
                        Err(signalwire_fabric_api::Error::ErrorResponse(answer))
                            if answer.status().as_u16() == 422 =>
                        {
                            black_box(answer.into_inner());
                        }
                        other => panic!("422 must be an error response: {other:?}"),
                    }
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = facade, generated
}
criterion_main!(benches);
