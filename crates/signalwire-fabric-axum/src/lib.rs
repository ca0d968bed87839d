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
//! The example (`cargo run -p signalwire-fabric-axum --example browser_demo`) runs this
//! page with the real SDK, served from its own npm install; its tests drive that page in
//! headless Chromium.
//!
//! # How the SDK calls them
//!
//! Checked against the SDK the tests run, `@signalwire/js` 4.0.0-beta.12 (what the
//! example's `package.json` pins; npm's other v4 build is 4.0.0-beta.7, its `latest` tag
//! is 3.30.0, and beta.12's exported `version` still says "3.30.0"), in its
//! `src/clients/SignalWire.ts`:
//!
//! - `authenticate` runs when the client starts (`resolveCredentials`), with the
//!   fingerprint of the key pair the SDK makes with Web Crypto (`CryptoController`: in
//!   any browser that can make an RSA key, so nearly always), and again before a fresh
//!   reconnect of a client-bound session. Each authenticate with a fingerprint mints a new
//!   client-bound token (rate-limited like everything else). The SDK refuses an
//!   `expiry_at` already past ("Provided credentials have expired"), as one in seconds
//!   would be.
//! - `refresh()` is armed for every credential that has an `expiry_at` when the provider
//!   has `refresh` (`scheduleCredentialRefresh`), fingerprint or not: it is called
//!   `max(expiry_at − now − 5 s, 1 s)` later, by the browser's clock. The timer is cleared
//!   only once the SDK's connection to SignalWire is up with proof of possession, when
//!   the SDK starts refreshing the client-bound token itself. Before that, and for good
//!   when the connection never comes up, `refresh()` **is** called, and the service
//!   answers it with the user's session token (a new subscriber session if there was
//!   none): a token without the fingerprint replaces the client-bound one.
//! - After a failed `refresh()` the SDK tries again up to four times, waiting
//!   `1000·2^attempt` ms cut at random by up to half: 1–2, 2–4, 4–8 and 8–16 s. After the
//!   fifth failure it gives up and disconnects. A refresh answered but lost on the way is
//!   asked again: the session answers it with the same token.
//! - A new credential from `refresh()` is what the SDK's next requests and connects
//!   carry (it is not sent over a connection that is already up).
//! - While SignalWire is down and the user's token still has time left, the service
//!   answers that token, and the SDK, seeing less than 5 s left, asks again every second
//!   until it expires; then it gets 503 `upstream_unavailable` and backs off as above.
//!   [`TokenServiceBuilder::retry`] says how soon the service notices SignalWire is back.
//! - The browser's clock may be off from the server's, which shifts when it asks; the
//!   session's refresh-ahead margin ([`DEFAULT_REFRESH_AHEAD`], minutes) absorbs that.
//!
//! # A token SignalWire refused
//!
//! A session hands out its current token until that token is due, so a token SignalWire
//! refuses before its time (revoked, or its clock disagrees) would be handed out again.
//! The SDK does not say so: `refresh()` takes no arguments, and when SignalWire refuses
//! its token (the subscriber-details request answering 401, which `connect` reports as
//! "Error fetching user information", or a fresh `signalwire.connect` answered with a
//! JSON-RPC error such as −32002, authentication failed) it reports the error on
//! `errors$` and stops, without calling the provider or trying again.
//!
//! The app can say so. `POST {mount}/refresh` takes `{"refused": "<access token>"}`: when
//! that is the user's current session token, the session refreshes now
//! ([`SubscriberSession::refresh_if_current`](signalwire_fabric::SubscriberSession::refresh_if_current):
//! once, however many tabs and instances report it); otherwise (an older token, another
//! user's, a client-bound one) it answers its current token and refreshes nothing. The
//! app then starts a new `SignalWire` client, whose authenticate gets the new token. An
//! instance that did not take the report still answers the refused token until it comes
//! due; reported there as well, that instance adopts the new token from the coordinator
//! (no second refresh), so the provider remembers refused tokens and reports one again if
//! it comes back. A client-bound token needs none of this: a new client's authenticate
//! mints another. The example's page does it all (`reportRefused`):
//!
//! ```js
//! const refused = new Set();
//! let held = null; // the token the SDK was last given
//! async function credential(path, body) {
//!   let answer = await tokenFrom(path, body);
//!   for (let n = 0; n < 3 && refused.has(answer.token); n++) {
//!     answer = await tokenFrom('refresh', { refused: answer.token });
//!   }
//!   held = answer.token;
//!   return answer;
//! }
//! // When client.errors$ says SignalWire refused the token:
//! refused.add(held);
//! await credential('refresh', { refused: held });
//! await client.disconnect();
//! client = new SignalWire(provider); // provider: credential('authenticate', ...), credential('refresh', {})
//! ```
//!
//! # Loading the SDK in a page
//!
//! `import { SignalWire } from '@signalwire/js'` as above is for a bundler. Without one,
//! the package's UMD bundle, `dist/browser.umd.js` (the file `unpkg` and `jsdelivr` point
//! at), throws as it loads ("Cannot read properties of undefined (reading
//! 'randomUUID')"): it carries the Node build of its `uuid` dependency, which reads
//! `randomUUID` and `randomFillSync` from a global `node_crypto` browsers do not have. A
//! page that first sets `globalThis.node_crypto = { randomUUID: () =>
//! crypto.randomUUID(), randomFillSync: (a) => crypto.getRandomValues(a) }` loads it. The
//! ESM bundle, `dist/browser.mjs`, imports the same two from `node:crypto`: an import map
//! that points `node:crypto` at a module exporting them from Web Crypto loads it
//! unchanged, which is what the example does (`page.html`, `node-crypto.mjs`).
//! (`dist/index.mjs` imports `rxjs`, `uuid` and `jwt-decode` by package name, and rxjs's
//! ESM files import each other without file extensions: a browser cannot load it as it
//! is.)
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
//! | 400 | `invalid_body` | not JSON, not an object, an unknown field, a fingerprint that is not 43 characters of `[A-Za-z0-9_-]`, a `refused` that is not an access token (`field` names it) |
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
