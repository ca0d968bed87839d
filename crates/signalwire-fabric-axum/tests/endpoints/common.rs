//! What the endpoint tests share: a sign-in of their own, a backend on a loopback port,
//! and an HTTP client that speaks to it. Shared by several test binaries, each of which
//! uses part of it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::request::Parts;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap};
use serde_json::Value;
use signalwire_fabric::SessionKey;
use signalwire_fabric_axum::{
    Authenticator, Refusal, SubscriberProfile, TokenService, TokenServiceBuilder,
};
use signalwire_fabric_fake::FakeSpace;

/// The cookie the tests' sign-in sets.
pub const SESSION_COOKIE: &str = "test_session";

/// A sign-in for tests: signed-in users are found by a random session id in a cookie.
/// Counts how often it was asked.
#[derive(Default)]
pub struct TestUsers {
    sessions: Mutex<HashMap<String, String>>,
    asked: AtomicUsize,
}

impl TestUsers {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Signs `name` in; returns the `Cookie` header value that proves it. The user
    /// "banned" is refused with 403, and "nameless" has an empty subscriber reference.
    pub fn sign_in(&self, name: &str) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.sessions
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), name.to_owned());
        format!("{SESSION_COOKIE}={id}")
    }

    /// How many requests reached the sign-in check.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

/// The session key the tests' sign-in gives `name`.
pub fn key(name: &str) -> SessionKey {
    SessionKey::new(format!("user-{name}")).expect("a valid key")
}

/// The subscriber reference the tests' sign-in gives `name`.
pub fn reference(name: &str) -> String {
    format!("{name}@example.com")
}

#[signalwire_fabric_axum::async_trait]
impl Authenticator for TestUsers {
    async fn authenticate(&self, request: &Parts) -> Result<SubscriberProfile, Refusal> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let id = request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| {
                pair.trim()
                    .strip_prefix(&format!("{SESSION_COOKIE}="))
                    .map(str::to_owned)
            })
            .ok_or(Refusal::Unauthenticated)?;
        let name = self
            .sessions
            .lock()
            .expect("not poisoned")
            .get(&id)
            .cloned()
            .ok_or(Refusal::Unauthenticated)?;
        match name.as_str() {
            "banned" => Err(Refusal::Forbidden),
            "nameless" => Ok(SubscriberProfile::new(key(&name), " ")),
            _ => Ok(SubscriberProfile::new(key(&name), reference(&name)).display_name(name)),
        }
    }
}

/// A backend serving a router on a loopback port until it is dropped.
pub struct Backend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    pub async fn serve(router: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the backend serves");
        });
        Self { addr, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fake space, the tests' sign-in, and a service on both, mounted at `/tokens`.
pub struct Harness {
    pub fake: FakeSpace,
    pub users: Arc<TestUsers>,
    pub service: TokenService,
    pub backend: Backend,
    pub http: reqwest::Client,
}

impl Harness {
    /// A harness whose service is configured by `configure`.
    pub async fn start_with(
        configure: impl FnOnce(TokenServiceBuilder) -> TokenServiceBuilder,
    ) -> Self {
        let fake = FakeSpace::start().await;
        Self::on(fake, configure).await
    }

    pub async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    pub async fn on(
        fake: FakeSpace,
        configure: impl FnOnce(TokenServiceBuilder) -> TokenServiceBuilder,
    ) -> Self {
        let users = TestUsers::new();
        let service = configure(TokenService::builder(fake.client(), Arc::clone(&users))).build();
        let backend = Backend::serve(axum::Router::new().nest("/tokens", service.router())).await;
        Self {
            fake,
            users,
            service,
            backend,
            http: http_client(),
        }
    }

    /// POSTs `body` as JSON to `/tokens{path}` with `cookie` (when given).
    pub async fn post(&self, path: &str, cookie: Option<&str>, body: Value) -> Answer {
        let mut request = self
            .http
            .post(self.backend.url(&format!("/tokens{path}")))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        Answer::read(request.send().await.expect("the backend answers")).await
    }

    /// A raw request to `/tokens{path}`, for the tests of what is refused.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.backend.url(&format!("/tokens{path}")))
    }
}

/// A client for loopback: no proxy, and a new connection per request (a test may move a
/// paused clock between requests).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body arrives");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            Value::String(format!("(not JSON) {}", String::from_utf8_lossy(&bytes)))
        });
        Self {
            status,
            headers,
            body,
        }
    }

    /// The token of a 200 answer.
    pub fn token(&self) -> &str {
        assert_eq!(self.status, 200, "expected a credential, got {self:?}");
        self.body["token"].as_str().expect("a token")
    }

    /// The `expiry_at` of a 200 answer.
    pub fn expiry_at(&self) -> u64 {
        assert_eq!(self.status, 200, "expected a credential, got {self:?}");
        self.body["expiry_at"].as_u64().expect("an expiry in ms")
    }

    /// The error code of a refusal.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("(no code)")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}
