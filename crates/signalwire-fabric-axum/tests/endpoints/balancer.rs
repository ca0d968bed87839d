//! A load balancer for the browser tests: one origin on a loopback port in front of
//! several instances of the demo. Requests to the token endpoints go to the instances in
//! turn (so a user's tabs are answered by all of them); everything else (the page, the
//! sign-in, the SDK's files) goes to the first. It keeps what the token endpoints
//! answered, whole, which the page shows only by their last characters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use serde_json::Value;

use crate::demo::TOKENS_MOUNT;

/// What a token endpoint answered, through the balancer.
#[derive(Clone)]
pub struct Exchange {
    /// `authenticate` or `refresh`.
    pub endpoint: String,
    /// Which instance answered (its index in the balancer's list).
    pub instance: usize,
    pub status: u16,
    pub cache_control: Option<String>,
    /// The JSON body (`{token, expiry_at}` or an error).
    pub body: Value,
}

impl Exchange {
    /// The whole token of a 200 answer.
    pub fn token(&self) -> Option<&str> {
        self.body["token"].as_str()
    }
}

#[derive(Clone)]
struct Shared {
    instances: Arc<Vec<SocketAddr>>,
    turn: Arc<AtomicUsize>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    http: reqwest::Client,
}

/// A running balancer; stops when dropped.
pub struct Balancer {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    pub async fn start(instances: Vec<SocketAddr>) -> Self {
        assert!(!instances.is_empty(), "a balancer needs an instance");
        let shared = Shared {
            instances: Arc::new(instances),
            turn: Arc::default(),
            exchanges: Arc::default(),
            http: crate::common::http_client(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the balancer serves");
        });
        Self { addr, shared, task }
    }

    /// `http://<host>:<port>/`: the page, under a name of the test's choosing (Chromium
    /// keeps cookies per host name, so each name is a browser of its own).
    pub fn page_url(&self, host: &str) -> String {
        format!("http://{host}:{}/", self.addr.port())
    }

    /// Everything the token endpoints answered so far, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.exchanges.lock().expect("not poisoned").clone()
    }

    /// The whole token whose last characters are `tail` (as the page shows it, `…` first),
    /// among what the endpoints answered.
    pub fn whole_token(&self, tail: &str) -> String {
        let tail = tail.trim_start_matches('…');
        self.exchanges()
            .iter()
            .filter_map(|exchange| exchange.token().map(str::to_owned))
            .find(|token| token.ends_with(tail))
            .unwrap_or_else(|| panic!("no answered token ends with {tail}"))
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let endpoint = path
        .strip_prefix(TOKENS_MOUNT)
        .map(|rest| rest.trim_start_matches('/').to_owned());
    let instance = match endpoint {
        Some(_) => shared.turn.fetch_add(1, Ordering::SeqCst) % shared.instances.len(),
        None => 0,
    };
    let target = format!(
        "http://{}{}",
        shared.instances[instance],
        request
            .uri()
            .path_and_query()
            .map_or(path.as_str(), |pq| pq.as_str())
    );
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut outgoing = shared.http.request(parts.method, target);
    for (name, value) in &parts.headers {
        if ![HOST, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING].contains(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.body(body).send().await {
        Ok(answer) => answer,
        Err(error) => {
            return (StatusCode::BAD_GATEWAY, format!("the balancer: {error}")).into_response();
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    if let Some(endpoint) = endpoint {
        shared
            .exchanges
            .lock()
            .expect("not poisoned")
            .push(Exchange {
                endpoint,
                instance,
                status: status.as_u16(),
                cache_control: headers
                    .get(http::header::CACHE_CONTROL)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            });
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if ![CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING].contains(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
