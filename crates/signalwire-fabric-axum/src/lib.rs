//! The backend half of a browser call: the token endpoints SignalWire's browser SDK (v4)
//! asks the app for, on [axum], bound to the app's own signed-in users.
//!
//! The browser SDK takes a *credential provider*: `authenticate({fingerprint?})` resolves
//! to `{token, expiry_at}` (`expiry_at` in milliseconds since the Unix epoch), and the
//! optional `refresh()` is called 5 s before `expiry_at`, retried with backoff when it
//! fails (details below). [`TokenService::router`] serves both as JSON endpoints:
//!
//! - **The subscriber comes from the app's sign-in**, never from the request body: the
//!   app implements [`Authenticator`], which turns the request's parts (its session
//!   cookie, its JWT) into a [`SubscriberProfile`] or refuses. A body naming anything but
//!   a `fingerprint` is refused, so user A can never obtain or refresh user B's tokens.
//! - **The refresh token never leaves the server.** Each user's pair lives in a
//!   [`SubscriberSession`](signalwire_fabric::SubscriberSession) shared through a
//!   [`Coordinator`](signalwire_fabric::Coordinator), so any instance of the app can
//!   answer; the browser only sees access tokens. A refresh answers the session's current
//!   token while it has time left and refreshes once when due, however many tabs,
//!   retries and instances ask.
//! - **Client-bound tokens**: with a `fingerprint`, a token is minted with it and
//!   `scope: "sat:refresh"` (the browser SDK refreshes those itself once its connection is
//!   up; see below for before that) and nothing is kept.
//! - **A credential-issuing endpoint's hygiene**: per-user rate limits (429 with
//!   `Retry-After`), `Cache-Control: no-store` on every answer, `Content-Type:
//!   application/json` required (no plain cross-site form can post to it), CORS only for
//!   origins you allow, bounded bodies, JSON errors with stable [codes](ErrorCode), and
//!   no secret in any log line.
//!
//! # Serving it
//!
//! ```no_run
//! use signalwire_fabric::{Client, SessionKey};
//! use signalwire_fabric_axum::{Authenticator, Refusal, SubscriberProfile, TokenService};
//!
//! struct SignedInUsers; // the app's own sign-in
//!
//! #[signalwire_fabric_axum::async_trait]
//! impl Authenticator for SignedInUsers {
//!     async fn authenticate(&self, request: &axum::http::request::Parts) -> Result<SubscriberProfile, Refusal> {
//!         // Look the session cookie (or the JWT) up; here a header a proxy set, for brevity.
//!         let user = request
//!             .headers
//!             .get("x-authenticated-user")
//!             .and_then(|value| value.to_str().ok())
//!             .ok_or(Refusal::Unauthenticated)?;
//!         let key = SessionKey::new(format!("user-{user}")).map_err(|_| Refusal::Unauthenticated)?;
//!         Ok(SubscriberProfile::new(key, format!("{user}@example.com")))
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_env()?; // SIGNALWIRE_SPACE, SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN
//! let tokens = TokenService::builder(client, SignedInUsers).build();
//! let app = axum::Router::new().nest("/api/signalwire", tokens.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
// The rest of the crate documentation lives in docs/ (plain Markdown: its tables read as
// tables in an editor); intra-doc links there resolve from this crate's root.
#![doc = include_str!("../docs/browser-sdk.md")]
#![doc = include_str!("../docs/errors.md")]
#![doc = include_str!("../docs/fleet.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// Where each concern lives:
// - service: `TokenService`, the parts it holds, and its one impl block;
// - builder: `TokenServiceBuilder`, the settings and their defaults;
// - endpoints: the router, what each endpoint does, and the answers to other methods
//   and paths;
// - admission: what every request goes through first (JSON, sign-in, rate limit, body);
// - authenticator: the app's sign-in; rate_limit: the per-user limiter (the shared one,
//   and this instance's to fall back on);
// - client_bound: client-bound tokens already minted, for browsers that reconnect;
// - metrics: the endpoints' counters (names, labels, `describe`);
// - origin: the origins allowed to call from other pages, and the CORS layer;
// - sessions: one session per user, and the session token a request is answered with;
// - tokens: new subscriber tokens from SignalWire (their lifetime; client-bound ones);
// - answer: a credential, and the JSON every answer is written as;
// - failure: the JSON errors, and which failure gets which code.
mod admission;
mod answer;
mod authenticator;
mod builder;
mod client_bound;
mod endpoints;
mod failure;
pub mod metrics;
mod origin;
mod rate_limit;
mod service;
mod sessions;
mod tokens;

/// The attribute [`Authenticator`] implementations use (re-exported from `async-trait`).
pub use async_trait::async_trait;
pub use authenticator::{Authenticator, Refusal, SubscriberProfile};
pub use builder::{
    DEFAULT_CLIENT_BOUND_CACHE, DEFAULT_MAX_BODY_BYTES, DEFAULT_REFRESH_AHEAD, TokenServiceBuilder,
};
pub use endpoints::{AUTHENTICATE_PATH, REFRESH_PATH};
pub use failure::ErrorCode;
pub use service::TokenService;
/// How many requests one user may make to the endpoints (both count); the facade's
/// [`signalwire_fabric::RateLimit`].
pub use signalwire_fabric::RateLimit;
