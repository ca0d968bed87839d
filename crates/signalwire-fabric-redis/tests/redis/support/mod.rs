//! What the Redis tests share. Their servers come from the one place every Redis test of
//! the workspace uses, `signalwire_fabric_redis::testing` (feature `test-util`): a real
//! `redis-server` on a random loopback port (`RedisServer`), or several as a primary with
//! a replica and a Sentinel, or as a Redis Cluster (`Topology`); no persistence, killed
//! on drop; `SKIPPED` when not installed, a failure under `CI=true`.

#![allow(dead_code)] // each test module uses part of the support

pub mod doubles;
pub mod instances;
pub mod sessions;

use signalwire_fabric::testing::ConformanceHarness;
use signalwire_fabric::{Coordinator, SessionKey};
use signalwire_fabric_redis::testing::TEST_REPLICA_WAIT;
use signalwire_fabric_redis::{RedisCoordinator, RedisCoordinatorBuilder, SealingKey};

pub use signalwire_fabric_redis::testing::{
    RedisCluster, RedisServer, ReplicatedRedis, TlsFiles, Topology, TopologyKind, free_port, signal,
};

/// A fresh session key.
pub fn session_key(name: &str) -> SessionKey {
    SessionKey::new(format!("{name}-{:08x}", fastrand::u32(..))).expect("a valid key")
}

/// `builder`'s coordinator; its leases, commits and publishes wait for one replica (at
/// most [`TEST_REPLICA_WAIT`]) when `wait` is set.
pub fn waiting_if(builder: RedisCoordinatorBuilder, wait: bool) -> RedisCoordinator {
    let builder = if wait {
        builder.wait_for_replicas(1, TEST_REPLICA_WAIT)
    } else {
        builder
    };
    builder.build().expect("valid settings")
}

/// The generation `coordinator` holds for `key`.
pub async fn stored_generation(coordinator: &impl Coordinator, key: &SessionKey) -> u64 {
    coordinator
        .load(key)
        .await
        .expect("loads")
        .expect("stored")
        .generation
}

/// The facade's harness for its shared suites (`conformance_tests!`, `scenario_tests!`,
/// `replay_store_rules`) over real servers (one node, a primary with a replica, or a
/// cluster): each coordinator is a new [`RedisCoordinator`] (its own connection, as another
/// app instance would have) with the topology's prefix, sealed when `sealing` is set.
pub struct RedisHarness {
    pub topology: Topology,
    pub sealing: Option<SealingKey>,
    /// Files the servers use (a TLS server's certificate), kept as long as they run.
    pub files: Option<tempfile::TempDir>,
}

impl RedisHarness {
    pub fn new(server: RedisServer, sealing: Option<SealingKey>) -> Self {
        Self::on(Topology::Single(server), sealing)
    }

    pub fn on(topology: Topology, sealing: Option<SealingKey>) -> Self {
        Self {
            topology,
            sealing,
            files: None,
        }
    }

    /// The one server of a single-node harness.
    pub fn server(&self) -> &RedisServer {
        match &self.topology {
            Topology::Single(server) => server,
            other => panic!("not one node: {:?}", other.kind()),
        }
    }

    pub fn make(&self) -> RedisCoordinator {
        let builder = self.topology.coordinator();
        match &self.sealing {
            Some(key) => builder.sealing_key(key.clone()),
            None => builder,
        }
        .build()
        .expect("valid settings")
    }
}

#[async_trait::async_trait]
impl ConformanceHarness for RedisHarness {
    type Coordinator = RedisCoordinator;

    async fn coordinator(&self) -> RedisCoordinator {
        self.make()
    }

    async fn expire_lease(&self, coordinator: &RedisCoordinator, key: &SessionKey) {
        let lease = coordinator.keys_of(key).lease;
        self.topology
            .command_for_key(&lease, &[b"DEL", lease.as_bytes()])
            .await;
    }

    async fn lose_everything(&self, coordinator: &RedisCoordinator, key: &SessionKey) {
        let keys = coordinator.keys_of(key);
        self.topology
            .command_for_key(
                &keys.pair,
                &[b"DEL", keys.pair.as_bytes(), keys.lease.as_bytes()],
            )
            .await;
    }
}
