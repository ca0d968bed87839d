//! [`RedisCoordinator`] and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use signalwire_fabric::{
    CommitOutcome, Coordinator, Error, KEEP_AFTER_REFRESH_EXPIRY, Lease, LeaseOutcome, Released,
    SessionKey, SharedPair, StoredTokenPair,
};

use crate::connection::{Connection, Link, ReplicaWait};
use crate::keys::{DEFAULT_KEY_PREFIX, SubscriberKeys, check_prefix};
use crate::scripts::{COMMIT, PUBLISH, RELEASE, RELEASE_TEXT, TRY_LEASE};
use crate::sealing::{Sealing, SealingKey};

/// How long connecting to Redis may take, by default.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Redis may take to answer one command, by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest connection or response timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

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
    connection: Connection,
    /// Where Redis is, for messages: `host:port`, or the Sentinels' or cluster nodes'
    /// `host:port`s; never a URL (it may hold a password).
    address: String,
    prefix: String,
    sealing: Sealing,
    /// The longest one operation may take before it fails.
    deadline: Duration,
    /// How long a pair is kept after its refresh token has expired.
    keep_after_expiry: Duration,
    /// Whether leases granted, commits and publishes wait for replicas.
    wait: Option<ReplicaWait>,
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
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
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
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
        let mut del = redis::cmd("DEL");
        del.arg(&keys.pair).arg(&keys.lease);
        self.run("delete", key, |mut connection| async move {
            del.query_async::<Value>(&mut connection).await.map(drop)
        })
        .await
    }

    /// Runs one operation on the connection, bounded by the deadline (finding the
    /// connection included: asking a Sentinel for the primary, for example); every failure
    /// is an [`Error::Coordinator`] that names the operation, the server and the session
    /// key, and drops the connection, so that the next operation connects anew (to the
    /// new primary after a failover: a demoted node's `READONLY` is such a failure).
    async fn run<T, F, Fut>(&self, what: &str, key: &SessionKey, operation: F) -> Result<T, Error>
    where
        F: FnOnce(Link) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let inner = &self.inner;
        let by = tokio::time::Instant::now() + inner.deadline;
        let (id, link) = match tokio::time::timeout_at(by, inner.connection.link(inner.wait)).await
        {
            Ok(Ok(linked)) => linked,
            Ok(Err(error)) => {
                tracing::warn!(address = %inner.address, %key, operation = what, %error, "no connection to Redis");
                return Err(Error::coordinator_caused_by(
                    format!("Redis at {}: no connection could be set up", inner.address),
                    error,
                ));
            }
            Err(_) => {
                return Err(Error::coordinator(format!(
                    "Redis at {}: no connection could be set up within {} ms",
                    inner.address,
                    inner.deadline.as_millis()
                )));
            }
        };
        match tokio::time::timeout_at(by, operation(link)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                inner.connection.forget(id);
                tracing::warn!(address = %inner.address, %key, operation = what, %error, "Redis operation failed");
                Err(Error::coordinator_caused_by(
                    format!(
                        "Redis at {}: {what} for session key {key:?} failed",
                        inner.address
                    ),
                    error,
                ))
            }
            Err(_) => {
                inner.connection.forget(id);
                tracing::warn!(address = %inner.address, %key, operation = what, "Redis did not answer in time");
                Err(Error::coordinator(format!(
                    "Redis at {}: {what} for session key {key:?} got no answer within {} ms",
                    inner.address,
                    inner.deadline.as_millis()
                )))
            }
        }
    }

    /// Gives up the lease a failed `try_lease` (timed out, or its connection lost) may
    /// still be granted once Redis runs it: such a lease's owner was never returned to a
    /// session, so nothing can be sent under it, but it would keep every instance waiting
    /// until it expires. The give-up is sent from a task of its own (so the caller's
    /// error is not delayed and dropping the caller cannot cancel it), first on
    /// `connection`, the one the ask went out on: Redis runs one connection's commands in
    /// order, so it runs right after the ask, however long Redis was paused or busy, even
    /// if this client has stopped waiting for either answer by then (`redis` writes a
    /// command as soon as it is queued, and the connection is closed only after that).
    /// If that fails at once (the connection was lost), it is sent again on a new
    /// connection, with backoff, until it is answered or `ttl` has passed.
    ///
    /// The lease is deleted only if it is still that owner's: a lease granted to anyone
    /// else is never touched. That owner's in-flight mark goes with it; every other mark
    /// stays (see [`RELEASE_TEXT`]).
    fn give_up_lease(
        &self,
        key: &SessionKey,
        keys: &SubscriberKeys,
        owner: String,
        mut connection: Link,
        ttl: Duration,
    ) {
        let mut give_up = redis::cmd("EVAL");
        give_up
            .arg(RELEASE_TEXT)
            .arg(2)
            .arg(&keys.pair)
            .arg(&keys.lease)
            .arg(owner);
        let coordinator = self.clone();
        let key = key.clone();
        let give_up_by = tokio::time::Instant::now() + ttl;
        tokio::spawn(async move {
            let first = tokio::time::timeout(
                coordinator.inner.deadline,
                give_up.query_async::<Value>(&mut connection),
            )
            .await;
            drop(connection);
            let mut outcome = match first {
                Ok(Ok(found)) => Ok(found),
                Ok(Err(error)) if !error.is_timeout() => Err(()),
                // Queued behind the ask on its connection: it runs when Redis does.
                Ok(Err(_)) | Err(_) => {
                    tracing::debug!(%key, "giving up a lease that may be granted late: sent, no answer yet");
                    return;
                }
            };
            let mut pause = Duration::from_millis(250);
            loop {
                match outcome {
                    Ok(_) => {
                        tracing::debug!(%key, "gave up a lease that may have been granted late");
                        return;
                    }
                    Err(()) if tokio::time::Instant::now() + pause > give_up_by => {
                        tracing::warn!(%key, "could not give up a lease that may have been granted late; it expires by itself");
                        return;
                    }
                    Err(()) => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(4));
                        let give_up = give_up.clone();
                        outcome = coordinator
                            .run("give up a late lease", &key, |mut connection| async move {
                                give_up.query_async::<Value>(&mut connection).await
                            })
                            .await
                            .map_err(drop);
                    }
                }
            }
        });
    }

    fn shared_pair(
        &self,
        keys: &SubscriberKeys,
        generation: u64,
        value: &Value,
    ) -> Result<SharedPair, Error> {
        let Value::BulkString(bytes) = value else {
            return Err(self.unexpected(keys, "a generation without a pair"));
        };
        let pair = self.inner.sealing.open(&keys.pair, bytes)?;
        Ok(SharedPair::new(generation, pair))
    }

    fn unexpected(&self, keys: &SubscriberKeys, what: &str) -> Error {
        Error::coordinator(format!(
            "Redis at {}: unexpected answer about {} ({what}); is another program writing there?",
            self.inner.address, keys.pair
        ))
    }
}

impl fmt::Debug for RedisCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCoordinator")
            .field("address", &self.inner.address)
            .field("prefix", &self.inner.prefix)
            .field("sealing", &self.inner.sealing)
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

/// How long Redis keeps `pair`, in milliseconds: until its refresh token expires, plus
/// `after_expiry`.
fn keep_ms(pair: &StoredTokenPair, after_expiry: Duration) -> u64 {
    let keep = pair.refresh_expires_in().saturating_add(after_expiry);
    u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn generation_of(value: &Value) -> Option<u64> {
    match value {
        Value::Int(number) => u64::try_from(*number).ok(),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}

fn tag(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// Whether a `try_lease` answer grants a lease: a lease that may be lost in a failover
/// must not be used (another instance could be granted it on the promoted replica).
fn grants_a_lease(answer: &Value) -> bool {
    matches!(answer, Value::Array(parts) if parts.first().and_then(tag) == Some(&b"granted"[..]))
}

#[async_trait::async_trait]
impl Coordinator for RedisCoordinator {
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
        let mut hmget = redis::cmd("HMGET");
        hmget.arg(&keys.pair).arg("generation").arg("pair");
        let answer: Value = self
            .run("load", key, |mut connection| async move {
                hmget.query_async(&mut connection).await
            })
            .await?;
        match answer {
            Value::Array(fields) => match fields.as_slice() {
                [Value::Nil, _] => Ok(None),
                [generation, pair] => {
                    let generation = generation_of(generation)
                        .filter(|generation| *generation > 0)
                        .ok_or_else(|| self.unexpected(&keys, "a generation that is no number"))?;
                    self.shared_pair(&keys, generation, pair).map(Some)
                }
                _ => Err(self.unexpected(&keys, "not two fields")),
            },
            _ => Err(self.unexpected(&keys, "not an array")),
        }
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
        let owner = Lease::random_owner();
        let ttl_ms = ttl.as_millis().clamp(1, u128::from(u32::MAX)) as u64;
        let mut invocation = TRY_LEASE.prepare_invoke();
        invocation
            .key(&keys.pair)
            .key(&keys.lease)
            .arg(seen)
            .arg(ttl_ms)
            .arg(&owner);
        let mut sent_on = None;
        let answer = self
            .run("try_lease", key, |mut connection| {
                sent_on = Some(connection.clone());
                async move { connection.invoke_durably(&invocation, grants_a_lease).await }
            })
            .await;
        let answer: Value = match (answer, sent_on) {
            (Ok(answer), _) => answer,
            (Err(error), Some(connection)) => {
                self.give_up_lease(key, &keys, owner, connection, ttl);
                return Err(error);
            }
            (Err(error), None) => return Err(error),
        };
        let Value::Array(parts) = answer else {
            return Err(self.unexpected(&keys, "try_lease answered no array"));
        };
        match parts.as_slice() {
            [kind, generation, pair] if tag(kind) == Some(b"newer") => {
                let generation = generation_of(generation)
                    .ok_or_else(|| self.unexpected(&keys, "a generation that is no number"))?;
                Ok(LeaseOutcome::Newer(
                    self.shared_pair(&keys, generation, pair)?,
                ))
            }
            [kind, left] if tag(kind) == Some(b"held") => Ok(LeaseOutcome::Held {
                expires_in: generation_of(left).map(Duration::from_millis),
            }),
            [kind, base, taken_over] if tag(kind) == Some(b"granted") => {
                let base = generation_of(base)
                    .ok_or_else(|| self.unexpected(&keys, "a generation that is no number"))?;
                let taken_over = generation_of(taken_over).is_some_and(|flag| flag == 1);
                tracing::debug!(%key, base, taken_over, "refresh lease granted");
                Ok(LeaseOutcome::Granted(Lease::new(owner, base, taken_over)))
            }
            _ => Err(self.unexpected(&keys, "try_lease answered something else")),
        }
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
        let value = secrecy::zeroize::Zeroizing::new(self.inner.sealing.seal(&keys.pair, pair)?);
        let mut invocation = COMMIT.prepare_invoke();
        invocation
            .key(&keys.pair)
            .key(&keys.lease)
            .arg(lease.owner())
            .arg(seen)
            .arg(value.as_slice())
            .arg(keep_ms(pair, self.inner.keep_after_expiry));
        let answer: Value = self
            .run("commit", key, |mut connection| async move {
                connection.invoke_durably(&invocation, |_| true).await
            })
            .await?;
        let Value::Array(parts) = answer else {
            return Err(self.unexpected(&keys, "commit answered no array"));
        };
        match parts.as_slice() {
            [kind, generation] if tag(kind) == Some(b"committed") => {
                let generation = generation_of(generation)
                    .ok_or_else(|| self.unexpected(&keys, "a generation that is no number"))?;
                tracing::debug!(%key, generation, "pair committed");
                Ok(CommitOutcome::Committed { generation })
            }
            [kind, generation, stored] if tag(kind) == Some(b"superseded") => {
                let generation = generation_of(generation)
                    .ok_or_else(|| self.unexpected(&keys, "a generation that is no number"))?;
                tracing::debug!(%key, generation, "commit refused: the store moved on");
                Ok(CommitOutcome::Superseded(
                    self.shared_pair(&keys, generation, stored)?,
                ))
            }
            _ => Err(self.unexpected(&keys, "commit answered something else")),
        }
    }

    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<Released, Error> {
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
        let mut invocation = RELEASE.prepare_invoke();
        invocation
            .key(&keys.pair)
            .key(&keys.lease)
            .arg(lease.owner());
        let answer: Value = self
            .run("release", key, |mut connection| async move {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        match &answer {
            Value::Array(parts) => match parts.as_slice() {
                [others, left] => Ok(Released::new(
                    generation_of(others).is_some_and(|others| others == 1),
                    generation_of(left)
                        .filter(|left| *left > 0)
                        .map(Duration::from_millis),
                )),
                _ => Err(self.unexpected(&keys, "release answered something else")),
            },
            _ => Err(self.unexpected(&keys, "release answered no array")),
        }
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        let keys = SubscriberKeys::new(&self.inner.prefix, key);
        let value = secrecy::zeroize::Zeroizing::new(self.inner.sealing.seal(&keys.pair, pair)?);
        let mut invocation = PUBLISH.prepare_invoke();
        invocation
            .key(&keys.pair)
            .arg(value.as_slice())
            .arg(keep_ms(pair, self.inner.keep_after_expiry));
        let answer: Value = self
            .run("publish", key, |mut connection| async move {
                connection.invoke_durably(&invocation, |_| true).await
            })
            .await?;
        generation_of(&answer).ok_or_else(|| self.unexpected(&keys, "publish answered no number"))
    }
}

enum Source {
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
    fn new(source: Source) -> Self {
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
    /// the pair meanwhile. See the [crate documentation](crate#replicas-and-failover) for
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
        Ok(RedisCoordinator {
            inner: Arc::new(Inner {
                connection,
                address,
                prefix: self.prefix,
                sealing: Sealing::new(self.sealing_key, self.previous_keys),
                deadline: self.connection_timeout + self.response_timeout,
                keep_after_expiry: self.keep_after_expiry,
                wait: self.wait,
            }),
        })
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
