//! Sessions for one subscriber in many app instances, coordinated through Redis: exactly
//! one refresh per rotation, whichever instance comes due first, and every other instance
//! adopts the pair it got.
//!
//! SignalWire's refresh tokens are single-use. When several instances of an app (pods,
//! processes, hosts) each keep a [`SubscriberSession`](signalwire_fabric::SubscriberSession)
//! for the same subscriber, they must not all refresh at expiry: the first would spend the
//! token and the others would be refused, ending the subscriber's sign-in. A
//! [`RedisCoordinator`] is the place they agree. It implements
//! [`signalwire_fabric::Coordinator`]; the session does the rest.
//!
//! ```no_run
//! use signalwire_fabric::{Client, CreateSubscriberToken, SessionKey, SubscriberSession};
//! use signalwire_fabric_redis::{RedisCoordinator, SealingKey};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_env()?;
//! let coordinator = RedisCoordinator::builder("rediss://redis.internal:6380")
//!     .key_prefix("myapp:signalwire:")
//!     .sealing_key(SealingKey::from_base64(&std::env::var("TOKEN_SEALING_KEY")?)?)
//!     .build()?;
//!
//! // Every instance: join the subscriber's shared pair, or start one if there is none.
//! let key: SessionKey = "user-42".parse()?;
//! let session = match SubscriberSession::join(client.clone(), coordinator.clone(), key.clone()).await? {
//!     Some(joined) => joined.build(),
//!     None => {
//!         let created = client
//!             .subscriber_tokens()
//!             .create(CreateSubscriberToken::new("user-42@example.com"))
//!             .await?;
//!         client.session(created.pair).coordinator(coordinator, key).build()
//!     }
//! };
//! let token = session.access_token().await?; // cached: Redis is not asked
//! // ... a SignalWire call with `token` is answered 401 in several instances at once:
//! let newer = session.refresh_if_current(&token).await?; // one refresh between them
//! # drop(newer);
//! # Ok(()) }
//! ```
//!
// The rest of the crate documentation lives in docs/ (plain Markdown: its tables read as
// tables in an editor); intra-doc links there resolve from this crate's root.
#![doc = include_str!("../docs/protocol.md")]
#![doc = include_str!("../docs/failures.md")]
#![doc = include_str!("../docs/topologies.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Where each concern lives:
// - coordinator: `RedisCoordinator`, its constructors, and the protocol's operations
//   (`impl Coordinator`), each one: the keys, a script, one round trip, the reply parsed;
// - builder: `RedisCoordinatorBuilder`, its defaults and the checks of its settings;
// - connection: reaching Redis (one node, Sentinel, Cluster), `WAIT` for replicas, and
//   running one operation within the time limit, its failure named and its connection
//   dropped;
// - scripts: the Lua scripts and the arguments each takes; replies: what each answers;
// - give_up: the task that gives up a lease granted to a `try_lease` whose answer was lost;
// - keys: the names of a subscriber's keys; sealing: pairs sealed at rest;
// - limiter: `RedisRateLimiter`, per-user rate limits in the same Redis (issue 22).
mod builder;
mod connection;
mod coordinator;
mod give_up;
mod keys;
mod limiter;
mod replies;
mod scripts;
mod sealing;
#[cfg(feature = "test-util")]
pub mod testing;

pub use builder::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT, MAX_TIMEOUT, RedisCoordinatorBuilder,
};
pub use coordinator::{RedisCoordinator, RedisKeys};
pub use keys::{DEFAULT_KEY_PREFIX, MAX_KEY_PREFIX_LEN};
pub use limiter::RedisRateLimiter;
/// The `redis` crate this one is built on, for [`RedisCoordinator::from_client`],
/// [`RedisCoordinator::from_connection_manager`],
/// [`RedisCoordinator::from_sentinel_client`] and [`RedisCoordinator::from_cluster_client`]
/// (with its `sentinel` and `cluster-async` features).
pub use redis;
pub use sealing::SealingKey;
