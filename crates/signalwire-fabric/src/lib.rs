//! A typed, secret-safe client for SignalWire's Fabric Subscribers API.
//!
//! A subscriber signs in with a token pair: an access token that lives 2 hours and a
//! refresh token that lives 2 hours 5 minutes. Exchanging the refresh token gives a new
//! pair and spends the old refresh token. This crate makes that exchange typed and safe:
//!
//! - [`Client`] checks the space, the base URL and the credentials before anything is
//!   sent, never follows redirects, and bounds every response it reads;
//! - [`AccessToken`] and [`RefreshToken`] are secrets: redacted in `Debug`, no `Display`,
//!   zeroed on drop, and a token of the wrong kind is refused before it is sent;
//! - every failure is one [`Error`] that says whether to retry, whether the refresh token
//!   is dead, and what the server said, without ever quoting a secret.
//!
//! # Quick start
//!
//! ```no_run
//! use signalwire_fabric::{Client, RefreshToken};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_env()?; // SIGNALWIRE_SPACE, SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN
//! let refresh_token: RefreshToken = std::env::var("REFRESH_TOKEN")?.parse()?;
//! let pair = client.subscriber_tokens().refresh(&refresh_token).await?;
//! // Store pair.refresh_token() now: the old one is spent.
//! println!("new access token, valid for {:?}", pair.access_expires_in());
//! # Ok(()) }
//! ```
//!
//! To keep a subscriber signed in, hand the pair to a [`SubscriberSession`]: it refreshes
//! ahead of expiry, once however many tasks ask, saves every rotated pair to a
//! [`TokenStore`] before handing out its access token, and retries what is worth
//! retrying.
//!
//! The low-level client this wraps is generated from the project's OpenAPI contract
//! (`signalwire-fabric-api`); neither it nor `reqwest` appears in this crate's API.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod call;
mod client;
mod clock;
mod config;
mod error;
#[cfg(feature = "test-util")]
pub mod fuzzing;
mod guest_tokens;
mod ids;
mod input;
mod limits;
pub mod metrics;
mod paging;
mod response;
mod session;
mod subscriber_tokens;
mod subscribers;
#[cfg(feature = "test-util")]
pub mod testing;
mod tokens;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
    ENV_API_TOKEN, ENV_BASE_URL, ENV_PROJECT_ID, ENV_SPACE,
};
pub use config::{ApiToken, ProjectId, Space};
pub use error::{Delivery, Error, ErrorCode, FieldError, SessionEnd};
pub use guest_tokens::{
    CreateGuestToken, EmbedTokens, GuestTokens, InviteTokens, MAX_GUEST_ADDRESSES,
};
pub use ids::{AddressId, SubscriberId, SubscriberResourceId};
pub use limits::{InProcessRateLimiter, MAX_RATE_PERIOD, RateDecision, RateLimit, RateLimiter};
pub use session::{
    AutoRefresh, CommitOutcome, Coordinator, DEFAULT_JITTER, DEFAULT_LEASE, DEFAULT_REFRESH_AHEAD,
    DEFAULT_REFRESH_SCHEDULE, FILE_STORE_LEFTOVER_AGE, FileStore, InProcessCoordinator,
    KEEP_AFTER_REFRESH_EXPIRY, Lease, LeaseOutcome, MemoryStore, RefreshSchedule, Refresher,
    Released, RetryPolicy, SessionBuilder, SessionKey, SessionStatus, SharedPair,
    SubscriberSession, TokenStore,
};
pub use subscriber_tokens::{
    CreateSubscriberToken, CreatedSubscriberToken, Region, Scope, SubscriberTokens,
    UNBOUND_SCOPED_LIFETIME,
};
pub use subscribers::{
    AddressChannels, Subscriber, SubscriberAddress, SubscriberFields, Subscribers,
};
pub use tokens::{
    ACCESS_TOKEN_LIFETIME, AccessToken, EmbedToken, InviteToken, MAX_TOKEN_LEN,
    REFRESH_TOKEN_LIFETIME, RefreshToken, StoredTokenPair, TokenFormatError, TokenKind, TokenPair,
};
