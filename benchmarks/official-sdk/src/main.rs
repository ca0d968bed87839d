//! A 422 and a 201 through this SDK's facade and through the official `signalwire-sdk`
//! crate (1.1.2, blocking `ureq`), against one loopback server, in interleaved rounds.
//! Prints the median per call of each and the ratios. `BENCH_ROUNDS` (default 200) sets
//! the rounds; each batch is 50 calls.

use std::hint::black_box;
use std::time::{Duration, Instant};

use signalwire::rest::RestClient;
use signalwire_fabric::{Error, ErrorCode};
use signalwire_fabric_benchmarks::{
    API_TOKEN, LocalServer, PROJECT_ID, pair_json, refresh_text, tokens,
};

const BATCH: u32 = 50;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2] / BATCH
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let server = LocalServer::start_with_rejection(201, pair_json("next"), &refresh_text("spent"))
        .expect("the local server starts");
    let facade = server.facade_client();
    let official = RestClient::with_base_url(PROJECT_ID, API_TOKEN, &server.base_url())
        .expect("the official client takes a loopback base URL");
    let (_, old) = tokens("old");
    let (_, spent) = tokens("spent");
    let old_json = serde_json::json!({ "refresh_token": old.expose_secret() });
    let spent_json = serde_json::json!({ "refresh_token": spent.expose_secret() });

    let ours_201 = || {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..BATCH {
                let pair = facade.subscriber_tokens().refresh(&old).await;
                black_box(pair.expect("201 is a pair"));
            }
            start.elapsed()
        })
    };
    let ours_422 = || {
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..BATCH {
                match facade.subscriber_tokens().refresh(&spent).await {
                    Err(Error::Rejected { errors, .. })
                        if errors.first().map(|error| &error.code)
                            == Some(&ErrorCode::TokenExpired) =>
                    {
                        black_box(errors);
                    }
                    other => panic!("expected a typed 422, got {:?}", other.map(|_| ())),
                }
            }
            start.elapsed()
        })
    };
    let theirs = |body: &serde_json::Value, status: Option<u16>| {
        let start = Instant::now();
        for _ in 0..BATCH {
            let answer = official.fabric().tokens().refresh_subscriber_token(body);
            match (status, answer) {
                (None, Ok(pair)) => drop(black_box(pair)),
                (Some(expected), Err(error)) if error.status_code() == expected => {
                    drop(black_box(error))
                }
                (_, other) => panic!("unexpected answer: {:?}", other.map(|_| ())),
            }
        }
        start.elapsed()
    };

    let mut times: [Vec<Duration>; 4] = Default::default();
    for round in 0..rounds {
        // Each round starts with a different one, so no path always runs first.
        for step in 0..4 {
            let which = (round + step) % 4;
            let elapsed = match which {
                0 => ours_201(),
                1 => ours_422(),
                2 => theirs(&old_json, None),
                _ => theirs(&spent_json, Some(422)),
            };
            times[which].push(elapsed);
        }
    }
    let [ours_201, ours_422, theirs_201, theirs_422] = times.map(median);
    println!(
        "error path against the official crate ({rounds} rounds of {BATCH} calls each, interleaved)\n"
    );
    println!("| client | 201 success | 422 rejected | 422 / 201 |");
    println!("|---|---:|---:|---:|");
    for (name, ok, rejected) in [
        ("signalwire-fabric (facade)", ours_201, ours_422),
        ("signalwire-sdk 1.1.2 (official)", theirs_201, theirs_422),
    ] {
        println!(
            "| {name} | {ok:.1?} | {rejected:.1?} | {:.3} |",
            rejected.as_secs_f64() / ok.as_secs_f64()
        );
    }
    println!(
        "\nours / official: 422 {:.3}, 201 {:.3}; the server saw {} requests",
        ours_422.as_secs_f64() / theirs_422.as_secs_f64(),
        ours_201.as_secs_f64() / theirs_201.as_secs_f64(),
        server.requests()
    );
}
