//! A stateful fake of SignalWire's Fabric Subscribers API, for tests, demos and local
//! development.
//!
//! [`FakeSpace`] serves every operation of the project's contract on a loopback port
//! (built on [wiremock]), each authenticated as the spec says:
//!
//! - subscriber tokens (project Basic credentials): `create_subscriber_token` answers
//!   **200** with a subscriber id and a new token pair; `refresh_subscriber_token`
//!   answers **201** with a new pair for the same subscriber (or guest);
//! - guest tokens: `create_subscriber_guest_token` (Basic) answers **201** with a pair
//!   for a guest allowed into 1 to 10 addresses the fake holds;
//!   `create_subscriber_invite_token` (**Bearer**: a live access token the fake issued to
//!   a subscriber) answers **201** with an invite (`typ` "Invite") to one of that
//!   subscriber's own addresses; `create_guest_embed_token` (**no credentials**; any
//!   sent are ignored) answers **201** with an embed token for the fake's
//!   [click-to-call token](FakeSpace::click_to_call_token), 403 for another;
//! - subscriber resources (Basic): list (paged), create (**201**), get, update (PUT),
//!   delete (**204**, no body) and a subscriber's addresses (paged).
//!
//! It behaves like the real service as far as the documentation goes: it checks
//! credentials on every request (401), answers anything else with 404, validates bodies
//! and answers 422 with the documented codes, accepting every body the spec accepts (an
//! email of `"0"`, any non-empty click-to-call token, an `expire_at` in the past, which
//! gives a token that has expired already), issues JWE-shaped tokens (access 2 h,
//! refresh 2 h 5 min on its own [`FakeClock`]), and spends refresh tokens according to a
//! [`RotationPolicy`]. Tests can [inject faults](FakeSpace::inject) (error statuses,
//! proxy HTML pages, 429 with `Retry-After`, slow answers) and read a
//! [journal](FakeSpace::journal) of every request.
//!
//! # The model
//!
//! - **One subscriber store, keyed by email.** `create_subscriber` adds a subscriber
//!   under its `email`; `create_subscriber_token` finds, or adds, the subscriber whose
//!   email is its `reference`. Either way it is the same resource to every operation.
//!   Each subscriber has a resource id (its paths) and a different subscriber id (what
//!   token responses name), and is created with one address named after the email's
//!   local part (`alice@example.com` gives `alice`, channels `/private/alice?channel=
//!   audio` and so on). Emails are unique: creating or renaming onto a taken one is 422
//!   `invalid_parameter`. Deleting a subscriber removes its addresses and ends its tokens
//!   (refresh: `token_invalid`; Bearer: 401).
//! - **Paging.** Lists answer pages of [`FakeSpace::page_size`] items in creation order,
//!   with absolute `links` on the address the request was sent to (its `Host`, or the
//!   builder's [`public_url`](FakeSpaceBuilder::public_url)), so a client that reached
//!   the fake as `localhost` or through a proxy can follow them; `next` carries an
//!   opaque `page_token` the fake remembers. A forged, stale (older than
//!   [`PAGE_TOKEN_LIFETIME`]) or mismatched one is 404 `{"error": "Not Found"}`, the
//!   error the spec documents for lists.
//! - **Addresses named by requests.** A guest token's `allowed_addresses` must all be
//!   addresses the fake holds, and an invite's `address_id` must be one of the calling
//!   subscriber's; anything else (unknown, or another subscriber's) is 422
//!   `must_belong_to_project`.
//!
//! ```
//! use std::time::Duration;
//! use signalwire_fabric::{CreateSubscriberToken, Error, ErrorCode};
//! use signalwire_fabric_fake::FakeSpace;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let fake = FakeSpace::start().await;
//! let client = fake.client();
//! let created = client
//!     .subscriber_tokens()
//!     .create(CreateSubscriberToken::new("alice@example.com"))
//!     .await?;
//!
//! // Past the refresh token's 2 h 5 min, the exchange is refused.
//! fake.clock().advance(Duration::from_secs(2 * 60 * 60 + 5 * 60));
//! let error = client
//!     .subscriber_tokens()
//!     .refresh(created.pair.refresh_token())
//!     .await
//!     .expect_err("expired");
//! assert_eq!(error.field_errors()[0].code, ErrorCode::TokenExpired);
//! assert!(error.requires_new_subscriber_token());
//! # Ok(()) }
//! ```
//!
//! # Simulated hours on a paused clock
//!
//! A session that lives for hours is tested in milliseconds on tokio's paused clock,
//! with [`SimulatedTime`] moving tokio's clock and the fake's together, and holding
//! tokio's still while a request is with the fake:
//!
//! ```
//! use std::time::Duration;
//! use signalwire_fabric::CreateSubscriberToken;
//! use signalwire_fabric_fake::{FakeSpace, Operation, SimulatedTime};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), signalwire_fabric::Error> {
//! // In a test: #[tokio::test(start_paused = true)]
//! let fake = FakeSpace::start().await;
//! let time = SimulatedTime::new(&fake);
//! let client = fake.client();
//! let created = time
//!     .hold(client.subscriber_tokens().create(CreateSubscriberToken::new("alice@example.com")))
//!     .await?;
//! let session = client
//!     .session(created.pair)
//!     .refresh_ahead(Duration::from_secs(5 * 60))
//!     .jitter(Duration::ZERO)
//!     .build();
//!
//! // Six simulated hours in steps of five minutes, using the session's token at every
//! // step. Access tokens live two hours and are refreshed five minutes before expiry:
//! // three refreshes, each accepted by the fake on its own (moved) clock.
//! for _ in 0..72 {
//!     time.advance(Duration::from_secs(5 * 60)).await;
//!     let token = time.hold(session.access_token()).await?;
//!     assert!(fake.token_expires_at(token.expose_secret()) > Some(fake.clock().now()));
//! }
//! assert_eq!(session.status().refreshes, 3);
//! assert_eq!(fake.answered_count(Operation::Refresh, 201), 3);
//! assert_eq!(fake.clock().offset(), Duration::from_secs(6 * 60 * 60));
//! # Ok(()) }
//! ```
//!
//! The fake's [`wire`] types are written independently of the generated client, so the
//! contract tests can check the spec, the client and the fake against each other.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
mod faults;
mod issuing;
mod journal;
mod operation;
mod paging;
mod records;
mod reply;
mod resources;
mod rotation;
mod rules;
mod server;
mod simulated_time;
mod space;
mod state;
mod store;
mod tokens;
pub mod wire;

pub use clock::{FakeClock, MAX_CLOCK_OFFSET};
pub use faults::Fault;
pub use journal::JournalEntry;
pub use operation::Operation;
pub use paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PAGE_TOKEN_LIFETIME};
pub use records::{FakeSubscriber, IssuedPair};
pub use rotation::RotationPolicy;
pub use simulated_time::SimulatedTime;
pub use space::{FakeSpace, FakeSpaceBuilder};
pub use tokens::{
    ACCESS_TOKEN_LIFETIME, EMBED_TOKEN_LIFETIME, INVITE_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME,
    SCOPED_ACCESS_TOKEN_LIFETIME, TOKEN_CHANNEL,
};
