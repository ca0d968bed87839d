//! [`RedisCoordinator`]: its constructors, and the protocol's operations. Each operation
//! is the subscriber's keys, one command or script ([`scripts`]), one round trip
//! ([`Server::run`]), and the answer read ([`replies`]). The settings are checked in
//! [`builder`](crate::builder); a lease granted to a lost `try_lease` is given up by
//! [`give_up`](crate::give_up).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use redis::aio::ConnectionManager;
use redis::cluster::ClusterClient;
use redis::sentinel::SentinelClient;
use signalwire_fabric::{
    CommitOutcome, Coordinator, Error, Lease, LeaseOutcome, Released, SessionKey, SharedPair,
    StoredTokenPair,
};

use crate::builder::{RedisCoordinatorBuilder, Source};
use crate::connection::Server;
use crate::give_up::give_up_lease;
use crate::keys::SubscriberKeys;
use crate::replies::{self, CommitReply, Stored, TryLeaseReply, Unexpected};
use crate::scripts;
use crate::sealing::Sealing;

/// A [`Coordinator`] in Redis, for sessions of one subscriber in many processes or hosts.
/// Clones share one connection. See the [crate documentation](crate) for the protocol.
///
/// ```no_run
/// # async fn run(client: signalwire_fabric::Client) -> Result<(), signalwire_fabric::Error> {
/// use signalwire_fabric::SubscriberSession;
/// use signalwire_fabric_redis::{RedisCoordinator, SealingKey};
///
/// let coordinator = RedisCoordinator::builder("rediss://redis.internal:6380")
///     .key_prefix("myapp:signalwire:")
///     .sealing_key(SealingKey::from_base64(&std::env::var("TOKEN_SEALING_KEY").unwrap_or_default())?)
///     .build()?;
/// let joined = SubscriberSession::join(client, coordinator, "user-42".parse()?).await?;
/// # drop(joined);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    /// The Redis the operations go to (shared with the give-up tasks).
    server: Arc<Server>,
    prefix: String,
    sealing: Sealing,
    /// How long a pair is kept after its refresh token has expired.
    keep_after_expiry: Duration,
}

/// The names of one subscriber's keys in Redis, from [`RedisCoordinator::keys_of`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisKeys {
    /// `<prefix>{<key>}:pair`: a hash with the fields `generation`, `pair` and
    /// `in_flight`.
    pub pair: String,
    /// `<prefix>{<key>}:lease`: the lease holder's owner value, with an expiry.
    pub lease: String,
}

impl RedisCoordinator {
    /// Starts configuring a coordinator that connects to `url`: `redis://[user:password@]host[:port][/db]`,
    /// or `rediss://...` for TLS (certificates checked against the operating system's
    /// roots). Nothing is connected until the first operation.
    pub fn builder(url: impl Into<String>) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::Url(url.into()))
    }

    /// Starts configuring a coordinator on a client the app made, for example with
    /// `redis::Client::build_with_tls` to trust a private certificate authority.
    pub fn from_client(client: redis::Client) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::Client(Box::new(client)))
    }

    /// Starts configuring a coordinator on the app's own connection manager, shared with
    /// the rest of the app. Its own timeouts and reconnection apply; each operation is
    /// still bounded by this builder's connection and response timeouts together.
    pub fn from_connection_manager(manager: ConnectionManager) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::Manager(manager))
    }

    /// Starts configuring a coordinator on the primary that Redis Sentinel names for
    /// `service`, asking the Sentinels at `sentinel_urls` (`redis://host:26379`, or
    /// `rediss://` for TLS to the Sentinels). The Sentinels are asked on first use and
    /// again after every failure, so after a failover the next operation reaches the new
    /// primary; a demoted primary's `READONLY` is such a failure. The URLs are the
    /// Sentinels' (a password in them is theirs); the primary is reached at the address
    /// they name, in plain text and without a password. For a password, TLS or
    /// certificates of the data nodes, build a `redis::sentinel::SentinelClient` with
    /// `SentinelNodeConnectionInfo` and use [`from_sentinel_client`](Self::from_sentinel_client).
    ///
    /// ```
    /// use std::time::Duration;
    /// use signalwire_fabric_redis::RedisCoordinator;
    ///
    /// let coordinator = RedisCoordinator::sentinel(
    ///     ["redis://sentinel-1:26379", "redis://sentinel-2:26379", "redis://sentinel-3:26379"],
    ///     "sessions",
    /// )
    /// .wait_for_replicas(1, Duration::from_millis(100))
    /// .build()?;
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    pub fn sentinel(
        sentinel_urls: impl IntoIterator<Item = impl Into<String>>,
        service: impl Into<String>,
    ) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::Sentinel {
            urls: sentinel_urls.into_iter().map(Into::into).collect(),
            service: service.into(),
        })
    }

    /// Starts configuring a coordinator on the primary the app's own Sentinel client
    /// names (made with `SentinelServerType::Master`; a client for replicas would be
    /// refused every write). As [`sentinel`](Self::sentinel), it is asked again after
    /// every failure.
    ///
    /// ```
    /// use signalwire_fabric_redis::RedisCoordinator;
    /// use signalwire_fabric_redis::redis::RedisConnectionInfo;
    /// use signalwire_fabric_redis::redis::sentinel::{
    ///     SentinelClient, SentinelNodeConnectionInfo, SentinelServerType,
    /// };
    ///
    /// // The data nodes want a password the Sentinels do not.
    /// let nodes = SentinelNodeConnectionInfo::default().set_redis_connection_info(
    ///     RedisConnectionInfo::default().set_password("data-node-password"),
    /// );
    /// let sentinel = SentinelClient::build(
    ///     vec!["redis://sentinel-1:26379", "redis://sentinel-2:26379"],
    ///     "sessions",
    ///     Some(nodes),
    ///     SentinelServerType::Master,
    /// )
    /// .expect("valid Sentinel URLs");
    /// let coordinator = RedisCoordinator::from_sentinel_client(sentinel).build()?;
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    pub fn from_sentinel_client(client: SentinelClient) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::SentinelClient(Box::new(client)))
    }

    /// Starts configuring a coordinator on a Redis Cluster, reached first through any of
    /// `node_urls` (the client learns the other nodes from them). Each subscriber's keys
    /// share one hash slot, so every operation is one command (or one pipeline) to the
    /// primary that holds it; the cluster client follows `MOVED` and `ASK` answers, so
    /// slots may move and primaries fail over while sessions run. The nodes must share one
    /// user and password.
    ///
    /// ```
    /// use signalwire_fabric_redis::RedisCoordinator;
    ///
    /// let coordinator = RedisCoordinator::cluster([
    ///     "redis://redis-0.internal:6379",
    ///     "redis://redis-1.internal:6379",
    ///     "redis://redis-2.internal:6379",
    /// ])
    /// .key_prefix("myapp:signalwire:")
    /// .build()?;
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    pub fn cluster(
        node_urls: impl IntoIterator<Item = impl Into<String>>,
    ) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::Cluster(
            node_urls.into_iter().map(Into::into).collect(),
        ))
    }

    /// Starts configuring a coordinator on the app's own cluster client (for TLS with a
    /// private authority, for example). Its retries and read routing apply; the
    /// connection and response timeouts are this builder's.
    ///
    /// ```
    /// use signalwire_fabric_redis::RedisCoordinator;
    /// use signalwire_fabric_redis::redis::cluster::ClusterClientBuilder;
    ///
    /// let client = ClusterClientBuilder::new(["redis://redis-0.internal:6379"])
    ///     .password("cluster-password")
    ///     .build()
    ///     .expect("valid node URLs");
    /// let coordinator = RedisCoordinator::from_cluster_client(client)
    ///     .key_prefix("myapp:signalwire:")
    ///     .build()?;
    /// # Ok::<(), signalwire_fabric::Error>(())
    /// ```
    pub fn from_cluster_client(client: ClusterClient) -> RedisCoordinatorBuilder {
        RedisCoordinatorBuilder::new(Source::ClusterClient(Box::new(client)))
    }

    /// The Redis keys that hold `key`'s state.
    pub fn keys_of(&self, key: &SessionKey) -> RedisKeys {
        let keys = self.keys(key);
        RedisKeys {
            pair: keys.pair,
            lease: keys.lease,
        }
    }

    /// Whether stored pairs are sealed.
    pub fn is_sealed(&self) -> bool {
        self.inner.sealing.is_sealed()
    }

    /// Deletes everything stored for `key` (its pair, lease and in-flight mark), for
    /// example when the subscriber signs out everywhere. Sessions that still hold the pair
    /// keep it; one that refreshes next publishes its pair again.
    pub async fn remove(&self, key: &SessionKey) -> Result<(), Error> {
        let del = scripts::remove(&self.keys(key));
        self.inner.server.query("delete", key, del).await.map(drop)
    }

    /// A coordinator on `server`, from the builder's checked settings.
    pub(crate) fn new(
        server: Server,
        prefix: String,
        sealing: Sealing,
        keep_after_expiry: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                server: Arc::new(server),
                prefix,
                sealing,
                keep_after_expiry,
            }),
        }
    }

    /// The Redis and the key prefix, for the rate limiter that shares them.
    pub(crate) fn parts(&self) -> (Arc<Server>, &str) {
        (Arc::clone(&self.inner.server), &self.inner.prefix)
    }

    fn keys(&self, key: &SessionKey) -> SubscriberKeys {
        SubscriberKeys::new(&self.inner.prefix, key)
    }

    /// The pair `stored` holds, opened (unsealed, or read as JSON).
    fn open(&self, keys: &SubscriberKeys, stored: Stored<'_>) -> Result<SharedPair, Error> {
        let pair = self.inner.sealing.open(&keys.pair, stored.bytes)?;
        Ok(SharedPair::new(stored.generation, pair))
    }

    /// `pair` as it is stored: sealed, or JSON (zeroed when dropped).
    fn seal(
        &self,
        keys: &SubscriberKeys,
        pair: &StoredTokenPair,
    ) -> Result<secrecy::zeroize::Zeroizing<Vec<u8>>, Error> {
        Ok(secrecy::zeroize::Zeroizing::new(
            self.inner.sealing.seal(&keys.pair, pair)?,
        ))
    }

    /// How long Redis keeps `pair`, in milliseconds: until its refresh token expires, plus
    /// the time kept after that.
    fn keep_ms(&self, pair: &StoredTokenPair) -> u64 {
        let keep = pair
            .refresh_expires_in()
            .saturating_add(self.inner.keep_after_expiry);
        u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// The error for an answer no script gives (see [`Unexpected`]).
    fn unexpected(&self, keys: &SubscriberKeys, what: Unexpected) -> Error {
        Error::coordinator(format!(
            "Redis at {}: unexpected answer about {} ({what}); is another program writing there?",
            self.inner.server.address(),
            keys.pair
        ))
    }
}

impl fmt::Debug for RedisCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCoordinator")
            .field("address", &self.inner.server.address())
            .field("prefix", &self.inner.prefix)
            .field("sealing", &self.inner.sealing)
            .field("operation_timeout", &self.inner.server.operation_timeout())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Coordinator for RedisCoordinator {
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        let keys = self.keys(key);
        let hmget = scripts::load(&keys);
        let answer = self.inner.server.query("load", key, hmget).await?;
        match replies::load(&answer).map_err(|what| self.unexpected(&keys, what))? {
            Some(stored) => self.open(&keys, stored).map(Some),
            None => Ok(None),
        }
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        let keys = self.keys(key);
        let owner = Lease::random_owner();
        let invocation = scripts::try_lease(&keys, seen, ttl, &owner);
        let mut sent_on = None;
        let answer = self
            .inner
            .server
            .run("try_lease", key, |mut link| {
                sent_on = Some(link.clone());
                async move {
                    link.invoke_durably(&invocation, replies::grants_a_lease)
                        .await
                }
            })
            .await;
        let answer: Value = match (answer, sent_on) {
            (Ok(answer), _) => answer,
            // It may still be run, and grant a lease nobody holds: give that up.
            (Err(error), Some(link)) => {
                give_up_lease(&self.inner.server, key, &keys, &owner, link, ttl);
                return Err(error);
            }
            (Err(error), None) => return Err(error),
        };
        match replies::try_lease(&answer).map_err(|what| self.unexpected(&keys, what))? {
            TryLeaseReply::Newer(stored) => Ok(LeaseOutcome::Newer(self.open(&keys, stored)?)),
            TryLeaseReply::Held { expires_in } => Ok(LeaseOutcome::Held { expires_in }),
            TryLeaseReply::Granted { base, taken_over } => {
                tracing::debug!(%key, base, taken_over, "refresh lease granted");
                Ok(LeaseOutcome::Granted(Lease::new(owner, base, taken_over)))
            }
        }
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        let keys = self.keys(key);
        let stored = self.seal(&keys, pair)?;
        let invocation = scripts::commit(&keys, lease.owner(), seen, &stored, self.keep_ms(pair));
        let answer = self
            .inner
            .server
            .invoke_durably("commit", key, invocation, |_| true)
            .await?;
        match replies::commit(&answer).map_err(|what| self.unexpected(&keys, what))? {
            CommitReply::Committed { generation } => {
                tracing::debug!(%key, generation, "pair committed");
                Ok(CommitOutcome::Committed { generation })
            }
            CommitReply::Superseded(stored) => {
                tracing::debug!(%key, generation = stored.generation, "commit refused: the store moved on");
                Ok(CommitOutcome::Superseded(self.open(&keys, stored)?))
            }
        }
    }

    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<Released, Error> {
        let keys = self.keys(key);
        let invocation = scripts::release(&keys, lease.owner());
        let answer = self.inner.server.invoke("release", key, invocation).await?;
        replies::release(&answer).map_err(|what| self.unexpected(&keys, what))
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        let keys = self.keys(key);
        let stored = self.seal(&keys, pair)?;
        let invocation = scripts::publish(&keys, &stored, self.keep_ms(pair));
        let answer = self
            .inner
            .server
            .invoke_durably("publish", key, invocation, |_| true)
            .await?;
        replies::publish(&answer).map_err(|what| self.unexpected(&keys, what))
    }

    /// [`RedisCoordinator::limiter`]: per-user limits counted once across every instance
    /// sharing this Redis.
    fn rate_limiter(&self) -> Option<Arc<dyn signalwire_fabric::RateLimiter>> {
        Some(Arc::new(self.limiter()))
    }
}
