//! `demo shared`: two instances of this command (two OS processes) share one subscriber
//! through Redis, against an in-process fake space: at every rotation exactly one of them
//! refreshes and the other adopts the pair from Redis.
//!
//! The parent starts the fake, creates the subscriber's token and publishes it to Redis,
//! then runs `signalwire-fabric demo shared-instance` twice with the settings in
//! environment variables, and tells both, line by line on stdin, when a SignalWire call
//! "answered 401". Nothing here prints a token: instances name tokens by a short hash.
//!
//! Here: what both sides share, the settings the parent hands each instance and the
//! Redis coordinator they build from them. The parent is [`parent`], an instance is
//! [`instance`], and what to say when no Redis server answers is [`redis_hints`].

pub mod instance;
pub mod parent;
mod redis_hints;

use std::process::Command as Process;

use signalwire_fabric::{Client, SessionKey};
use signalwire_fabric_redis::{RedisCoordinator, SealingKey};

use crate::exit::{Command, Failure, ForCommand as _};

// The settings' names in an instance's environment.
const ENV_BASE_URL: &str = "SIGNALWIRE_FABRIC_DEMO_BASE_URL";
const ENV_PROJECT: &str = "SIGNALWIRE_FABRIC_DEMO_PROJECT_ID";
const ENV_API_TOKEN: &str = "SIGNALWIRE_FABRIC_DEMO_API_TOKEN";
const ENV_REDIS_URL: &str = "SIGNALWIRE_FABRIC_DEMO_REDIS_URL";
const ENV_KEY: &str = "SIGNALWIRE_FABRIC_DEMO_KEY";
const ENV_SEALING_KEY: &str = "SIGNALWIRE_FABRIC_DEMO_SEALING_KEY";
/// The demo's keys in Redis start with this.
const PREFIX: &str = "signalwire-fabric-demo:";

/// What an instance needs, passed from the parent in the environment.
struct Settings {
    base_url: String,
    project: String,
    api_token: String,
    redis_url: String,
    key: SessionKey,
    sealing_key: SealingKey,
}

impl Settings {
    fn client(&self) -> Result<Client, Failure> {
        Client::builder()
            .base_url(self.base_url.as_str())
            .project_id(self.project.as_str())
            .api_token(self.api_token.as_str())
            .build()
            .for_command(Command::Demo)
    }

    fn coordinator(&self) -> Result<RedisCoordinator, Failure> {
        coordinator(&self.redis_url, &self.sealing_key)
    }

    /// Hands these settings to an instance about to start, in its environment.
    fn pass_to(&self, process: &mut Process) {
        process
            .env(ENV_BASE_URL, &self.base_url)
            .env(ENV_PROJECT, &self.project)
            .env(ENV_API_TOKEN, &self.api_token)
            .env(ENV_REDIS_URL, &self.redis_url)
            .env(ENV_KEY, self.key.as_str())
            .env(ENV_SEALING_KEY, self.sealing_key.to_base64());
    }

    /// The settings [`pass_to`](Self::pass_to) gave this process.
    fn from_env() -> Result<Self, Failure> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                Failure::usage(format!(
                    "`demo shared-instance` is started by `demo shared` ({name} is not set)"
                ))
            })
        };
        Ok(Self {
            base_url: var(ENV_BASE_URL)?,
            project: var(ENV_PROJECT)?,
            api_token: var(ENV_API_TOKEN)?,
            redis_url: var(ENV_REDIS_URL)?,
            key: SessionKey::new(var(ENV_KEY)?).for_command(Command::Demo)?,
            sealing_key: SealingKey::from_base64(&var(ENV_SEALING_KEY)?)
                .for_command(Command::Demo)?,
        })
    }
}

/// The demo's coordinator on the Redis server at `url`, sealing pairs with `key`.
fn coordinator(url: &str, key: &SealingKey) -> Result<RedisCoordinator, Failure> {
    RedisCoordinator::builder(url)
        .key_prefix(PREFIX)
        .sealing_key(key.clone())
        .build()
        .map_err(|error| Failure::usage(format!("--redis-url: {error}")))
}
