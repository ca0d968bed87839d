//! How a [`RedisCoordinator`](crate::RedisCoordinator) reaches Redis: one node (from a
//! URL, a client, or the app's connection manager), the primary a Sentinel names, or a
//! Redis Cluster; writes that wait for replicas; and [`Server::run`], which every
//! operation goes through: bounded in time, its failure named, its connection dropped.
//!
//! Every operation asks [`Connection::link`] for a [`Link`] and, after any failure,
//! [`Connection::forget`]s it, so that the next operation connects anew: to the same
//! address for a URL (which a managed endpoint or DNS name may have moved to the new
//! primary), to the primary Sentinel names now, or through a cluster client that has
//! refreshed its slot map. A node demoted to replica answers writes with `READONLY`: that
//! is a failure like any other, so the connection to it is dropped, not written to again.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterConfig;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{
    Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, ScriptInvocation, Value,
};
use signalwire_fabric::{Error, SessionKey};

/// The Redis a coordinator's operations go to: where its connections come from, how it
/// is named in messages, how long one operation may take, and whether writes wait for
/// replicas.
pub(crate) struct Server {
    connection: Connection,
    /// Where Redis is, for messages: `host:port`, or the Sentinels' or cluster nodes'
    /// `host:port`s; never a URL (it may hold a password).
    address: String,
    /// The longest one operation may take, finding its connection included: the
    /// connection and response timeouts together.
    operation_timeout: Duration,
    /// Whether leases granted, commits and publishes wait for replicas.
    wait: Option<ReplicaWait>,
}

impl Server {
    pub(crate) fn new(
        connection: Connection,
        address: String,
        operation_timeout: Duration,
        wait: Option<ReplicaWait>,
    ) -> Self {
        Self {
            connection,
            address,
            operation_timeout,
            wait,
        }
    }

    /// Where Redis is, as messages name it (never a URL).
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Whether this is a Redis Cluster, where one script reaches the node of one key's
    /// hash slot.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// The longest one operation may take.
    pub(crate) fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// Sends `command` and answers its reply, as [`Server::run`] runs an operation.
    pub(crate) async fn query(
        &self,
        what: &str,
        key: &SessionKey,
        command: Cmd,
    ) -> Result<Value, Error> {
        self.run(what, key, |mut link| async move {
            command.query_async(&mut link).await
        })
        .await
    }

    /// Runs a script whose writes need not survive a failover, as [`Server::run`] runs an
    /// operation.
    pub(crate) async fn invoke(
        &self,
        what: &str,
        key: &SessionKey,
        invocation: ScriptInvocation<'_>,
    ) -> Result<Value, Error> {
        self.run(what, key, |mut link| async move {
            invocation.invoke_async(&mut link).await
        })
        .await
    }

    /// Runs a script whose writes must survive a failover ([`Link::invoke_durably`]), as
    /// [`Server::run`] runs an operation.
    pub(crate) async fn invoke_durably(
        &self,
        what: &str,
        key: &SessionKey,
        invocation: ScriptInvocation<'_>,
        relied_on: impl FnOnce(&Value) -> bool,
    ) -> Result<Value, Error> {
        self.run(what, key, |mut link| async move {
            link.invoke_durably(&invocation, relied_on).await
        })
        .await
    }

    /// Runs one operation (`what`, for `key`) on a link, within the operation timeout
    /// (finding the connection included: asking a Sentinel for the primary, for example).
    /// Every failure is an [`Error::Coordinator`] that names the operation, the server and
    /// the session key, and drops the connection, so that the next operation connects
    /// anew (to the new primary after a failover: a demoted node's `READONLY` is such a
    /// failure).
    pub(crate) async fn run<T, F, Fut>(
        &self,
        what: &str,
        key: &SessionKey,
        operation: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(Link) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let by = tokio::time::Instant::now() + self.operation_timeout;
        let (id, link) = match tokio::time::timeout_at(by, self.connection.link(self.wait)).await {
            Ok(Ok(linked)) => linked,
            Ok(Err(error)) => {
                tracing::warn!(address = %self.address, %key, operation = what, %error, "no connection to Redis");
                return Err(Error::coordinator(format!(
                    "Redis at {}: no connection could be set up",
                    self.address
                ))
                .caused_by(error));
            }
            Err(_) => {
                return Err(Error::coordinator(format!(
                    "Redis at {}: no connection could be set up within {} ms",
                    self.address,
                    self.operation_timeout.as_millis()
                )));
            }
        };
        match tokio::time::timeout_at(by, operation(link)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.connection.forget(id);
                tracing::warn!(address = %self.address, %key, operation = what, %error, "Redis operation failed");
                Err(Error::coordinator(format!(
                    "Redis at {}: {what} for session key {key:?} failed",
                    self.address
                ))
                .caused_by(error))
            }
            Err(_) => {
                self.connection.forget(id);
                tracing::warn!(address = %self.address, %key, operation = what, "Redis did not answer in time");
                Err(Error::coordinator(format!(
                    "Redis at {}: {what} for session key {key:?} got no answer within {} ms",
                    self.address,
                    self.operation_timeout.as_millis()
                )))
            }
        }
    }
}

/// Writes wait until this many replicas have them, for at most `timeout` (`WAIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplicaWait {
    pub(crate) replicas: u32,
    pub(crate) timeout: Duration,
}

impl ReplicaWait {
    /// `WAIT`'s timeout argument: whole milliseconds, at least 1 (0 would wait forever).
    fn timeout_ms(self) -> u64 {
        u64::try_from(self.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Where the coordinator's connections come from.
pub(crate) enum Connection {
    /// Made here from a URL or a client: created on first use, and created anew after a
    /// failure, so a server that comes back (or a name that now points elsewhere) is
    /// found again at the next operation.
    Node(Box<NodeConnection>),
    /// The app's own manager, which reconnects by itself (to the address it was made for).
    Given(ConnectionManager),
    /// The primary a Sentinel names, asked again whenever a connection failed.
    Sentinel(Box<SentinelConnection>),
    /// A Redis Cluster: the cluster client follows `MOVED` and `ASK`, refreshes its slot
    /// map and reconnects to nodes by itself; it is made anew after a failure all the same.
    Cluster(Box<ClusterSource>),
}

pub(crate) struct NodeConnection {
    pub(crate) client: redis::Client,
    pub(crate) config: ConnectionManagerConfig,
    pub(crate) current: Current<ConnectionManager>,
}

pub(crate) struct SentinelConnection {
    /// Asked for the primary's address; one lookup at a time.
    pub(crate) sentinel: tokio::sync::Mutex<SentinelClient>,
    pub(crate) config: ConnectionManagerConfig,
    pub(crate) current: Current<ConnectionManager>,
}

pub(crate) struct ClusterSource {
    pub(crate) client: redis::cluster::ClusterClient,
    pub(crate) config: ClusterConfig,
    pub(crate) current: Current<ClusterConnection>,
}

/// The connection in use and a number that changes whenever it is replaced.
pub(crate) struct Current<C>(Mutex<(u64, Option<C>)>);

impl<C: Clone> Current<C> {
    pub(crate) fn new() -> Self {
        Self(Mutex::new((0, None)))
    }

    fn get(&self) -> Option<(u64, C)> {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.1.clone().map(|current| (slot.0, current))
    }

    /// The current connection, or `make`'s, which becomes the current one.
    fn get_or_try<E>(&self, make: impl FnOnce() -> Result<C, E>) -> Result<(u64, C), E> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(current) = &slot.1 {
            return Ok((slot.0, current.clone()));
        }
        let made = make()?;
        slot.1 = Some(made.clone());
        Ok((slot.0, made))
    }

    /// Puts `made` in place unless another caller already did; answers the one in use.
    fn offer(&self, made: C) -> (u64, C) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &slot.1 {
            Some(current) => (slot.0, current.clone()),
            None => {
                slot.1 = Some(made.clone());
                (slot.0, made)
            }
        }
    }

    fn forget(&self, id: u64) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.0 == id {
            *slot = (id + 1, None);
        }
    }
}

impl Connection {
    /// A link for one operation, with a number that [`Connection::forget`] takes.
    pub(crate) async fn link(&self, wait: Option<ReplicaWait>) -> RedisResult<(u64, Link)> {
        let (id, kind) = match self {
            Connection::Given(manager) => (0, LinkKind::Node(manager.clone())),
            Connection::Node(node) => {
                let (id, manager) = node.current.get_or_try(|| {
                    ConnectionManager::new_lazy_with_config(
                        node.client.clone(),
                        node.config.clone(),
                    )
                })?;
                (id, LinkKind::Node(manager))
            }
            Connection::Sentinel(sentinel) => {
                if let Some((id, manager)) = sentinel.current.get() {
                    (id, LinkKind::Node(manager))
                } else {
                    let primary = {
                        let mut client = sentinel.sentinel.lock().await;
                        // Another operation may have asked meanwhile.
                        if let Some((id, manager)) = sentinel.current.get() {
                            return Ok((id, Link::new(LinkKind::Node(manager), wait)));
                        }
                        client.async_get_client().await?
                    };
                    tracing::debug!(primary = %primary.get_connection_info().addr(), "Sentinel named the primary");
                    let manager =
                        ConnectionManager::new_lazy_with_config(primary, sentinel.config.clone())?;
                    let (id, manager) = sentinel.current.offer(manager);
                    (id, LinkKind::Node(manager))
                }
            }
            Connection::Cluster(cluster) => {
                let (id, connection) = cluster.current.get_or_try(|| {
                    Ok::<_, RedisError>(
                        cluster
                            .client
                            .get_pending_async_connection_with_config(cluster.config.clone()),
                    )
                })?;
                (id, LinkKind::Cluster(connection))
            }
        };
        Ok((id, Link::new(kind, wait)))
    }

    /// Drops the connection `id` after a failure, so that the next operation connects
    /// anew (unless another failure replaced it already). The app's own manager is kept.
    pub(crate) fn forget(&self, id: u64) {
        match self {
            Connection::Given(_) => {}
            Connection::Node(node) => node.current.forget(id),
            Connection::Sentinel(sentinel) => sentinel.current.forget(id),
            Connection::Cluster(cluster) => cluster.current.forget(id),
        }
    }
}

#[derive(Clone)]
enum LinkKind {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

/// One connection to Redis (a node's, or a cluster's), and whether writes wait for
/// replicas.
#[derive(Clone)]
pub(crate) struct Link {
    kind: LinkKind,
    wait: Option<ReplicaWait>,
}

impl Link {
    fn new(kind: LinkKind, wait: Option<ReplicaWait>) -> Self {
        Self { kind, wait }
    }

    /// Runs a script whose writes must survive a failover: with `EVALSHA` (loading the
    /// script after a `NOSCRIPT` answer) and, when writes wait for replicas, `WAIT` in the
    /// same pipeline, so both go out in one write and come back in one read: one round
    /// trip, as without waiting. Fails, after the script ran, when fewer replicas than
    /// required acknowledged in time and `relied_on` says the caller would rely on what
    /// the script wrote, given its answer (an answer that wrote nothing to rely on, such
    /// as a newer pair read back, stands whatever `WAIT` says).
    pub(crate) async fn invoke_durably(
        &mut self,
        invocation: &ScriptInvocation<'_>,
        relied_on: impl FnOnce(&Value) -> bool,
    ) -> RedisResult<Value> {
        let Some(wait) = self.wait else {
            return invocation.invoke_async(self).await;
        };
        let mut pipeline = redis::pipe();
        pipeline
            .ignore_errors()
            .invoke_script(invocation)
            .cmd("WAIT")
            .arg(wait.replicas)
            .arg(wait.timeout_ms());
        let mut answers: Vec<Value> = pipeline.query_async(self).await?;
        if matches!(answers.first(), Some(Value::ServerError(error))
            if error.kind() == Some(redis::ServerErrorKind::NoScript))
        {
            invocation.load_async(self).await?;
            answers = pipeline.query_async(self).await?;
        }
        let mut answers = answers.into_iter();
        let (Some(answer), Some(acknowledged), None) =
            (answers.next(), answers.next(), answers.next())
        else {
            return Err(RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "a script and WAIT answered other than two values",
            )));
        };
        let answer = answer.extract_error()?;
        match acknowledged.extract_error()? {
            Value::Int(count) if count >= i64::from(wait.replicas) => Ok(answer),
            Value::Int(_) if !relied_on(&answer) => Ok(answer),
            Value::Int(count) => Err(RedisError::from((
                ErrorKind::Client,
                "too few replicas acknowledged the write",
                format!(
                    "{count} of the {} required within {} ms (WAIT); the write may be lost in a failover",
                    wait.replicas,
                    wait.timeout_ms()
                ),
            ))),
            _ => Err(RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "WAIT answered no number",
            ))),
        }
    }
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.kind {
            LinkKind::Node(manager) => manager.req_packed_command(cmd),
            LinkKind::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.kind {
            LinkKind::Node(manager) => manager.req_packed_commands(pipeline, offset, count),
            LinkKind::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.kind {
            LinkKind::Node(manager) => manager.get_db(),
            LinkKind::Cluster(cluster) => cluster.get_db(),
        }
    }
}

impl Connection {
    /// Connections to the node `client` names, made on first use.
    pub(crate) fn node(client: redis::Client, config: ConnectionManagerConfig) -> Self {
        Connection::Node(Box::new(NodeConnection {
            client,
            config,
            current: Current::new(),
        }))
    }

    /// Connections to the primary `sentinel` names, asked on first use and after every
    /// failure.
    pub(crate) fn sentinel(sentinel: SentinelClient, config: ConnectionManagerConfig) -> Self {
        Connection::Sentinel(Box::new(SentinelConnection {
            sentinel: tokio::sync::Mutex::new(sentinel),
            config,
            current: Current::new(),
        }))
    }

    /// A cluster connection from `client`, with `config`'s timeouts, made on first use.
    pub(crate) fn cluster(client: redis::cluster::ClusterClient, config: ClusterConfig) -> Self {
        Connection::Cluster(Box::new(ClusterSource {
            client,
            config,
            current: Current::new(),
        }))
    }
}
