//! The refresh endpoint of `signalwire-fabric-axum` answering from a cached session,
//! against a bare axum handler returning the same JSON: what the endpoint's checks (the
//! JSON content type, the app's sign-in, the per-user rate limit, the bounded body),
//! the session look-up and the no-store header cost per request.
//!
//! Both routers are served from one thread with its own current-thread runtime; the
//! client is a raw hyper HTTP/1 keep-alive connection per router on another thread
//! (`loopback`). The same routers are also called in-process through
//! `tower::ServiceExt::oneshot`, without sockets (`in_process`), which shows the
//! endpoint's own work undiluted. The session was created once against the fake space
//! before timing, and every answer's status and token are checked: each must carry the
//! token the session was created with, so a request that was not answered from the
//! cached session fails the bench. The bare handler is mounted the way the endpoints
//! are (`Router::nest` at `/api/signalwire`), so both pay the same routing.
//!
//! Criterion gives each contender's time per request with its confidence interval; the
//! table printed at the end gives the ratios from interleaved rounds (one batch of each
//! contender per round, the median of the per-round ratios), as BENCHMARKS.md takes
//! them. `BENCH_ROUNDS` (default 200) sets the number of rounds; each batch is 50
//! requests.
//!
//! ```sh
//! cargo bench -p signalwire-fabric-benchmarks --bench token_endpoint -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use criterion::Criterion;
use http::header::{CONTENT_TYPE, COOKIE, HOST};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use signalwire_fabric::SessionKey;
use signalwire_fabric_axum::{Authenticator, RateLimit, Refusal, SubscriberProfile, TokenService};
use signalwire_fabric_benchmarks::{
    Contender, interleaved, keep_alive_connection, median, median_ratio,
};
use signalwire_fabric_fake::FakeSpace;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

/// Requests per batch in the interleaved rounds.
const BATCH: u32 = 50;
const REFRESH: &str = "/api/signalwire/refresh";
const SESSION: &str = "bench_session=4f1c0e8a9b7d4e2fa1c3b5d7e9f10234";

/// The bench's sign-in: one signed-in user, found by the session cookie.
struct OneUser;

#[signalwire_fabric_axum::async_trait]
impl Authenticator for OneUser {
    async fn authenticate(
        &self,
        request: &http::request::Parts,
    ) -> Result<SubscriberProfile, Refusal> {
        let cookie = request
            .headers
            .get(COOKIE)
            .ok_or(Refusal::Unauthenticated)?;
        if cookie.as_bytes() != SESSION.as_bytes() {
            return Err(Refusal::Unauthenticated);
        }
        let key = SessionKey::new("bench-user").map_err(|_| Refusal::Forbidden)?;
        Ok(SubscriberProfile::new(key, "bench@example.com"))
    }
}

/// The routers under test, built and warmed on the server runtime.
struct Served {
    endpoint: Router,
    bare: Router,
    endpoint_addr: SocketAddr,
    bare_addr: SocketAddr,
    token: String,
}

/// Starts the fake, the service and both routers on a thread of their own.
fn serve() -> Served {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let fake = FakeSpace::start().await;
            let unlimited = RateLimit::new(NonZeroU32::MAX, Duration::from_secs(1));
            let service = TokenService::builder(fake.client(), OneUser)
                .rate_limit(unlimited)
                .build();
            let endpoint = Router::new().nest("/api/signalwire", service.router());
            // The first answer makes the session; the bare handler returns its JSON.
            let first = endpoint
                .clone()
                .oneshot(request("/api/signalwire/authenticate", None))
                .await
                .expect("answered");
            assert_eq!(first.status(), StatusCode::OK);
            let json = first
                .into_body()
                .collect()
                .await
                .expect("a body")
                .to_bytes();
            let token = serde_json::from_slice::<serde_json::Value>(&json).expect("JSON")["token"]
                .as_str()
                .expect("a token")
                .to_owned();
            // Mounted the way the endpoints are, so both pay the same routing.
            let bare = Router::new().nest(
                "/api/signalwire",
                Router::new().route(
                    "/refresh",
                    post(move || {
                        let json = json.clone();
                        async move { ([(CONTENT_TYPE, "application/json")], json) }
                    }),
                ),
            );
            let endpoint_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            sender
                .send(Served {
                    endpoint: endpoint.clone(),
                    bare: bare.clone(),
                    endpoint_addr: endpoint_listener.local_addr().expect("an address"),
                    bare_addr: bare_listener.local_addr().expect("an address"),
                    token,
                })
                .expect("the bench waits");
            let serve_endpoint = axum::serve(endpoint_listener, endpoint);
            let serve_bare = axum::serve(bare_listener, bare);
            let _ = tokio::join!(serve_endpoint, serve_bare);
            drop(fake);
        });
    });
    receiver.recv().expect("the server thread starts")
}

fn request(path: &str, host: Option<SocketAddr>) -> Request<axum::body::Body> {
    let mut builder = Request::post(path)
        .header(CONTENT_TYPE, "application/json")
        .header(COOKIE, SESSION);
    if let Some(host) = host {
        builder = builder.header(
            HOST,
            HeaderValue::from_str(&host.to_string()).expect("a host"),
        );
    }
    builder
        .body(axum::body::Body::from("{}"))
        .expect("a request")
}

/// A raw hyper HTTP/1 keep-alive connection.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let sender = keep_alive_connection(addr)
            .await
            .expect("a connection to the local listener");
        Self { sender, addr }
    }

    async fn refresh(&mut self) -> Bytes {
        let request = Request::post(REFRESH)
            .header(HOST, self.addr.to_string())
            .header(CONTENT_TYPE, "application/json")
            .header(COOKIE, SESSION)
            .body(Full::new(Bytes::from_static(b"{}")))
            .expect("a request");
        self.sender.ready().await.expect("ready");
        let response = self.sender.send_request(request).await.expect("answered");
        assert_eq!(response.status(), StatusCode::OK);
        response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes()
    }
}

fn check(body: &[u8], token: &str) {
    // `{"token":"<token>",...}`: the cached token, every time.
    assert!(body.len() > token.len() && body[10..10 + token.len()] == *token.as_bytes());
}

async fn in_process(router: &Router) -> Bytes {
    let answer = router
        .clone()
        .oneshot(request(REFRESH, None))
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::OK);
    answer
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
}

fn batch<F: std::future::Future<Output = ()>>(
    runtime: &Runtime,
    mut call: impl FnMut() -> F,
) -> Duration {
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

fn main() {
    let served = serve();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rt = &runtime;
    let token = served.token.as_str();
    let (endpoint, bare) = (&served.endpoint, &served.bare);
    let endpoint_connection =
        tokio::sync::Mutex::new(runtime.block_on(Connection::open(served.endpoint_addr)));
    let bare_connection =
        tokio::sync::Mutex::new(runtime.block_on(Connection::open(served.bare_addr)));
    let (endpoint_connection, bare_connection) = (&endpoint_connection, &bare_connection);

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("token_endpoint");
        let mut timed = |name: &str, call: &mut dyn FnMut() -> Duration| {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let batches = iters.div_ceil(u64::from(BATCH)).max(1);
                    let total: Duration = (0..batches).map(|_| call()).sum();
                    total.mul_f64(iters as f64 / (batches * u64::from(BATCH)) as f64)
                })
            });
        };
        timed("loopback/refresh_endpoint", &mut || {
            batch(rt, || async {
                let body = endpoint_connection.lock().await.refresh().await;
                check(&body, token);
            })
        });
        timed("loopback/bare_handler", &mut || {
            batch(rt, || async {
                let body = bare_connection.lock().await.refresh().await;
                check(&body, token);
            })
        });
        timed("in_process/refresh_endpoint", &mut || {
            batch(rt, || async { check(&in_process(endpoint).await, token) })
        });
        timed("in_process/bare_handler", &mut || {
            batch(rt, || async { check(&in_process(bare).await, token) })
        });
        group.finish();
    }
    criterion.final_summary();

    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200);
    let mut loopback_endpoint = || {
        batch(rt, || async {
            check(
                &black_box(endpoint_connection.lock().await.refresh().await),
                token,
            );
        })
    };
    let mut loopback_bare = || {
        batch(rt, || async {
            check(
                &black_box(bare_connection.lock().await.refresh().await),
                token,
            );
        })
    };
    let mut in_process_endpoint =
        || batch(rt, || async { check(&in_process(endpoint).await, token) });
    let mut in_process_bare = || batch(rt, || async { check(&in_process(bare).await, token) });
    let mut contenders: [Contender<'_>; 4] = [
        &mut loopback_endpoint,
        &mut loopback_bare,
        &mut in_process_endpoint,
        &mut in_process_bare,
    ];
    for contender in &mut contenders {
        contender();
    }
    let times = interleaved(rounds, &mut contenders);
    println!(
        "\nrefresh endpoint from a cached session ({rounds} rounds of {BATCH} requests each, interleaved)\n"
    );
    println!("| path | refresh endpoint | bare axum handler | endpoint / bare |");
    println!("|---|---:|---:|---:|");
    for (name, endpoint, bare) in [
        (
            "loopback (hyper client, HTTP/1 keep-alive)",
            &times[0],
            &times[1],
        ),
        ("in process (`oneshot`, no sockets)", &times[2], &times[3]),
    ] {
        println!(
            "| {name} | {} | {} | **{:.3}** |",
            per_call(median(endpoint)),
            per_call(median(bare)),
            median_ratio(endpoint, bare),
        );
    }
}
