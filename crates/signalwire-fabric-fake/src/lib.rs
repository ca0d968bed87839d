//! A stateful fake of SignalWire's subscriber-token endpoints, for tests, demos and
//! local development.
//!
//! [`FakeSpace`] serves the two operations of the project's contract on a loopback port
//! (built on [wiremock]):
//!
//! - `create_subscriber_token`, `POST /api/fabric/subscribers/tokens`: answers **200**
//!   with a subscriber id (stable per `reference`) and a new token pair;
//! - `refresh_subscriber_token`, `POST /api/fabric/subscribers/tokens/refresh`: answers
//!   **201** with a new pair for the same subscriber.
//!
//! It behaves like the real service as far as the documentation goes: it checks Basic
//! credentials on every request (401), answers anything else with 404, validates bodies
//! and answers 422 with the documented codes, issues JWE-shaped tokens (access 2 h,
//! refresh 2 h 5 min on its own [`FakeClock`]), and spends refresh tokens according to a
//! [`RotationPolicy`]. Tests can [inject faults](FakeSpace::inject) (error statuses,
//! proxy HTML pages, 429 with `Retry-After`, slow answers) and read a
//! [journal](FakeSpace::journal) of every request.
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
//! The fake's [`wire`] types are written independently of the generated client, so the
//! contract tests can check the spec, the client and the fake against each other.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
mod faults;
mod journal;
mod operation;
mod rotation;
mod rules;
mod server;
mod space;
mod state;
mod tokens;
pub mod wire;

pub use clock::{FakeClock, MAX_CLOCK_OFFSET};
pub use faults::Fault;
pub use journal::JournalEntry;
pub use operation::Operation;
pub use rotation::RotationPolicy;
pub use space::{FakeSpace, FakeSpaceBuilder, IssuedPair};
pub use tokens::{
    ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, SCOPED_ACCESS_TOKEN_LIFETIME, TOKEN_CHANNEL,
};
