//! The backend half of a browser call: the token endpoints SignalWire's browser SDK (v4)
//! asks the app for, on [axum], bound to the app's own signed-in users.
//!
//! The browser SDK takes a *credential provider*: `authenticate({fingerprint?})` resolves
//! to `{token, expiry_at}` (`expiry_at` in milliseconds since the Unix epoch), and the
//! optional `refresh()` is called about 5 s before `expiry_at`, retried with backoff when
//! it fails. [`TokenService::router`] serves both as JSON endpoints:
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
//!   `scope: "sat:refresh"` (the browser SDK refreshes those itself) and nothing is kept.
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
//! # The browser's side
//!
//! A few lines connect the SDK's credential provider to the endpoints (the page's own
//! cookie goes along, since it is the same origin):
//!
//! ```js
//! import { SignalWire } from '@signalwire/js';
//!
//! async function tokenFrom(path, body) {
//!   const answer = await fetch(`/api/signalwire/${path}`, {
//!     method: 'POST',
//!     headers: { 'Content-Type': 'application/json' },
//!     body: JSON.stringify(body),
//!   });
//!   if (!answer.ok) throw new Error((await answer.json()).error.code);
//!   return answer.json(); // { token, expiry_at }
//! }
//!
//! const client = new SignalWire({
//!   authenticate: ({ fingerprint } = {}) => tokenFrom('authenticate', fingerprint ? { fingerprint } : {}),
//!   refresh: () => tokenFrom('refresh', {}),
//! });
//! ```
//!
//! # How the SDK calls them
//!
//! Checked against the SDK's source (`@signalwire/js` 4.0.0-rc.2):
//!
//! - `authenticate` runs when the client starts and again before it reconnects, with the
//!   fingerprint of its key pair when the browser can make one. A token minted with that
//!   fingerprint and `sat:refresh` is refreshed by the SDK itself, so `refresh()` is then
//!   not called at all; each authenticate with a fingerprint mints a new client-bound
//!   token (rate-limited like everything else).
//! - `refresh()` is called when the token has no `sat:refresh` scope: 5 s before
//!   `expiry_at` by the browser's clock (at least 1 s from then), and after a failure up
//!   to four more times, waiting about 1, 2, 4 and 8 s (randomly halved at most, never
//!   over 30 s). After the fifth failure the SDK disconnects. A refresh answered but lost
//!   on the way is therefore asked again: the session answers it with the same token.
//! - The browser's clock may be off from the server's, which shifts when it asks; the
//!   session's refresh-ahead margin ([`DEFAULT_REFRESH_AHEAD`], minutes) absorbs that.
//!
//! # Errors
//!
//! Every refusal is `{"error": {"code": "...", "message": "...", "field": "..."?}}`, the
//! code one of [`ErrorCode`]'s, always with the same status:
//!
//! | status | code | when |
//! |---|---|---|
//! | 404 | `not_found` | a path below the mount point that is neither endpoint, whatever the method, preflights included (`{mount}/` alone is left to the app, as axum's `nest` does) |
//! | 405 | `method_not_allowed` | not `POST` (`Allow: POST`); an `OPTIONS` is answered by the CORS rules instead only when origins are allowed and it carries `Access-Control-Request-Method` |
//! | 415 | `unsupported_media_type` | `Content-Type` is not `application/json` (nothing else is looked at) |
//! | 401 | `unauthenticated` | the [`Authenticator`] found nobody signed in |
//! | 403 | `forbidden` | the [`Authenticator`] refused the signed-in user |
//! | 429 | `rate_limited` | the user asked too often; `Retry-After` in seconds |
//! | 413 | `body_too_large` | the body is longer than [`TokenServiceBuilder::max_body_bytes`] |
//! | 400 | `invalid_body` | not JSON, not an object, an unknown field, a fingerprint that is not 43 characters of `[A-Za-z0-9_-]` (`field` names it) |
//! | 503 | `upstream_unavailable` | SignalWire or the coordinator cannot be reached for now (`Retry-After` when SignalWire gave one) |
//! | 502 | `upstream_refused` | SignalWire refused the request (the project's credentials, say); the server logs why |
//! | 500 | `internal` | the app's profile was refused before anything was sent (an empty reference, say) |
//!
//! The checks run in that order: a request without the JSON content type is refused
//! before the app's authentication runs, and a user's body is read only after the
//! authentication and the rate limit let it through. Every answer, refusals and CORS
//! preflights included, carries `Cache-Control: no-store`. Rate limits are per user; limits
//! per address for requests nobody signed in to are the app's (a tower layer in front).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod answer;
mod authenticator;
mod endpoints;
mod rate_limit;
mod service;
mod sessions;

pub use answer::ErrorCode;
/// The attribute [`Authenticator`] implementations use (re-exported from `async-trait`).
pub use async_trait::async_trait;
pub use authenticator::{Authenticator, Refusal, SubscriberProfile};
pub use endpoints::{AUTHENTICATE_PATH, REFRESH_PATH};
pub use rate_limit::RateLimit;
pub use service::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_REFRESH_AHEAD, TokenService, TokenServiceBuilder,
};
