//! Loopback benchmarks of `signalwire-fabric`, each measured against a baseline in the
//! same run. The figures, the commands and the machine they ran on are in
//! `BENCHMARKS.md` at the repository root.
//!
//! This library holds what the benchmarks share; each bench target under `benches/`
//! measures one thing:
//!
//! | bench | what it measures | baseline in the same run |
//! |---|---|---|
//! | `ratios` | the refresh round trip and the error path, interleaved round by round, as ratios (prints a table; not criterion) | the hand-written reqwest call ([`BaselineClient`]) and a raw hyper connection ([`HyperClient`]); the 201 success path |
//! | `refresh` | `client.subscriber_tokens().refresh(&token)` per call, with criterion's confidence intervals; the facade's token checks alone | the same two hand-written clients |
//! | `error_path` | a 422 decoded into the typed error, through the facade over loopback and through the generated client answered in-process | the 201 success path of each |
//! | `access_token` | `session.access_token()` when no refresh is due, from 1, 2, 8 and 64 tasks; the parts of its fast path | tasks reading sessions of their own (no sharing) |
//! | `storm` | 10,000 tasks asking an expired session for a token at once; checks that exactly one refresh request is sent | one plain refresh followed by 10,000 tasks that do nothing |
//! | `sessions` | building 1,000, 10,000 and 100,000 sessions | the 1,000-session figure (growth must be linear) |
//! | `session_memory` | heap bytes and allocations per idle session at the same counts, with dhat's counting allocator (prints a table; not criterion) | the 1,000-session figure |
//! | `herd` | refreshes per simulated second of a fleet of real sessions created within a minute, over 24 h on tokio's paused clock, and against an upstream that answers 429 beyond a fixed rate; the same counts from the schedule function alone, for candidate windows (prints tables; counts, nothing timed) | the schedule sessions had before (5 min + up to 60 s drawn once per session), in the same run |
//!
//! Every server is a [`LocalServer`]: a few lines of `hyper` on 127.0.0.1, on its own
//! thread and runtime, answering every request with one fixed status and body and
//! counting requests and connections. Nothing leaves the machine and no credentials are
//! needed.
//!
//! `build-times.sh` beside this package times clean builds of the facade against the
//! baseline client (`baseline-client/`).
//!
//! The unit tests below check only correctness (all three clients decode the same pair,
//! a storm sends one request); timing lives in the benches and `BENCHMARKS.md`.

#![forbid(unsafe_code)]

pub mod upstream;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use signalwire_fabric::{AccessToken, Client, RefreshToken, SubscriberSession, TokenPair};
use tokio::time::Instant;

pub use signalwire_fabric_baseline_client::{BaselineClient, REFRESH_PATH, TokenPair as PlainPair};

/// The project id and API token every benchmark client sends (Basic user name and
/// password): the workspace's suite credentials.
pub use signalwire_fabric::testing::{API_TOKEN, PROJECT_ID};

/// The 422 body the error-path benchmark decodes.
pub const REJECTED_JSON: &str = r#"{"errors":[{"type":"validation_error","code":"token_expired","message":"Token has expired.","attribute":"refresh_token","url":"https://example.invalid"}]}"#;

/// Errors of the hand-written clients, which need no more than a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A token shaped like SignalWire's, about 700 characters; see
/// [`signalwire_fabric::testing::jwe`].
pub use signalwire_fabric::testing::jwe;

/// An access token (`typ` "SAT") for [`jwe`]'s `seed`.
pub fn access_text(seed: &str) -> String {
    jwe("SAT", seed)
}

/// A refresh token (`typ` "Refresh") for [`jwe`]'s `seed`.
pub fn refresh_text(seed: &str) -> String {
    jwe("Refresh", seed)
}

/// The 201 body of a refresh: the pair for `seed` as `{"token":...,"refresh_token":...}`.
pub fn pair_json(seed: &str) -> String {
    serde_json::json!({ "token": access_text(seed), "refresh_token": refresh_text(seed) })
        .to_string()
}

/// The tokens for `seed`, parsed into the SDK's secret types.
pub fn tokens(seed: &str) -> (AccessToken, RefreshToken) {
    (
        AccessToken::parse(access_text(seed)).expect("jwe() makes a valid access token"),
        RefreshToken::parse(refresh_text(seed)).expect("jwe() makes a valid refresh token"),
    )
}

/// A pair issued just now: its access token has two hours left, so no refresh is due.
pub fn fresh_pair(seed: &str) -> TokenPair {
    let (access, refresh) = tokens(seed);
    TokenPair::issued_at(access, refresh, Instant::now())
}

/// A pair whose access token has expired and whose refresh token has 5 minutes left: the
/// first caller of a session holding it must refresh.
pub fn expired_pair(seed: &str) -> TokenPair {
    let (access, refresh) = tokens(seed);
    let now = Instant::now();
    TokenPair::new(access, refresh, now, now + Duration::from_secs(300))
}

/// The `Authorization` value for [`PROJECT_ID`] and [`API_TOKEN`].
pub fn basic_authorization() -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{PROJECT_ID}:{API_TOKEN}"));
    HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header value")
}

/// A minimal HTTP/1.1 server on 127.0.0.1 with its own thread and tokio runtime.
///
/// Every `POST` to [`REFRESH_PATH`] with the right Basic credentials is answered with the
/// status and body it was started with (after reading the whole request body); anything
/// else gets 404 or 401. It counts every request it receives. Dropping it stops it.
#[derive(Debug)]
pub struct LocalServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Bytes,
    authorization: HeaderValue,
    /// A refresh token answered with 422 [`REJECTED_JSON`] instead.
    rejected: Option<Bytes>,
}

impl LocalServer {
    /// Starts a server that answers `status` with the JSON `body`.
    pub fn start(status: u16, body: impl Into<Bytes>) -> std::io::Result<Self> {
        Self::start_answering(status, body.into(), None)
    }

    /// Like [`LocalServer::start`], but a request sending `rejected_refresh_token` is
    /// answered 422 with [`REJECTED_JSON`]: the success and the error path then share one
    /// server thread, and can share one client and connection.
    pub fn start_with_rejection(
        status: u16,
        body: impl Into<Bytes>,
        rejected_refresh_token: &str,
    ) -> std::io::Result<Self> {
        let rejected = Bytes::copy_from_slice(rejected_refresh_token.as_bytes());
        Self::start_answering(status, body.into(), Some(rejected))
    }

    fn start_answering(status: u16, body: Bytes, rejected: Option<Bytes>) -> std::io::Result<Self> {
        let status = StatusCode::from_u16(status)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let answer = Arc::new(Answer {
            status,
            body,
            authorization: basic_authorization(),
            rejected,
        });
        let requests = Arc::new(AtomicU64::new(0));
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let connections = Arc::new(AtomicU64::new(0));
        let counters = (Arc::clone(&requests), Arc::clone(&connections));
        let thread = std::thread::Builder::new()
            .name("bench-server".to_owned())
            .spawn(move || runtime.block_on(serve(listener, answer, counters, stop)))?;
        Ok(Self {
            addr,
            requests,
            connections,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests it has received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// How many connections it has accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// A facade client for this server, built as a user would.
    pub fn facade_client(&self) -> Client {
        Client::builder()
            .base_url(self.base_url())
            .project_id(PROJECT_ID)
            .api_token(API_TOKEN)
            .build()
            .expect("a loopback base URL and these credentials are valid")
    }

    /// The hand-written reqwest client for this server.
    pub fn baseline_client(&self) -> BaselineClient {
        BaselineClient::new(&self.base_url(), PROJECT_ID, API_TOKEN)
            .expect("a plain reqwest client builds")
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    answer: Arc<Answer>,
    (requests, connections): (Arc<AtomicU64>, Arc<AtomicU64>),
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bench server: cannot listen: {error}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                connections.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                let answer = Arc::clone(&answer);
                let requests = Arc::clone(&requests);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        respond(request, Arc::clone(&answer), Arc::clone(&requests))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn respond(
    request: Request<hyper::body::Incoming>,
    answer: Arc<Answer>,
    requests: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    requests.fetch_add(1, Ordering::SeqCst);
    let routed = request.method() == Method::POST && request.uri().path() == REFRESH_PATH;
    let authorized = request.headers().get(AUTHORIZATION) == Some(&answer.authorization);
    // Read the whole request, as a real server does before answering.
    let read = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes());
    let rejected = match (&read, &answer.rejected) {
        (Ok(sent), Some(token)) => sent.windows(token.len()).any(|window| window == token),
        _ => false,
    };
    let (status, body) = match (routed, authorized && read.is_ok(), rejected) {
        (false, _, _) => (StatusCode::NOT_FOUND, Bytes::new()),
        (true, false, _) => (StatusCode::UNAUTHORIZED, Bytes::new()),
        (true, true, true) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Bytes::from_static(REJECTED_JSON.as_bytes()),
        ),
        (true, true, false) => (answer.status, answer.body.clone()),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Opens a keep-alive HTTP/1.1 connection to `addr` (Nagle off); its driver runs on the
/// current runtime. The raw client every bench that wants the least overhead sends on.
pub async fn keep_alive_connection(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, BoxError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The refresh call over one raw `hyper` HTTP/1.1 connection: the least any client can
/// do (build the request, send it, read the body, decode it with serde).
#[derive(Debug)]
pub struct HyperClient {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
    authorization: HeaderValue,
}

#[derive(serde::Serialize)]
struct RefreshRequest<'a> {
    refresh_token: &'a str,
}

impl HyperClient {
    /// Opens a keep-alive connection to `addr`; its driver runs on the current runtime.
    pub async fn connect(addr: SocketAddr) -> Result<Self, BoxError> {
        Ok(Self {
            sender: keep_alive_connection(addr).await?,
            host: HeaderValue::from_str(&addr.to_string())?,
            authorization: basic_authorization(),
        })
    }

    /// Exchanges `refresh_token` for a pair; any non-2xx status is an error.
    pub async fn refresh(&mut self, refresh_token: &str) -> Result<PlainPair, BoxError> {
        let body = serde_json::to_vec(&RefreshRequest { refresh_token })?;
        let request = Request::post(REFRESH_PATH)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!("the server answered {status}").into());
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

/// A responder for the generated client's in-process exchanges
/// ([`signalwire_fabric_api::CallContext::with_responder`]): answers every request with
/// `status` and the JSON `body`.
pub fn responder(status: u16, body: impl Into<Vec<u8>>) -> signalwire_fabric_api::Responder {
    let body = body.into();
    Arc::new(move |_request| {
        let mut response = http::Response::new(body.clone());
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    })
}

/// A generated client for one exchange answered by `responder`, built the way the facade
/// builds one per exchange.
pub fn in_process_client(
    http: &reqwest::Client,
    responder: &signalwire_fabric_api::Responder,
) -> signalwire_fabric_api::Client {
    signalwire_fabric_api::Client::new_with_client(
        "http://127.0.0.1:9",
        http.clone(),
        signalwire_fabric_api::CallContext::with_responder(1024 * 1024, Arc::clone(responder)),
    )
}

/// One contender of [`interleaved`]: a closure that runs one batch of calls and returns
/// how long the batch took.
pub type Contender<'a> = &'a mut dyn FnMut() -> Duration;

/// Runs a batch of every contender, round after round (rotating who goes first), and
/// returns each contender's batch times, round by round.
///
/// On a machine shared with other work, load drifts over seconds; criterion measures one
/// function after another, so drift lands on one of them. Here every round measures all
/// contenders within milliseconds of each other, and [`median_ratio`] of the per-round
/// times discards the rounds that a burst of load hit.
pub fn interleaved(rounds: usize, contenders: &mut [Contender<'_>]) -> Vec<Vec<Duration>> {
    let count = contenders.len();
    let mut times = vec![Vec::with_capacity(rounds); count];
    for round in 0..rounds {
        for turn in 0..count {
            let index = (round + turn) % count;
            times[index].push((contenders[index])());
        }
    }
    times
}

fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median of `times`.
pub fn median(times: &[Duration]) -> Duration {
    Duration::from_secs_f64(median_of(times.iter().map(Duration::as_secs_f64).collect()))
}

/// The median, over rounds, of `numerator[round] / denominator[round]`.
pub fn median_ratio(numerator: &[Duration], denominator: &[Duration]) -> f64 {
    median_of(
        numerator
            .iter()
            .zip(denominator)
            .map(|(top, bottom)| top.as_secs_f64() / bottom.as_secs_f64())
            .collect(),
    )
}

/// Starts `callers` tasks that each ask `session` for an access token at once, and waits
/// for all of them. Returns every token handed out, in task order.
pub async fn storm(
    session: &SubscriberSession,
    callers: usize,
) -> Result<Vec<AccessToken>, signalwire_fabric::Error> {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.access_token().await })
        })
        .collect();
    let mut tokens = Vec::with_capacity(callers);
    for task in tasks {
        tokens.push(task.await.expect("a caller task does not panic")?);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signalwire_fabric::{ErrorCode, TokenKind};

    #[test]
    fn tokens_are_shaped_like_real_ones() {
        for text in [access_text("a"), refresh_text("a")] {
            assert!((650..=750).contains(&text.len()), "{} chars", text.len());
            assert_eq!(text.split('.').count(), 5);
        }
        let (access, refresh) = tokens("a");
        assert_eq!(access.kind(), Some(TokenKind::Access));
        assert_eq!(refresh.kind(), Some(TokenKind::Refresh));
        assert_ne!(access_text("a"), access_text("b"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_client_gets_the_same_pair() {
        let server = LocalServer::start(201, pair_json("next")).expect("server starts");
        let (_, old) = tokens("old");

        let facade = server
            .facade_client()
            .subscriber_tokens()
            .refresh(&old)
            .await
            .expect("facade refresh");
        let baseline = server
            .baseline_client()
            .refresh(old.expose_secret())
            .await
            .expect("reqwest refresh");
        let mut hyper = HyperClient::connect(server.addr())
            .await
            .expect("hyper connects");
        let raw = hyper
            .refresh(old.expose_secret())
            .await
            .expect("hyper refresh");

        let expected = PlainPair {
            token: access_text("next"),
            refresh_token: refresh_text("next"),
        };
        assert_eq!(baseline, expected);
        assert_eq!(raw, expected);
        assert_eq!(facade.access_token().expose_secret(), expected.token);
        assert_eq!(
            facade.refresh_token().expose_secret(),
            expected.refresh_token
        );
        assert_eq!(server.requests(), 3);
    }

    #[tokio::test]
    async fn the_server_refuses_wrong_credentials() {
        let server = LocalServer::start(201, pair_json("next")).expect("server starts");
        let wrong = BaselineClient::new(&server.base_url(), PROJECT_ID, "PTwrong").expect("builds");
        let error = wrong
            .refresh(&refresh_text("old"))
            .await
            .expect_err("401 is an error");
        assert_eq!(error.status().map(|status| status.as_u16()), Some(401));
    }

    #[tokio::test]
    async fn a_422_becomes_a_typed_rejection() {
        let server = LocalServer::start(422, REJECTED_JSON).expect("server starts");
        let (_, old) = tokens("old");
        match server
            .facade_client()
            .subscriber_tokens()
            .refresh(&old)
            .await
        {
            Err(signalwire_fabric::Error::Rejected { errors, .. }) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].code, ErrorCode::TokenExpired);
                assert_eq!(errors[0].attribute.as_deref(), Some("refresh_token"));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn interleaved_compares_round_by_round() {
        let mut calls = Vec::new();
        let mut fast = || {
            calls.push("fast");
            Duration::from_millis(1)
        };
        let mut slow_calls = 0;
        let mut slow = || {
            slow_calls += 1;
            Duration::from_millis(3)
        };
        let times = interleaved(5, &mut [&mut fast, &mut slow]);
        assert_eq!((calls.len(), slow_calls), (5, 5));
        assert_eq!(median(&times[1]), Duration::from_millis(3));
        assert!((median_ratio(&times[1], &times[0]) - 3.0).abs() < 1e-9);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_storm_sends_one_refresh() {
        let server = LocalServer::start(201, pair_json("next")).expect("server starts");
        let session = server.facade_client().session(expired_pair("old")).build();
        let tokens = storm(&session, 500)
            .await
            .expect("every caller gets a token");
        assert_eq!(server.requests(), 1);
        assert_eq!(tokens.len(), 500);
        assert!(
            tokens
                .iter()
                .all(|token| token.expose_secret() == access_text("next"))
        );
    }
}
