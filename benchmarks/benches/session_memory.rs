//! Memory per idle session: heap bytes (and allocations) that 1,000, 10,000 and 100,000
//! sessions hold, counted by dhat's allocator. Not a criterion bench: it prints a table.
//!
//! For each count it makes, in this order, taking a heap snapshot between steps:
//!
//! 1. the pairs, each with its own copy of ~700-character access and refresh tokens (as
//!    every subscriber has its own): "tokens" is what one pair holds on the heap;
//! 2. the sessions, built with `client.session(pair).build()` from those pairs (the pair
//!    moves into the session, so its tokens are not counted again): "built" is what a
//!    session adds on top of its tokens;
//! 3. the first `access_token()` on each, which saves the pair to the session's
//!    `MemoryStore` and publishes it for the fast path; "after first use" is what a
//!    session holds from then on, when idle (no refresh due for two hours).
//!
//! The vectors holding pairs and sessions are allocated before the snapshots, so they are
//! not counted. Bytes per session must not grow with the count (linear total).

use std::time::Duration;

use signalwire_fabric::{AccessToken, RefreshToken, SubscriberSession, TokenPair};
use signalwire_fabric_benchmarks::{LocalServer, access_text, pair_json, refresh_text};

/// How many sessions are first used at once.
const CHUNK: usize = 1_000;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn live() -> (usize, usize) {
    let stats = dhat::HeapStats::get();
    (stats.curr_bytes, stats.curr_blocks)
}

struct Row {
    count: usize,
    token_bytes: f64,
    built_bytes: f64,
    built_blocks: f64,
    used_bytes: f64,
    used_blocks: f64,
}

fn measure(count: usize, runtime: &tokio::runtime::Runtime, server: &LocalServer) -> Row {
    let client = server.facade_client();
    let access = access_text("idle");
    let refresh = refresh_text("idle");
    let per = |delta: usize| delta as f64 / count as f64;

    let mut pairs: Vec<TokenPair> = Vec::with_capacity(count);
    let mut sessions: Vec<SubscriberSession> = Vec::with_capacity(count);
    let issued = tokio::time::Instant::now();

    let (start, _) = live();
    for _ in 0..count {
        pairs.push(TokenPair::issued_at(
            AccessToken::parse(access.clone()).expect("a valid access token"),
            RefreshToken::parse(refresh.clone()).expect("a valid refresh token"),
            issued,
        ));
    }
    let (with_pairs, pair_blocks) = live();

    for pair in pairs.drain(..) {
        sessions.push(client.session(pair).build());
    }
    let (built, built_blocks) = live();

    runtime.block_on(async {
        // In chunks the size of the warm-up, so the runtime's queue does not grow here.
        for chunk in sessions.chunks(CHUNK) {
            for session in chunk {
                session
                    .access_token()
                    .await
                    .expect("a fresh pair has a token");
            }
            while !chunk.iter().all(|session| session.status().saved) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let (used, used_blocks) = live();

    Row {
        count,
        token_bytes: per(with_pairs - start),
        built_bytes: per(built - with_pairs),
        built_blocks: per(built_blocks - pair_blocks),
        used_bytes: per(used - with_pairs),
        used_blocks: per(used_blocks - pair_blocks),
    }
}

fn main() {
    let _profiler = dhat::Profiler::builder()
        .testing() // keep the stats in memory, write no file
        .trim_backtraces(Some(4))
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let server = LocalServer::start(201, pair_json("next")).expect("the local server starts");
    // Grow the runtime's task queue before counting, so it is not charged to sessions.
    runtime.block_on(async {
        let tasks: Vec<_> = (0..CHUNK).map(|_| tokio::spawn(async {})).collect();
        for task in tasks {
            task.await.expect("an empty task does not panic");
        }
    });

    let rows: Vec<Row> = [1_000, 10_000, 100_000]
        .into_iter()
        .map(|count| measure(count, &runtime, &server))
        .collect();
    assert_eq!(server.requests(), 0, "idle sessions send nothing");

    // Context for the per-session figure: the state a session keeps inline includes the
    // newest pair and room for up to three errors (last outcome, last error, end).
    println!(
        "size_of: TokenPair {} B, Error {} B, Option<Result<(), Error>> {} B, Sleep {} B\n",
        std::mem::size_of::<TokenPair>(),
        std::mem::size_of::<signalwire_fabric::Error>(),
        std::mem::size_of::<Option<Result<(), signalwire_fabric::Error>>>(),
        std::mem::size_of::<tokio::time::Sleep>(),
    );
    let base = rows[0].used_bytes;
    println!(
        "| sessions | tokens B/pair | built B/session (allocs) | after first use B/session (allocs) | vs 1,000 |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.0} | {:.0} ({:.1}) | {:.0} ({:.1}) | {:.3} |",
            row.count,
            row.token_bytes,
            row.built_bytes,
            row.built_blocks,
            row.used_bytes,
            row.used_blocks,
            row.used_bytes / base,
        );
    }
}
