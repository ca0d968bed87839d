//! placeholder docs
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod coordinator;
mod keys;
mod scripts;
mod sealing;

pub use coordinator::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT, MAX_TIMEOUT, RedisCoordinator,
    RedisCoordinatorBuilder, RedisKeys,
};
pub use keys::{DEFAULT_KEY_PREFIX, MAX_KEY_PREFIX_LEN};
pub use sealing::SealingKey;
/// The `redis` crate this one is built on, for [`RedisCoordinator::from_client`] and
/// [`RedisCoordinator::from_connection_manager`].
pub use redis;
