//! [`RedisCoordinatorBuilder`]: where Redis is (a URL, a client, the app's connection
//! manager, Sentinels, a cluster), the settings and their defaults, and the checks that
//! refuse bad ones before anything connects. The constructors that start a builder are
//! [`RedisCoordinator`]'s.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use signalwire_fabric::{Error, KEEP_AFTER_REFRESH_EXPIRY};

use crate::RedisCoordinator;
use crate::connection::{Connection, ReplicaWait, Server};
use crate::keys::{DEFAULT_KEY_PREFIX, check_prefix};
use crate::sealing::{Sealing, SealingKey};

/// How long connecting to Redis may take, by default.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Redis may take to answer one command, by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest connection or response timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the coordinator's Redis is, as the app gave it.
pub(crate) enum Source {
    Url(String),
    Client(Box<redis::Client>),
    Manager(ConnectionManager),
    Sentinel { urls: Vec<String>, service: String },
    SentinelClient(Box<SentinelClient>),
    Cluster(Vec<String>),
    ClusterClient(Box<ClusterClient>),
}

/// Configures a [`RedisCoordinator`]; see [`RedisCoordinator::builder`].
pub struct RedisCoordinatorBuilder {
    source: Source,
    prefix: String,
    connection_timeout: Duration,
    response_timeout: Duration,
    sealing_key: Option<SealingKey>,
    previous_keys: Vec<SealingKey>,
    keep_after_expiry: Duration,
    wait: Option<ReplicaWait>,
}

impl fmt::Debug for RedisCoordinatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            // The URL may hold a password: not shown.
            Source::Url(_) => "url",
            Source::Client(_) => "client",
            Source::Manager(_) => "connection manager",
            Source::Sentinel { .. } => "sentinel urls",
            Source::SentinelClient(_) => "sentinel client",
            Source::Cluster(_) => "cluster urls",
            Source::ClusterClient(_) => "cluster client",
        };
        f.debug_struct("RedisCoordinatorBuilder")
            .field("source", &source)
            .field("prefix", &self.prefix)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("sealed", &self.sealing_key.is_some())
            .field("previous_keys", &self.previous_keys.len())
            .field("keep_after_expiry", &self.keep_after_expiry)
            .field("wait_for_replicas", &self.wait)
            .finish()
    }
}

impl RedisCoordinatorBuilder {
    pub(crate) fn new(source: Source) -> Self {
        Self {
            source,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            sealing_key: None,
            previous_keys: Vec::new(),
            keep_after_expiry: KEEP_AFTER_REFRESH_EXPIRY,
            wait: None,
        }
    }

    /// How long a subscriber's pair stays in Redis after its refresh token has expired
    /// (default [`KEEP_AFTER_REFRESH_EXPIRY`], five minutes: a margin for clocks that
    /// disagree). Every key has a lifetime: the pair's hash lives until its refresh token
    /// expires plus this (set again by every commit and publish), the lease as long as
    /// the lease, and a hash that holds in-flight marks but no pair as long as the newest
    /// lease. A subscriber who stops coming leaves nothing behind.
    pub fn keep_after_refresh_expiry(mut self, keep: Duration) -> Self {
        self.keep_after_expiry = keep;
        self
    }

    /// What every key starts with (default [`DEFAULT_KEY_PREFIX`]), so that several apps
    /// or environments can share one Redis. At most 128 bytes, without `{`, `}` or
    /// control characters.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting may take (default [`DEFAULT_CONNECTION_TIMEOUT`]; more than
    /// zero, at most [`MAX_TIMEOUT`]).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long one command may take to be answered (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`]; more than zero, at most [`MAX_TIMEOUT`]).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Seals every stored pair with `key` (XChaCha20-Poly1305, bound to the pair's Redis
    /// key), and accepts only sealed pairs. Every instance sharing a subscriber needs the
    /// same key.
    pub fn sealing_key(mut self, key: SealingKey) -> Self {
        self.sealing_key = Some(key);
        self
    }

    /// A key that sealed pairs before the current [`sealing_key`](Self::sealing_key): pairs
    /// it sealed are still opened, and the next pair stored is sealed with the current
    /// key. Remove it once every subscriber has rotated (within a refresh token's life).
    pub fn previous_sealing_key(mut self, key: SealingKey) -> Self {
        self.previous_keys.push(key);
        self
    }

    /// Makes every write whose loss a failover would turn into a lost or doubly spent
    /// token wait until `replicas` replicas have it, for at most `timeout`: the lease a
    /// `try_lease` grants, a `commit`, a `publish`. `WAIT` goes out in the same pipeline
    /// as the script, so a rotation still costs the refreshing instance 2 round trips
    /// and each adopting one 1. A write fewer replicas acknowledged in time fails with a
    /// retryable [`Error::Coordinator`] (it may be lost in a failover): a lease is then
    /// given up and not used; a commit is retried by the session, which keeps serving
    /// the pair meanwhile. See the [crate documentation](crate#waiting-for-replicas) for
    /// what each setting loses and costs.
    ///
    /// `replicas` is at least 1; `timeout` at least 1 ms and shorter than the
    /// [`response_timeout`](Self::response_timeout). On a Redis Cluster, replicas are
    /// those of the primary that holds the subscriber's slot.
    ///
    /// ```
    /// use std::time::Duration;
    /// use signalwire_fabric_redis::RedisCoordinator;
    ///
    /// let coordinator = RedisCoordinator::sentinel(["redis://sentinel-1:26379"], "sessions")
    ///     .wait_for_replicas(1, Duration::from_millis(100))
    ///     .build()?;
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.wait = Some(ReplicaWait { replicas, timeout });
        self
    }

    /// Checks the settings and builds the coordinator. Nothing is connected yet.
    ///
    /// Fails with [`Error::InvalidInput`] naming `redis_url` (a URL the Redis client does
    /// not accept, another scheme than `redis`, `rediss`, `unix` or `redis+unix`, or a
    /// `#` fragment: `#insecure` would turn certificate checks off), `key_prefix`,
    /// `connection_timeout`, `response_timeout`, `sealing_key` (previous keys without a
    /// current one), `sentinel_urls` or `cluster_urls` (no URL, or one refused as
    /// `redis_url` would be), `sentinel_service` (empty) or `wait_for_replicas` (no
    /// replica, or a timeout not shorter than the response timeout). No URL is ever quoted.
    pub fn build(self) -> Result<RedisCoordinator, Error> {
        check_prefix(&self.prefix)?;
        for (field, timeout) in [
            ("connection_timeout", self.connection_timeout),
            ("response_timeout", self.response_timeout),
        ] {
            if timeout.is_zero() || timeout > MAX_TIMEOUT {
                return Err(Error::invalid_input(
                    field,
                    format!(
                        "is {timeout:?}; it must be more than zero and at most {MAX_TIMEOUT:?}"
                    ),
                ));
            }
        }
        if self.sealing_key.is_none() && !self.previous_keys.is_empty() {
            return Err(Error::invalid_input(
                "sealing_key",
                "previous sealing keys were given without a current one",
            ));
        }
        if let Some(wait) = self.wait {
            if wait.replicas == 0 {
                return Err(Error::invalid_input(
                    "wait_for_replicas",
                    "asks for 0 replicas; leave it out to not wait",
                ));
            }
            if wait.timeout < Duration::from_millis(1) || wait.timeout >= self.response_timeout {
                return Err(Error::invalid_input(
                    "wait_for_replicas",
                    format!(
                        "has a timeout of {:?}; it must be at least 1 ms and shorter than the response timeout ({:?})",
                        wait.timeout, self.response_timeout
                    ),
                ));
            }
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            // The session retries with its own backoff; a failed connection is made anew
            // by the next operation.
            .set_number_of_retries(0);
        let cluster_config = ClusterConfig::new()
            .set_connection_timeout(self.connection_timeout)
            .set_response_timeout(self.response_timeout);
        let (connection, address) = match self.source {
            Source::Url(url) => {
                let client = client_for(&url)?;
                let address = client.get_connection_info().addr().to_string();
                (Connection::node(client, config), address)
            }
            Source::Client(client) => {
                let address = client.get_connection_info().addr().to_string();
                (Connection::node(*client, config), address)
            }
            Source::Manager(manager) => (
                Connection::Given(manager),
                "(the app's connection)".to_owned(),
            ),
            Source::Sentinel { urls, service } => {
                let (client, address) = sentinel_client_for(&urls, &service)?;
                (Connection::sentinel(client, config), address)
            }
            Source::SentinelClient(client) => (
                Connection::sentinel(*client, config),
                "the primary named by the app's Sentinel client".to_owned(),
            ),
            Source::Cluster(urls) => {
                let (client, address) = cluster_client_for(&urls)?;
                (Connection::cluster(client, cluster_config), address)
            }
            Source::ClusterClient(client) => (
                Connection::cluster(*client, cluster_config),
                "the app's cluster".to_owned(),
            ),
        };
        // Each operation, finding its connection included, within both timeouts together.
        let operation_timeout = self.connection_timeout + self.response_timeout;
        Ok(RedisCoordinator::new(
            Server::new(connection, address, operation_timeout, self.wait),
            self.prefix,
            Sealing::new(self.sealing_key, self.previous_keys),
            self.keep_after_expiry,
        ))
    }
}

/// A client for `url`, or an error that names the problem without quoting the URL.
fn client_for(url: &str) -> Result<redis::Client, Error> {
    let url = checked_url("redis_url", url)?;
    // The client's own error is not passed on: it may quote the URL.
    redis::Client::open(url).map_err(|_| {
        Error::invalid_input(
            "redis_url",
            "is not a Redis URL the client accepts".to_owned(),
        )
    })
}

/// `url`, trimmed, if its scheme is one this crate accepts and it has no fragment; or an
/// error naming `field` that does not quote it.
fn checked_url<'a>(field: &'static str, url: &'a str) -> Result<&'a str, Error> {
    let refuse = |why: &str| Err(Error::invalid_input(field, why.to_owned()));
    let url = url.trim();
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(
        scheme.as_deref(),
        Some("redis" | "rediss" | "unix" | "redis+unix")
    ) {
        return refuse("must start with redis://, rediss://, unix:// or redis+unix://");
    }
    if url.contains('#') {
        return refuse("has a '#' fragment (rediss://...#insecure would skip certificate checks)");
    }
    Ok(url)
}

/// Each URL checked (as [`checked_url`]) and opened, and their `host:port`s for messages.
fn clients_for<'a>(
    field: &'static str,
    urls: &'a [String],
) -> Result<(Vec<&'a str>, String), Error> {
    if urls.is_empty() {
        return Err(Error::invalid_input(field, "has no URL".to_owned()));
    }
    let mut checked = Vec::with_capacity(urls.len());
    let mut addresses = Vec::with_capacity(urls.len());
    for url in urls {
        let url = checked_url(field, url)?;
        let client = redis::Client::open(url).map_err(|_| {
            Error::invalid_input(field, "has a URL the client does not accept".to_owned())
        })?;
        addresses.push(client.get_connection_info().addr().to_string());
        checked.push(url);
    }
    Ok((checked, addresses.join(", ")))
}

/// A Sentinel client for the primary of `service`, asking the Sentinels at `urls`; the
/// primary is reached with the `redis` crate's defaults (plain text, no password).
fn sentinel_client_for(urls: &[String], service: &str) -> Result<(SentinelClient, String), Error> {
    let (urls, addresses) = clients_for("sentinel_urls", urls)?;
    if service.trim().is_empty() {
        return Err(Error::invalid_input(
            "sentinel_service",
            "is empty; it is the name the Sentinels monitor the primary under".to_owned(),
        ));
    }
    let client =
        SentinelClient::build(urls, service, None, SentinelServerType::Master).map_err(|_| {
            Error::invalid_input(
                "sentinel_urls",
                "has URLs the Sentinel client does not accept".to_owned(),
            )
        })?;
    Ok((
        client,
        format!("the primary of {service:?} (Sentinels at {addresses})"),
    ))
}

/// A cluster client for the nodes at `urls` (any of them; the client learns the others),
/// which follows `MOVED` and `ASK` and waits briefly on `TRYAGAIN` (a slot being moved).
fn cluster_client_for(urls: &[String]) -> Result<(ClusterClient, String), Error> {
    let (urls, addresses) = clients_for("cluster_urls", urls)?;
    let client = ClusterClientBuilder::new(urls)
        // Enough for a `MOVED` after a failover or a moved slot, then an `ASK` or a few
        // `TRYAGAIN`s while a slot is being migrated; the operation's deadline bounds them.
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(10)
        .max_retry_wait(250)
        .build()
        .map_err(|_| {
            Error::invalid_input(
                "cluster_urls",
                "has URLs the cluster client does not accept (they must share one user and password)"
                    .to_owned(),
            )
        })?;
    Ok((client, format!("the cluster at {addresses}")))
}

/// How many times the crate's own cluster client sends one command again (after a
/// redirection, a `TRYAGAIN`, or a lost connection).
const CLUSTER_RETRIES: u32 = 6;
