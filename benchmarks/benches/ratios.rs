//! The ratios of BENCHMARKS.md, measured interleaved: not a criterion bench, it prints
//! markdown tables.
//!
//! The `refresh` and `error_path` criterion benches give each contender's time per call
//! with a confidence interval, but they measure one contender after another, so on a
//! machine shared with other work a change of load between them skews the ratio. Here
//! every round runs one batch of each contender back to back (see [`interleaved`]), and
//! each ratio is the median over rounds of the per-round ratio. All contenders share one
//! current-thread runtime; the [`LocalServer`]s run on their own threads.
//!
//! Refresh round trip, against one server answering 201, from the most work to the least:
//!
//! - `facade`: `client.subscriber_tokens().refresh(&token)`;
//! - `generated + the facade's token checks`: the next line, then `AccessToken::parse`
//!   and `RefreshToken::parse` of the answer, as the facade does;
//! - `generated`: the generated client alone over loopback, with a reqwest client set up
//!   as the facade sets up its own (Basic header, user agent, no redirects, timeouts),
//!   and a new generated client per call, as the facade does; the facade's own work
//!   (token checks, error mapping, tracing span) is the difference to `facade`;
//! - `reqwest + rewrap`: the hand-written reqwest call, but with the response body
//!   re-wrapped in a length limit the way the generated client's `exec` hook does it
//!   (`reqwest::Response` → `http::Response` → `Limited` → back);
//! - `reqwest`: the hand-written call of [`BaselineClient`](signalwire_fabric_benchmarks::BaselineClient);
//! - `hyper`: one raw hyper connection ([`HyperClient`]).
//!
//! Error path: the facade refreshing a token the server answers 422 beside one it answers
//! 201 (same client, same connection), and the generated client alone answered
//! in-process (no sockets) with the same two bodies.
//!
//! `BENCH_ROUNDS` (default 200) sets the number of rounds; each batch is 50 calls.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use signalwire_fabric::{AccessToken, Error, ErrorCode, RefreshToken};
use signalwire_fabric_api::types;
use signalwire_fabric_benchmarks::{
    Contender, HyperClient, LocalServer, PlainPair, REFRESH_PATH, REJECTED_JSON,
    basic_authorization, in_process_client, interleaved, median, median_ratio, pair_json,
    refresh_text, responder, tokens,
};
use tokio::runtime::Runtime;

/// Calls per batch.
const BATCH: u32 = 50;

/// Times one batch of `call` on `runtime`.
fn batch<F: Future<Output = ()>>(runtime: &Runtime, mut call: impl FnMut() -> F) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..BATCH {
            call().await;
        }
        start.elapsed()
    })
}

fn per_call(time: Duration) -> String {
    format!("{:.1} µs", time.as_secs_f64() * 1e6 / f64::from(BATCH))
}

/// A reqwest client set up like the facade's (see `crates/signalwire-fabric/src/client.rs`).
fn facade_like_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, basic_authorization());
    reqwest::Client::builder()
        .user_agent("signalwire-fabric/0.1.0")
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client builds")
}

#[derive(serde::Serialize)]
struct RefreshRequest<'a> {
    refresh_token: &'a str,
}

fn main() {
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let rt = &runtime;
    // 201 with a pair, except 422 for the `spent` refresh token (the error path).
    let success = LocalServer::start_with_rejection(201, pair_json("next"), &refresh_text("spent"))
        .expect("the local server starts");
    let (_, old) = tokens("old");
    let old = &old;
    let (_, spent) = tokens("spent");
    let spent = &spent;
    let base_url = &success.base_url();
    let url = &format!("{base_url}{REFRESH_PATH}");

    let facade = &success.facade_client();
    let generated_http = &facade_like_http();
    let baseline = &success.baseline_client();
    let plain_http = &reqwest::Client::new();
    let mut hyper = runtime
        .block_on(HyperClient::connect(success.addr()))
        .expect("hyper connects to the local server");

    let mut facade_201 = || {
        batch(rt, move || async move {
            let pair = facade.subscriber_tokens().refresh(old).await;
            black_box(pair.expect("201 is a pair"));
        })
    };
    let mut facade_422 = || {
        batch(rt, move || async move {
            match facade.subscriber_tokens().refresh(spent).await {
                Err(Error::Rejected { errors, .. })
                    if errors.first().map(|error| &error.code)
                        == Some(&ErrorCode::TokenExpired) =>
                {
                    black_box(errors);
                }
                other => panic!("422 must be a token_expired rejection: {other:?}"),
            }
        })
    };
    let mut generated = || {
        batch(rt, move || async move {
            let api = signalwire_fabric_api::Client::new_with_client(
                base_url,
                generated_http.clone(),
                signalwire_fabric_api::CallContext::new(1024 * 1024),
            );
            let body = types::RefreshSubscriberTokenRequest {
                refresh_token: old.expose_secret().to_owned(),
            };
            let answer = api.refresh_subscriber_token().body(body).send().await;
            black_box(answer.expect("201 is a pair").into_inner());
        })
    };
    let mut generated_checked = || {
        batch(rt, move || async move {
            let api = signalwire_fabric_api::Client::new_with_client(
                base_url,
                generated_http.clone(),
                signalwire_fabric_api::CallContext::new(1024 * 1024),
            );
            let body = types::RefreshSubscriberTokenRequest {
                refresh_token: old.expose_secret().to_owned(),
            };
            let answer = api.refresh_subscriber_token().body(body).send().await;
            let answer = answer.expect("201 is a pair").into_inner();
            let access = AccessToken::parse(answer.token).expect("a valid access token");
            let refresh = RefreshToken::parse(answer.refresh_token).expect("a valid refresh token");
            black_box((access, refresh));
        })
    };
    let mut rewrapped = || {
        batch(rt, move || async move {
            let response = plain_http
                .post(url)
                .basic_auth(
                    signalwire_fabric_benchmarks::PROJECT_ID,
                    Some(signalwire_fabric_benchmarks::API_TOKEN),
                )
                .json(&RefreshRequest {
                    refresh_token: old.expose_secret(),
                })
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("201");
            let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
            let limited = http_body_util::Limited::new(body, 1024 * 1024);
            let response = reqwest::Response::from(http::Response::from_parts(
                parts,
                reqwest::Body::wrap(limited),
            ));
            let pair: PlainPair = response.json().await.expect("a pair");
            black_box(pair);
        })
    };
    let mut reqwest_201 = || {
        batch(rt, move || async move {
            let pair = baseline.refresh(old.expose_secret()).await;
            black_box(pair.expect("201 is a pair"));
        })
    };
    let mut hyper_201 = || {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..BATCH {
                let pair = hyper.refresh(old.expose_secret()).await;
                black_box(pair.expect("201 is a pair"));
            }
            start.elapsed()
        })
    };

    let names = [
        "facade",
        "generated + the facade's token checks",
        "generated (facade's reqwest settings)",
        "reqwest + rewrap (as the exec hook does)",
        "reqwest by hand (baseline)",
        "raw hyper",
    ];
    let mut round_trip: [Contender<'_>; 6] = [
        &mut facade_201,
        &mut generated_checked,
        &mut generated,
        &mut rewrapped,
        &mut reqwest_201,
        &mut hyper_201,
    ];
    // Warm up every path (connections, pools, caches) before counting.
    for contender in &mut round_trip {
        contender();
    }
    let times = interleaved(rounds, &mut round_trip);
    let (reqwest_t, hyper_t) = (&times[4], &times[5]);
    println!("refresh round trip ({rounds} rounds of {BATCH} calls each, interleaved)\n");
    println!("| client | median per call | this / reqwest | this / hyper |");
    println!("|---|---:|---:|---:|");
    for (name, times) in names.iter().zip(&times) {
        println!(
            "| {name} | {} | {:.3} | {:.3} |",
            per_call(median(times)),
            median_ratio(times, reqwest_t),
            median_ratio(times, hyper_t),
        );
    }

    facade_422();
    let facade_errors = interleaved(rounds, &mut [&mut facade_201, &mut facade_422]);

    let http = &reqwest::Client::new();
    let answer_201 = &responder(201, pair_json("next"));
    let answer_422 = &responder(422, REJECTED_JSON);
    let body = move || types::RefreshSubscriberTokenRequest {
        refresh_token: old.expose_secret().to_owned(),
    };
    let mut generated_201 = || {
        batch(rt, move || async move {
            let api = in_process_client(http, answer_201);
            let answer = api.refresh_subscriber_token().body(body()).send().await;
            black_box(answer.expect("201 is a pair").into_inner());
        })
    };
    let mut generated_422 = || {
        batch(rt, move || async move {
            let api = in_process_client(http, answer_422);
            match api.refresh_subscriber_token().body(body()).send().await {
                Err(signalwire_fabric_api::Error::ErrorResponse(answer))
                    if answer.status().as_u16() == 422 =>
                {
                    black_box(answer.into_inner());
                }
                other => panic!("422 must be an error response: {other:?}"),
            }
        })
    };
    generated_201();
    generated_422();
    let in_process = interleaved(rounds, &mut [&mut generated_201, &mut generated_422]);

    println!("\nerror path ({rounds} rounds of {BATCH} calls each, interleaved)\n");
    println!("| path | 201 success | 422 rejected | 422 / 201 |");
    println!("|---|---:|---:|---:|");
    for (name, times) in [
        ("facade, over loopback", &facade_errors),
        ("generated client, in-process", &in_process),
    ] {
        println!(
            "| {name} | {} | {} | {:.3} |",
            per_call(median(&times[0])),
            per_call(median(&times[1])),
            median_ratio(&times[1], &times[0])
        );
    }
    println!(
        "\nthe server saw {} requests on {} connections",
        success.requests(),
        success.connections()
    );
}
