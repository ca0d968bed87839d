//! A stand-in for SignalWire's two token operations, for the fleet bench: a few lines of
//! hyper on 127.0.0.1, on its own thread and current-thread runtime.
//!
//! - `POST /api/fabric/subscribers/tokens` (create) answers 201 with a new pair;
//! - `POST /api/fabric/subscribers/tokens/refresh` answers 201 with a new pair when the
//!   refresh token it is sent is live, and spends it (single use, as SignalWire's); a
//!   spent or unknown one is 422 `token_invalid`.
//!
//! Tokens are [`jwe`](crate::jwe)-shaped (about 700 characters), unique per answer. The
//! stand-in keeps only a 64-bit hash of each live refresh token, so its own memory stays
//! out of the bench's per-user figures. It counts creates, refreshes and refusals.

use std::collections::HashSet;
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use signalwire_fabric::Client;

use crate::{API_TOKEN, PROJECT_ID, REFRESH_PATH, REJECTED_JSON, access_text, basic_authorization};

/// Where subscriber tokens are created.
pub const CREATE_PATH: &str = "/api/fabric/subscribers/tokens";

#[derive(Default)]
struct Counts {
    creates: AtomicU64,
    refreshes: AtomicU64,
    refused: AtomicU64,
    issued: AtomicU64,
}

struct State {
    counts: Counts,
    /// Hashes of the refresh tokens issued and not yet spent.
    live: Mutex<HashSet<u64>>,
    hasher: RandomState,
    authorization: HeaderValue,
    /// Makes this stand-in's tokens differ from every other's.
    seed: u64,
}

impl State {
    fn hash(&self, token: &[u8]) -> u64 {
        self.hasher.hash_one(token)
    }

    /// A new pair's JSON, its refresh token recorded as live.
    fn issue(&self) -> Bytes {
        let number = self.counts.issued.fetch_add(1, Ordering::Relaxed);
        let seed = format!("{:x}-{number}", self.seed);
        let refresh = crate::refresh_text(&seed);
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.hash(refresh.as_bytes()));
        Bytes::from(
            serde_json::json!({
                "token": access_text(&seed),
                "refresh_token": refresh,
                "subscriber_id": "0b5c3a4e-6f1d-4a2b-9c8e-7d6f5e4a3b2c",
            })
            .to_string(),
        )
    }

    /// Spends `refresh_token` if it is live.
    fn spend(&self, refresh_token: &str) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.hash(refresh_token.as_bytes()))
    }
}

/// The running stand-in; dropping it stops it.
pub struct Upstream {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("addr", &self.addr)
            .field("creates", &self.creates())
            .field("refreshes", &self.refreshes())
            .field("refused", &self.refused())
            .finish()
    }
}

impl Upstream {
    /// Starts it on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            counts: Counts::default(),
            live: Mutex::new(HashSet::new()),
            hasher: RandomState::new(),
            authorization: basic_authorization(),
            seed: fastrand_seed(),
        });
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("bench-upstream".to_owned())
            .spawn(move || runtime.block_on(serve(listener, served, stop)))?;
        Ok(Self {
            addr,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// A facade client for it.
    pub fn client(&self) -> Client {
        Client::builder()
            .base_url(format!("http://{}", self.addr))
            .project_id(PROJECT_ID)
            .api_token(API_TOKEN)
            .build()
            .expect("a loopback base URL and these credentials are valid")
    }

    /// Subscriber tokens created.
    pub fn creates(&self) -> u64 {
        self.state.counts.creates.load(Ordering::SeqCst)
    }

    /// Refreshes answered with a new pair.
    pub fn refreshes(&self) -> u64 {
        self.state.counts.refreshes.load(Ordering::SeqCst)
    }

    /// Refreshes refused (a spent or unknown refresh token).
    pub fn refused(&self) -> u64 {
        self.state.counts.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A seed from the standard library's random hasher keys (no extra dependency).
fn fastrand_seed() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        eprintln!("bench upstream: cannot listen");
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        respond(request, Arc::clone(&state))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn respond(
    request: Request<hyper::body::Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let post = request.method() == Method::POST;
    let authorized = request.headers().get(AUTHORIZATION) == Some(&state.authorization);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let (status, body) = match (post, authorized, path.as_str()) {
        (true, true, CREATE_PATH) => {
            state.counts.creates.fetch_add(1, Ordering::Relaxed);
            (StatusCode::CREATED, state.issue())
        }
        (true, true, REFRESH_PATH) => {
            let spent = serde_json::from_slice::<RefreshBody>(&body)
                .is_ok_and(|sent| state.spend(&sent.refresh_token));
            if spent {
                state.counts.refreshes.fetch_add(1, Ordering::Relaxed);
                (StatusCode::CREATED, state.issue())
            } else {
                state.counts.refused.fetch_add(1, Ordering::Relaxed);
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Bytes::from_static(REJECTED_JSON.as_bytes()),
                )
            }
        }
        (true, false, _) => (StatusCode::UNAUTHORIZED, Bytes::new()),
        _ => (StatusCode::NOT_FOUND, Bytes::new()),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
