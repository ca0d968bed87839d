//! The demo backend: a toy sign-in, the token endpoints, and a page running SignalWire's
//! browser SDK (`@signalwire/js`, served from this directory's npm install). `main.rs`
//! serves one instance; the crate's tests serve several (one [`Demo`], many
//! [`Demo::serve`]) sharing one coordinator and one sign-in store, as instances of a real
//! app behind a load balancer share theirs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;
use signalwire_fabric::{Client, Coordinator, RetryPolicy, SessionKey};
use signalwire_fabric_axum::{Authenticator, RateLimit, Refusal, SubscriberProfile, TokenService};

/// Where the demo mounts the token endpoints.
pub const TOKENS_MOUNT: &str = "/api/signalwire";

/// The cookie that carries a signed-in browser's session id.
pub const SESSION_COOKIE: &str = "demo_session";

/// The users the toy sign-in knows.
pub const USERS: [&str; 2] = ["alice", "bob"];

/// Where this example's `package.json` is, from the repository root.
pub const NPM_DIR: &str = "crates/signalwire-fabric-axum/examples/browser_demo";

/// The browser SDK's npm package.
pub const SDK_PACKAGE: &str = "@signalwire/js";

/// The SDK's ESM bundle in its package: the one build that loads in a browser as it is
/// published (with the page's import map for `node:crypto`).
const SDK_BUNDLE: &str = "dist/browser.mjs";

/// The command that installs the SDK, from the repository root.
pub fn install_command() -> String {
    format!("npm ci --prefix {NPM_DIR}")
}

/// The SDK version this example's `package.json` pins (exactly, and its lockfile with it).
pub fn pinned_sdk_version() -> Option<String> {
    let manifest: serde_json::Value = serde_json::from_str(include_str!("package.json")).ok()?;
    manifest["dependencies"][SDK_PACKAGE]
        .as_str()
        .map(str::to_owned)
}

/// Where the demo looks for the SDK's npm install: this directory's `node_modules` by
/// default.
#[derive(Debug, Clone)]
pub struct SdkInstall {
    node_modules: PathBuf,
}

impl Default for SdkInstall {
    fn default() -> Self {
        Self::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/browser_demo/node_modules"))
    }
}

impl SdkInstall {
    /// An install in `node_modules` (which may hold nothing).
    pub fn at(node_modules: impl Into<PathBuf>) -> Self {
        Self {
            node_modules: node_modules.into(),
        }
    }

    fn package(&self) -> PathBuf {
        self.node_modules.join(SDK_PACKAGE)
    }

    /// The installed SDK's version, or why the demo cannot serve it (not installed, or
    /// another version than `package.json` pins), with the command that fixes it.
    pub fn check(&self) -> Result<String, String> {
        let fix = format!(
            "run `{}` from the repository root (npm from Node.js 18 or newer), then start again",
            install_command()
        );
        let pinned = pinned_sdk_version()
            .ok_or_else(|| format!("{NPM_DIR}/package.json does not name {SDK_PACKAGE}"))?;
        let package = self.package();
        let installed = std::fs::read_to_string(package.join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|manifest| manifest["version"].as_str().map(str::to_owned));
        match installed {
            None => Err(format!(
                "the browser SDK ({SDK_PACKAGE} {pinned}) is not installed: {fix}"
            )),
            Some(version) if version != pinned => Err(format!(
                "{SDK_PACKAGE} {version} is installed, but package.json pins {pinned}: {fix}"
            )),
            Some(version) if !package.join(SDK_BUNDLE).is_file() => Err(format!(
                "{SDK_PACKAGE} {version} has no {SDK_BUNDLE}: {fix}"
            )),
            Some(version) => Ok(version),
        }
    }

    /// The SDK's ESM bundle, when it can be served.
    fn bundle(&self) -> Result<Vec<u8>, String> {
        self.check()?;
        std::fs::read(self.package().join(SDK_BUNDLE)).map_err(|error| error.to_string())
    }
}

/// The version of the SDK installed in this example's `node_modules`, or why the demo
/// cannot serve it, with the command that fixes it.
pub fn installed_sdk() -> Result<String, String> {
    SdkInstall::default().check()
}

/// How the demo's tokens behave.
#[derive(Debug, Clone, Copy)]
pub struct DemoSettings {
    /// How long the access token of each sign-in's first subscriber token lives: short,
    /// so the page's refresh (5 s before expiry) happens within seconds. Refreshed
    /// tokens live SignalWire's two hours.
    pub token_lifetime: Duration,
    /// How long before expiry the server-side session refreshes: long enough that the
    /// page's refresh finds it due.
    pub refresh_ahead: Duration,
    /// How the server-side sessions retry a refresh SignalWire failed: the longest wait
    /// stays well under the SDK's patience (it gives up 15 to 30 s after the token
    /// expired), so a SignalWire that comes back is noticed in time.
    pub retry: RetryPolicy,
    /// How often one sign-in may ask for tokens, counted by the coordinator's rate
    /// limiter across every instance (the service's default, 20 a minute).
    pub rate_limit: RateLimit,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(12),
            refresh_ahead: Duration::from_secs(7),
            retry: RetryPolicy {
                initial: Duration::from_millis(250),
                max: Duration::from_secs(1),
            },
            rate_limit: RateLimit::default(),
        }
    }
}

/// The toy sign-in: a random session id in an `HttpOnly` cookie, looked up here. The
/// cookie names no user, so it cannot be forged by writing a user name into it.
#[derive(Default)]
pub struct SignIns {
    by_session: Mutex<HashMap<String, &'static str>>,
}

impl SignIns {
    fn sign_in(&self, user: &'static str) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.lock().insert(id.clone(), user);
        id
    }

    fn sign_out(&self, id: &str) {
        self.lock().remove(id);
    }

    fn user(&self, id: &str) -> Option<&'static str> {
        self.lock().get(id).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, &'static str>> {
        self.by_session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The session id in a request's cookies.
fn session_id(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
}

/// The demo's [`Authenticator`]: the signed-in user's subscriber is
/// `<user>@example.com`, its session kept under the key `demo-<user>-<sign-in id>`.
///
/// The key is per sign-in, not per user, so that every run of the page (which signs in
/// afresh) starts with a new subscriber token whose access token lives
/// [`DemoSettings::token_lifetime`]: only created tokens can be that short, since a
/// refreshed one lives SignalWire's two hours, and a key per user would hand a second run
/// the refreshed token of the first. A real app keys sessions by user (its own user id),
/// so that all of a user's tabs and devices share one subscriber session.
struct DemoUsers(Arc<SignIns>);

#[signalwire_fabric_axum::async_trait]
impl Authenticator for DemoUsers {
    async fn authenticate(
        &self,
        request: &http::request::Parts,
    ) -> Result<SubscriberProfile, Refusal> {
        let (id, user) = session_id(&request.headers)
            .and_then(|id| Some((id, self.0.user(id)?)))
            .ok_or(Refusal::Unauthenticated)?;
        let key = SessionKey::new(format!("demo-{user}-{id}")).map_err(|_| Refusal::Forbidden)?;
        let display = format!("{}{}", user[..1].to_uppercase(), &user[1..]);
        Ok(SubscriberProfile::new(key, format!("{user}@example.com")).display_name(display))
    }
}

/// The demo app: what its instances share.
#[derive(Clone)]
pub struct Demo {
    client: Client,
    coordinator: Arc<dyn Coordinator>,
    sign_ins: Arc<SignIns>,
    settings: DemoSettings,
    sdk: Arc<SdkInstall>,
    metrics: Option<PrometheusHandle>,
}

impl Demo {
    /// A demo app creating tokens with `client`, sharing sessions through `coordinator`.
    pub fn new(client: Client, coordinator: Arc<dyn Coordinator>, settings: DemoSettings) -> Self {
        Self {
            client,
            coordinator,
            sign_ins: Arc::default(),
            settings,
            sdk: Arc::default(),
            metrics: None,
        }
    }

    /// Serves what `handle`'s recorder (installed by the app) has counted at `/metrics`,
    /// in Prometheus' text format: the sessions' and the endpoints' numbers.
    #[allow(dead_code, reason = "the endpoint tests serve a demo without metrics")]
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Serves the SDK from `install` instead of this directory's `node_modules`.
    #[allow(dead_code, reason = "the crate's tests serve a demo without the SDK")]
    pub fn sdk_install(mut self, install: SdkInstall) -> Self {
        self.sdk = Arc::new(install);
        self
    }

    /// One instance of the app: its own token service (its own sessions), over the
    /// shared sign-ins and coordinator.
    pub fn instance(&self) -> (Router, TokenService) {
        let tokens =
            TokenService::builder(self.client.clone(), DemoUsers(Arc::clone(&self.sign_ins)))
                .coordinator(Arc::clone(&self.coordinator))
                .token_lifetime(self.settings.token_lifetime)
                .refresh_ahead(self.settings.refresh_ahead)
                .retry(self.settings.retry)
                .rate_limit(self.settings.rate_limit)
                .build();
        let router = Router::new()
            .route("/", get(page))
            .route(
                "/sdk/status",
                get(sdk_status).with_state(Arc::clone(&self.sdk)),
            )
            .route(
                "/sdk/signalwire.mjs",
                get(sdk_bundle).with_state(Arc::clone(&self.sdk)),
            )
            .route("/sdk/node-crypto.mjs", get(node_crypto))
            .route("/login", post(login))
            .route("/logout", post(logout))
            .with_state(Arc::clone(&self.sign_ins))
            .nest(TOKENS_MOUNT, tokens.router());
        let router = match &self.metrics {
            Some(handle) => router.route("/metrics", get(scrape).with_state(handle.clone())),
            None => router,
        };
        (router, tokens)
    }

    /// Serves one instance on `addr` (port 0: any free port) until the returned
    /// [`Instance`] is dropped.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Instance> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (router, _) = self.instance();
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("the demo instance on {addr} stopped: {error}");
            }
        });
        Ok(Instance { addr, task })
    }
}

/// A running instance of the demo.
pub struct Instance {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Instance {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the recorder has counted, in Prometheus' text format. (A real app keeps this
/// off its public listener, or behind its own authentication.)
async fn scrape(State(handle): State<PrometheusHandle>) -> Response {
    (
        [
            (CONTENT_TYPE, "text/plain; version=0.0.4"),
            (CACHE_CONTROL, "no-store"),
        ],
        handle.render(),
    )
        .into_response()
}

async fn page() -> Response {
    let mut response = Html(include_str!("page.html")).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"version": "..."}` when the SDK can be served, else `{"problem": "..."}` saying what to
/// run.
async fn sdk_status(State(sdk): State<Arc<SdkInstall>>) -> Response {
    let status = match sdk.check() {
        Ok(version) => serde_json::json!({ "version": version }),
        Err(problem) => serde_json::json!({ "problem": problem }),
    };
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        status.to_string(),
    )
        .into_response()
}

/// The SDK's ESM bundle, read from `node_modules` at each request (so an `npm ci` while the
/// demo runs is picked up), or 503 saying what to run.
async fn sdk_bundle(State(sdk): State<Arc<SdkInstall>>) -> Response {
    let read = tokio::task::spawn_blocking(move || sdk.bundle())
        .await
        .unwrap_or_else(|error| Err(error.to_string()));
    match read {
        Ok(bytes) => javascript(bytes),
        Err(problem) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain"), (CACHE_CONTROL, "no-store")],
            problem,
        )
            .into_response(),
    }
}

/// The page's stand-in for `node:crypto` (see the import map in `page.html`).
async fn node_crypto() -> Response {
    javascript(include_str!("node-crypto.mjs").as_bytes().to_vec())
}

fn javascript(bytes: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript"),
            (CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, [(CONTENT_TYPE, "text/plain")], message).into_response()
}

async fn login(State(sign_ins): State<Arc<SignIns>>, request: Request) -> Response {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON");
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), 1024).await else {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "too long");
    };
    let Ok(Login { user }) = serde_json::from_slice(&body) else {
        return plain(StatusCode::BAD_REQUEST, "send {\"user\": \"alice\"}");
    };
    let Some(user) = USERS.into_iter().find(|known| *known == user) else {
        return plain(StatusCode::UNAUTHORIZED, "the demo knows alice and bob");
    };
    let id = sign_ins.sign_in(user);
    let cookie = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    let mut response = (
        [(CONTENT_TYPE, "application/json")],
        serde_json::json!({ "user": user }).to_string(),
    )
        .into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

async fn logout(State(sign_ins): State<Arc<SignIns>>, request: Request) -> Response {
    if let Some(id) = session_id(request.headers()) {
        sign_ins.sign_out(id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("demo_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}
