//! Redis as operators run it, for tests: a primary with replicas watched by a Sentinel
//! ([`ReplicatedRedis`]), and a Redis Cluster ([`RedisCluster`]), every process started
//! on a random loopback port and killed when the value is dropped (even when the test
//! fails: each node is a [`RedisServer`]). [`Topology`] runs the same test on one node,
//! on a primary and its replica, and on a cluster.
//!
//! Without `redis-server` (or, for a cluster, `redis-cli`, from the same Debian package
//! family) the starters print `SKIPPED` and return `None`; under `CI=true` they panic, as
//! [`RedisServer::start`] does.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

use signalwire_fabric::testing::Program;

use super::{CommandMonitor, RedisServer, random_u64};
use crate::{RedisCoordinator, RedisCoordinatorBuilder};

/// How long setting up or changing a topology may take before the test fails.
const SETTLE: Duration = Duration::from_secs(30);

/// The connection timeout of the coordinators these topologies make.
pub const TEST_TIMEOUT: Duration = Duration::from_millis(500);

/// The response timeout of the coordinators these topologies make: longer than
/// [`TEST_REPLICA_WAIT`], and than a busy test machine's stalls.
pub const TEST_RESPONSE_TIMEOUT: Duration = Duration::from_millis(3000);

/// How long a coordinator made by [`Topology::coordinator`] for a primary and its replica
/// waits for the replica (`WAIT`). A replica on loopback acknowledges within a
/// millisecond on an idle machine; on a test machine busy with other builds, a process
/// may wait its turn for hundreds of milliseconds.
pub const TEST_REPLICA_WAIT: Duration = Duration::from_millis(1500);

/// Replication settings that let a replica sync at once (the default waits 5 s for more
/// replicas before a diskless sync starts).
const REPLICATION: [&str; 2] = ["--repl-diskless-sync-delay", "0"];

/// `redis-cli`: `$REDIS_CLI`, else the first one on `PATH`.
pub const REDIS_CLI: Program = Program {
    names: &["redis-cli"],
    variable: "REDIS_CLI",
    install: "install Debian's redis-tools package",
};

/// Where `redis-cli` is: `$REDIS_CLI`, else the first one on `PATH`.
pub fn redis_cli_binary() -> Option<PathBuf> {
    REDIS_CLI.find()
}

/// Runs `command` on the node at `port` with a blocking connection of its own (for setup,
/// before any session runs); `None` if it fails.
fn query(port: u16, args: &[&str]) -> Option<Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .ok()?;
    let _ = connection.set_read_timeout(Some(Duration::from_secs(5)));
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(&mut connection).ok()
}

/// A text answer (`INFO`, `CLUSTER NODES`) as a string.
fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Value::VerbatimString { text, .. } => Some(text),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// Polls `done` (every 20 ms, blocking) until it holds; panics naming `what` after
/// [`SETTLE`].
fn settle(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < SETTLE, "waited {SETTLE:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`settle`], without blocking the runtime, for changes made while sessions run.
async fn settle_async<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < SETTLE, "waited {SETTLE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many replicas the primary at `port` counts as online.
fn online_replicas(port: u16) -> usize {
    query(port, &["INFO", "replication"])
        .and_then(text)
        .map_or(0, |info| {
            info.lines()
                .filter(|line| line.starts_with("slave") && line.contains("state=online"))
                .count()
        })
}

/// Whether the node at `port` is a replica whose link to its primary is up.
fn linked(port: u16) -> bool {
    query(port, &["INFO", "replication"])
        .and_then(text)
        .and_then(|info| super::info_field(&info, "master_link_status"))
        .is_some_and(|status| status == "up")
}

/// A primary, its replicas (`redis-server --replicaof`) and one Sentinel watching them,
/// each its own process on a loopback port. Coordinators find the primary through the
/// Sentinel ([`RedisCoordinator::sentinel`]).
#[derive(Debug)]
pub struct ReplicatedRedis {
    /// The data nodes; the first started as the primary.
    nodes: Vec<RedisServer>,
    sentinel: RedisServer,
    service: String,
    /// A prefix no other test's keys have.
    pub prefix: String,
}

impl ReplicatedRedis {
    /// Starts a primary, `replicas` replicas linked to it, and a Sentinel that knows them
    /// all; or returns `None` after saying why `test` is skipped.
    pub fn start(test: &str, replicas: usize) -> Option<Self> {
        let primary = RedisServer::start_with_args(test, &REPLICATION)?;
        let primary_port = primary.port().to_string();
        let mut nodes = vec![primary];
        for _ in 0..replicas {
            let mut args = REPLICATION.to_vec();
            args.extend(["--replicaof", "127.0.0.1", &primary_port]);
            nodes.push(RedisServer::start_with_args(test, &args)?);
        }
        for replica in &nodes[1..] {
            settle("a replica to link to its primary", || {
                linked(replica.port())
            });
        }
        // After a diskless sync, the primary counts a replica (for `WAIT`) only once the
        // replica has acknowledged something, up to a second later.
        settle("the primary to count every replica online", || {
            online_replicas(nodes[0].port()) == replicas
        });
        let service = format!("sessions-{:08x}", random_u64() as u32);
        let config = format!(
            "sentinel monitor {service} 127.0.0.1 {primary_port} 1\n\
             sentinel down-after-milliseconds {service} 2000\n\
             sentinel failover-timeout {service} 6000\n"
        );
        let sentinel = RedisServer::start_configured(test, None, &["--sentinel"], Some(config))?;
        let replica_ports: Vec<String> = nodes[1..]
            .iter()
            .map(|node| node.port().to_string())
            .collect();
        settle("the Sentinel to know every replica", || {
            let Some(Value::Array(known)) =
                query(sentinel.port(), &["SENTINEL", "REPLICAS", &service])
            else {
                return false;
            };
            let ready: Vec<String> = known
                .into_iter()
                .filter_map(|replica| {
                    let fields = fields(replica);
                    let ok = fields.get("flags").is_some_and(|flags| flags == "slave")
                        && fields
                            .get("master-link-status")
                            .is_some_and(|status| status == "ok");
                    ok.then(|| fields.get("port").cloned()).flatten()
                })
                .collect();
            replica_ports.iter().all(|port| ready.contains(port))
        });
        let prefix = nodes[0].prefix.clone();
        Some(Self {
            nodes,
            sentinel,
            service,
            prefix,
        })
    }

    /// Every data node (primary and replicas, in the order they were started).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Every data node, to kill one and start it again.
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }

    /// Waits until the primary at `port` counts `replicas` replicas online.
    pub async fn replicas_online(&self, port: u16, replicas: usize) {
        let primary = self.node_on(port);
        settle_async("the primary to count its replicas online", || async {
            primary.info_text("replication").await.is_some_and(|info| {
                info.lines()
                    .filter(|line| line.starts_with("slave") && line.contains("state=online"))
                    .count()
                    == replicas
            })
        })
        .await;
    }

    /// The Sentinel.
    pub fn sentinel(&self) -> &RedisServer {
        &self.sentinel
    }

    /// The name the Sentinel watches the primary under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// `redis://127.0.0.1:<port>` of the Sentinel.
    pub fn sentinel_urls(&self) -> Vec<String> {
        vec![self.sentinel.url()]
    }

    /// A coordinator builder that finds the primary through the Sentinel, with this
    /// topology's prefix and short timeouts (not waiting for replicas).
    pub fn coordinator(&self) -> RedisCoordinatorBuilder {
        RedisCoordinator::sentinel(self.sentinel_urls(), self.service.clone())
            .key_prefix(self.prefix.clone())
            .connection_timeout(TEST_TIMEOUT)
            .response_timeout(TEST_RESPONSE_TIMEOUT)
    }

    fn node_on(&self, port: u16) -> &RedisServer {
        self.nodes
            .iter()
            .find(|node| node.port() == port)
            .unwrap_or_else(|| panic!("no node of this topology listens on {port}"))
    }

    /// The port the Sentinel names as the primary's now: by `SENTINEL
    /// GET-MASTER-ADDR-BY-NAME`, and in `SENTINEL MASTER` (what clients such as the
    /// `redis` crate's ask), once both agree and no failover is under way.
    async fn named_port(&self) -> Option<u16> {
        let service = self.service.as_bytes();
        let Value::Array(parts) = self
            .sentinel
            .try_command(&[b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", service])
            .await
            .ok()?
        else {
            return None;
        };
        let port: u16 = text(parts.get(1)?.clone())?.parse().ok()?;
        let master = fields(
            self.sentinel
                .try_command(&[b"SENTINEL", b"MASTER", service])
                .await
                .ok()?,
        );
        let settled = master.get("port").and_then(|listed| listed.parse().ok()) == Some(port)
            && master
                .get("flags")
                .is_some_and(|flags| !flags.contains("failover"));
        settled.then_some(port)
    }

    /// The node the Sentinel names as the primary now.
    pub async fn primary(&self) -> &RedisServer {
        let port = self
            .named_port()
            .await
            .expect("the Sentinel names a primary");
        self.node_on(port)
    }

    /// Waits until every replica of the current primary has all its writes (the
    /// replication offsets are equal).
    pub async fn replicated(&self) {
        let primary = self.primary().await;
        let replicas = self.nodes.len() - 1;
        settle_async("every replica to catch up", || async {
            let Some(info) = primary.info_text("replication").await else {
                return false;
            };
            let Some(offset) = super::info_field(&info, "master_repl_offset") else {
                return false;
            };
            let caught_up = (0..replicas)
                .filter_map(|index| super::info_field(&info, &format!("slave{index}")))
                .filter(|line| {
                    line.split(',')
                        .any(|part| part == format!("offset={offset}"))
                        && line.contains("state=online")
                })
                .count();
            caught_up == replicas
        })
        .await;
    }

    /// Has the Sentinel fail the primary over (`SENTINEL FAILOVER`: a replica is
    /// promoted; the old primary keeps running, and is made a replica only later) and
    /// waits until the Sentinel names the promoted node, which answers as a primary.
    /// Answers the old primary and the new one.
    pub async fn fail_over(&self) -> (&RedisServer, &RedisServer) {
        let old = self.primary().await;
        let answer = self
            .sentinel
            .try_command(&[b"SENTINEL", b"FAILOVER", self.service.as_bytes()])
            .await;
        assert!(answer.is_ok(), "SENTINEL FAILOVER: {answer:?}");
        settle_async("the Sentinel to name a new primary", || async {
            match self.named_port().await {
                Some(port) if port != old.port() => {
                    self.node_on(port)
                        .info_field("replication", "role")
                        .await
                        .as_deref()
                        == Some("master")
                }
                _ => false,
            }
        })
        .await;
        (old, self.primary().await)
    }

    /// Makes `node` a replica of `primary` (`REPLICAOF`, as the Sentinel eventually does
    /// to a primary it failed over), and waits until it has synced. Its clients stay
    /// connected: a write they send now is answered `READONLY`.
    pub async fn demote(&self, node: &RedisServer, primary: &RedisServer) {
        let port = primary.port().to_string();
        let answer = node
            .try_command(&[b"REPLICAOF", b"127.0.0.1", port.as_bytes()])
            .await;
        assert!(answer.is_ok(), "REPLICAOF: {answer:?}");
        settle_async("the demoted node to sync", || async {
            node.info_field("replication", "master_link_status")
                .await
                .as_deref()
                == Some("up")
        })
        .await;
    }

    /// Watches every data node (see [`CommandMonitor`]).
    pub fn monitors(&self) -> Vec<CommandMonitor> {
        self.nodes.iter().map(RedisServer::monitor).collect()
    }
}

/// The fields of one Sentinel answer entry (`[name, value, name, value, ...]`).
fn fields(entry: Value) -> std::collections::HashMap<String, String> {
    let Value::Array(parts) = entry else {
        return Default::default();
    };
    let parts: Vec<String> = parts.into_iter().filter_map(text).collect();
    parts
        .chunks(2)
        .filter_map(|pair| match pair {
            [name, value] => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

/// A Redis Cluster on loopback: `primaries` primaries and `replicas` replicas of each,
/// created with `redis-cli --cluster create ... --cluster-yes`. Every node is a
/// [`RedisServer`], killed when this is dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    /// A prefix no other test's keys have.
    pub prefix: String,
}

/// One node's own line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct OwnView {
    id: String,
    primary: bool,
    /// The id of its primary, for a replica.
    replicates: Option<String>,
    slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Starts `primaries` × (1 + `replicas`) cluster nodes, creates the cluster with
    /// `redis-cli --cluster create` and waits until every node says it is ok and every
    /// replica has synced; or returns `None` after saying why `test` is skipped.
    pub fn start(test: &str, primaries: usize, replicas: usize) -> Option<Self> {
        let cli = REDIS_CLI.require(test)?;
        let mut nodes = Vec::new();
        for _ in 0..primaries * (1 + replicas) {
            let mut args = REPLICATION.to_vec();
            args.extend([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "3000",
            ]);
            nodes.push(RedisServer::start_with_args(test, &args)?);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let log = nodes[0].dir().join("cluster-create.log");
        let output = Command::new(&cli)
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        let _ = std::fs::write(&log, &output.stdout);
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" / ")
        );
        let cluster = Self {
            prefix: nodes[0].prefix.clone(),
            nodes,
        };
        let expected = cluster.nodes.len();
        for node in &cluster.nodes {
            settle("every node to say the cluster is ok", || {
                let ok = query(node.port(), &["CLUSTER", "INFO"])
                    .and_then(text)
                    .and_then(|info| super::info_field(&info, "cluster_state"))
                    .is_some_and(|state| state == "ok");
                let knows_all = query(node.port(), &["CLUSTER", "NODES"])
                    .and_then(text)
                    .is_some_and(|nodes| {
                        nodes
                            .lines()
                            .filter(|line| line.contains(" connected"))
                            .count()
                            == expected
                    });
                ok && knows_all
            });
        }
        // Each node learns the others' roles by gossip: a replica's failover needs the
        // primaries' votes, which they give only to a node they know as a replica.
        settle("every node to agree on every node's role", || {
            let own: Vec<OwnView> = cluster
                .nodes
                .iter()
                .map(|node| cluster.own_view_blocking(node))
                .collect();
            cluster.nodes.iter().all(|node| {
                let Some(nodes) = query(node.port(), &["CLUSTER", "NODES"]).and_then(text) else {
                    return false;
                };
                own.iter().all(|view| {
                    nodes.lines().any(|line| {
                        let parts: Vec<&str> = line.split(' ').collect();
                        parts.first() == Some(&view.id.as_str())
                            && parts.get(2).is_some_and(|flags| {
                                flags.split(',').any(|flag| {
                                    flag == if view.primary { "master" } else { "slave" }
                                })
                            })
                            && parts.get(3).copied()
                                == Some(view.replicates.as_deref().unwrap_or("-"))
                    })
                })
            })
        });
        for node in &cluster.nodes {
            let view = cluster.own_view_blocking(node);
            if view.primary {
                settle("a primary to count its replicas online", || {
                    online_replicas(node.port()) == replicas
                });
            } else {
                settle("a replica to sync", || linked(node.port()));
            }
        }
        Some(cluster)
    }

    /// Every node, primaries and replicas, in the order they were started.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Every node, to kill one and start it again.
    pub fn nodes_mut(&mut self) -> &mut [RedisServer] {
        &mut self.nodes
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// A coordinator builder on this cluster ([`RedisCoordinator::cluster`]), with its
    /// prefix and short timeouts.
    pub fn coordinator(&self) -> RedisCoordinatorBuilder {
        RedisCoordinator::cluster(self.urls())
            .key_prefix(self.prefix.clone())
            .connection_timeout(TEST_TIMEOUT)
            .response_timeout(TEST_RESPONSE_TIMEOUT)
    }

    fn own_view_blocking(&self, node: &RedisServer) -> OwnView {
        let nodes = query(node.port(), &["CLUSTER", "NODES"])
            .and_then(text)
            .expect("CLUSTER NODES answers");
        own_view(&nodes).expect("CLUSTER NODES has a myself line")
    }

    async fn own_view(&self, node: &RedisServer) -> Option<OwnView> {
        let nodes = text(node.try_command(&[b"CLUSTER", b"NODES"]).await.ok()?)?;
        own_view(&nodes)
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT`).
    pub async fn slot_of(&self, key: &str) -> u16 {
        match self.nodes[0]
            .command(&[b"CLUSTER", b"KEYSLOT", key.as_bytes()])
            .await
        {
            Value::Int(slot) => u16::try_from(slot).expect("a slot"),
            other => panic!("CLUSTER KEYSLOT answered {other:?}"),
        }
    }

    /// The node that holds `slot` as a primary, by its own account.
    pub async fn primary_of(&self, slot: u16) -> &RedisServer {
        for node in &self.nodes {
            if let Some(view) = self.own_view(node).await
                && view.primary
                && view
                    .slots
                    .iter()
                    .any(|(from, to)| (*from..=*to).contains(&slot))
            {
                return node;
            }
        }
        panic!("no primary holds slot {slot}");
    }

    /// The primary that holds `key`.
    pub async fn primary_for(&self, key: &str) -> &RedisServer {
        let slot = self.slot_of(key).await;
        self.primary_of(slot).await
    }

    /// A replica of `primary`.
    pub async fn replica_of(&self, primary: &RedisServer) -> &RedisServer {
        let id = self
            .own_view(primary)
            .await
            .expect("the primary answers")
            .id;
        for node in &self.nodes {
            if let Some(view) = self.own_view(node).await
                && view.replicates.as_deref() == Some(id.as_str())
            {
                return node;
            }
        }
        panic!("the primary on {} has no replica", primary.port());
    }

    /// Every node that is a primary now.
    pub async fn primaries(&self) -> Vec<&RedisServer> {
        let mut primaries = Vec::new();
        for node in &self.nodes {
            if self.own_view(node).await.is_some_and(|view| view.primary) {
                primaries.push(node);
            }
        }
        primaries
    }

    /// Fails `primary` over to its replica (`CLUSTER FAILOVER` sent to the replica: the
    /// primary stops its clients, the replica catches up and takes its slots over), and
    /// waits until every node agrees. Answers the promoted node.
    pub async fn fail_over(&self, primary: &RedisServer) -> &RedisServer {
        let replica = self.replica_of(primary).await;
        let answer = replica.try_command(&[b"CLUSTER", b"FAILOVER"]).await;
        assert!(answer.is_ok(), "CLUSTER FAILOVER: {answer:?}");
        let promoted = self.own_view(replica).await.expect("answers").id;
        settle_async("every node to see the replica promoted", || async {
            let mut agreed = 0;
            for node in &self.nodes {
                let Some(nodes) = node
                    .try_command(&[b"CLUSTER", b"NODES"])
                    .await
                    .ok()
                    .and_then(text)
                else {
                    return false;
                };
                if nodes.lines().any(|line| {
                    line.starts_with(&promoted)
                        && line
                            .split(' ')
                            .nth(2)
                            .is_some_and(|flags| flags.split(',').any(|flag| flag == "master"))
                }) {
                    agreed += 1;
                }
            }
            agreed == self.nodes.len()
        })
        .await;
        replica
    }

    /// Starts moving `slot` to the primary `to` while clients keep running, as `redis-cli
    /// --cluster reshard` does: `to` imports it and its owner migrates it (`CLUSTER
    /// SETSLOT <slot> IMPORTING / MIGRATING`). From now on the owner answers `ASK` for a
    /// command whose keys it no longer has, and `TRYAGAIN` for one whose keys are split
    /// between the two nodes. Then [`SlotMove::migrate_keys`] and [`SlotMove::finish`].
    pub async fn begin_slot_move<'a>(&'a self, slot: u16, to: &'a RedisServer) -> SlotMove<'a> {
        let from = self.primary_of(slot).await;
        assert_ne!(
            from.port(),
            to.port(),
            "slot {slot} is on that node already"
        );
        let from_id = self.own_view(from).await.expect("answers").id;
        let to_id = self.own_view(to).await.expect("answers").id;
        setslot(to, slot, "IMPORTING", &from_id).await;
        setslot(from, slot, "MIGRATING", &to_id).await;
        SlotMove {
            cluster: self,
            slot,
            from,
            to,
            to_id,
        }
    }

    /// Moves `slot` to the primary `to` ([`RedisCluster::begin_slot_move`], then
    /// [`SlotMove::migrate_keys`] and [`SlotMove::finish`]), spending `pause` between the
    /// steps so that clients running meanwhile meet each state.
    pub async fn move_slot(&self, slot: u16, to: &RedisServer, pause: Duration) {
        let moving = self.begin_slot_move(slot, to).await;
        tokio::time::sleep(pause).await;
        moving.migrate_keys().await;
        tokio::time::sleep(pause).await;
        moving.finish().await;
    }

    /// Watches every node (see [`CommandMonitor`]).
    pub fn monitors(&self) -> Vec<CommandMonitor> {
        self.nodes.iter().map(RedisServer::monitor).collect()
    }
}

/// A slot being moved from one primary to another (see
/// [`RedisCluster::begin_slot_move`]).
#[derive(Debug)]
pub struct SlotMove<'a> {
    cluster: &'a RedisCluster,
    slot: u16,
    from: &'a RedisServer,
    to: &'a RedisServer,
    to_id: String,
}

impl SlotMove<'_> {
    /// Moves every key of the slot to the new owner (`CLUSTER GETKEYSINSLOT`, then
    /// `MIGRATE ... KEYS ...`), until none is left. The old owner now answers `ASK` for
    /// every command on the slot.
    pub async fn migrate_keys(&self) {
        let slot = self.slot.to_string();
        let port = self.to.port().to_string();
        loop {
            let keys = match self
                .from
                .command(&[b"CLUSTER", b"GETKEYSINSLOT", slot.as_bytes(), b"100"])
                .await
            {
                Value::Array(keys) => keys,
                other => panic!("CLUSTER GETKEYSINSLOT answered {other:?}"),
            };
            if keys.is_empty() {
                return;
            }
            let mut migrate = redis::cmd("MIGRATE");
            migrate
                .arg("127.0.0.1")
                .arg(&port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS");
            for key in keys {
                match key {
                    Value::BulkString(key) => migrate.arg(key),
                    other => panic!("CLUSTER GETKEYSINSLOT listed {other:?}"),
                };
            }
            let mut connection = self
                .from
                .client()
                .get_multiplexed_async_connection()
                .await
                .expect("the node answers");
            let answer: redis::RedisResult<Value> = migrate.query_async(&mut connection).await;
            assert!(answer.is_ok(), "MIGRATE: {answer:?}");
        }
    }

    /// Tells every primary the slot's new owner (`CLUSTER SETSLOT <slot> NODE <id>`): the
    /// old owner now answers `MOVED`.
    pub async fn finish(self) {
        setslot(self.to, self.slot, "NODE", &self.to_id).await;
        setslot(self.from, self.slot, "NODE", &self.to_id).await;
        for node in self.cluster.primaries().await {
            if node.port() != self.to.port() && node.port() != self.from.port() {
                setslot(node, self.slot, "NODE", &self.to_id).await;
            }
        }
    }
}

/// `CLUSTER SETSLOT <slot> <state> <id>` on `node`.
async fn setslot(node: &RedisServer, slot: u16, state: &str, id: &str) {
    let slot = slot.to_string();
    let answer = node
        .try_command(&[
            b"CLUSTER",
            b"SETSLOT",
            slot.as_bytes(),
            state.as_bytes(),
            id.as_bytes(),
        ])
        .await;
    assert!(answer.is_ok(), "CLUSTER SETSLOT {state}: {answer:?}");
}

/// The `myself` line of `CLUSTER NODES`:
/// `<id> <ip:port@cport> <flags> <primary id or -> <ping> <pong> <epoch> <link> <slots...>`.
fn own_view(nodes: &str) -> Option<OwnView> {
    let line = nodes.lines().find(|line| {
        line.split(' ')
            .nth(2)
            .is_some_and(|flags| flags.split(',').any(|flag| flag == "myself"))
    })?;
    let parts: Vec<&str> = line.split(' ').collect();
    let flags = parts.get(2)?;
    let slots = parts
        .iter()
        .skip(8)
        .filter(|part| !part.starts_with('['))
        .filter_map(|range| match range.split_once('-') {
            Some((from, to)) => Some((from.parse().ok()?, to.parse().ok()?)),
            None => range.parse().ok().map(|slot| (slot, slot)),
        })
        .collect();
    Some(OwnView {
        id: (*parts.first()?).to_owned(),
        primary: flags.split(',').any(|flag| flag == "master"),
        replicates: parts
            .get(3)
            .filter(|id| **id != "-")
            .map(|id| (*id).to_owned()),
        slots,
    })
}

/// One deployment of Redis, to run the same test on each: one node, a primary with a
/// replica (found through Sentinel, writes waiting for the replica), or a cluster of three
/// primaries.
#[derive(Debug)]
pub enum Topology {
    /// One `redis-server`.
    Single(RedisServer),
    /// A primary, one replica and a Sentinel; coordinators wait for the replica.
    Replicated(ReplicatedRedis),
    /// Three primaries in a Redis Cluster.
    Cluster(RedisCluster),
}

/// Which [`Topology`] to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopologyKind {
    /// [`Topology::Single`].
    Single,
    /// [`Topology::Replicated`].
    Replicated,
    /// [`Topology::Cluster`].
    Cluster,
}

impl TopologyKind {
    /// Every kind, one node first.
    pub const ALL: [TopologyKind; 3] = [
        TopologyKind::Single,
        TopologyKind::Replicated,
        TopologyKind::Cluster,
    ];

    /// A short name: `single`, `replicated` or `cluster`.
    pub fn name(self) -> &'static str {
        match self {
            TopologyKind::Single => "single",
            TopologyKind::Replicated => "replicated",
            TopologyKind::Cluster => "cluster",
        }
    }
}

impl Topology {
    /// Starts a topology of `kind`, or returns `None` after saying why `test` is skipped.
    pub fn start(kind: TopologyKind, test: &str) -> Option<Self> {
        match kind {
            TopologyKind::Single => RedisServer::start(test).map(Topology::Single),
            TopologyKind::Replicated => ReplicatedRedis::start(test, 1).map(Topology::Replicated),
            TopologyKind::Cluster => RedisCluster::start(test, 3, 0).map(Topology::Cluster),
        }
    }

    /// Which kind it is.
    pub fn kind(&self) -> TopologyKind {
        match self {
            Topology::Single(_) => TopologyKind::Single,
            Topology::Replicated(_) => TopologyKind::Replicated,
            Topology::Cluster(_) => TopologyKind::Cluster,
        }
    }

    /// A coordinator builder for it, with its prefix and short timeouts: on one node, on
    /// the primary the Sentinel names with writes waiting for the replica
    /// ([`TEST_REPLICA_WAIT`]), or on the cluster.
    pub fn coordinator(&self) -> RedisCoordinatorBuilder {
        match self {
            Topology::Single(server) => server.coordinator(),
            Topology::Replicated(replicated) => replicated
                .coordinator()
                .wait_for_replicas(1, TEST_REPLICA_WAIT),
            Topology::Cluster(cluster) => cluster.coordinator(),
        }
    }

    /// The prefix of its keys.
    pub fn prefix(&self) -> &str {
        match self {
            Topology::Single(server) => &server.prefix,
            Topology::Replicated(replicated) => &replicated.prefix,
            Topology::Cluster(cluster) => &cluster.prefix,
        }
    }

    /// The node that holds `key` as a primary now.
    pub async fn primary_for(&self, key: &str) -> &RedisServer {
        match self {
            Topology::Single(server) => server,
            Topology::Replicated(replicated) => replicated.primary().await,
            Topology::Cluster(cluster) => cluster.primary_for(key).await,
        }
    }

    /// Runs one command about `key` on the primary that holds it.
    pub async fn command_for_key(&self, key: &str, args: &[&[u8]]) -> Value {
        self.primary_for(key).await.command(args).await
    }

    /// Every data node (not the Sentinel).
    pub fn nodes(&self) -> &[RedisServer] {
        match self {
            Topology::Single(server) => std::slice::from_ref(server),
            Topology::Replicated(replicated) => replicated.nodes(),
            Topology::Cluster(cluster) => cluster.nodes(),
        }
    }

    /// Watches every data node (see [`CommandMonitor`]).
    pub fn monitors(&self) -> Vec<CommandMonitor> {
        match self {
            Topology::Single(server) => vec![server.monitor()],
            Topology::Replicated(replicated) => replicated.monitors(),
            Topology::Cluster(cluster) => cluster.monitors(),
        }
    }
}
