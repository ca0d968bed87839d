//! One behaviour suite, every coordinator: the session scenarios written once in
//! `signalwire_fabric::testing::scenarios` (which the facade runs against its
//! `InProcessCoordinator`), run here against a `RedisCoordinator` on one node
//! (`behaviour::single::*`), on a primary with a replica found through Sentinel, writes
//! waiting for the replica (`behaviour::replicated::*`), and on a Redis Cluster of three
//! primaries (`behaviour::cluster::*`). Each session has a coordinator, and so a
//! connection, of its own.

use signalwire_fabric::testing::scenario_tests;

use crate::support::{RedisHarness, Topology, TopologyKind};

/// A harness on a new topology of `kind` for `test`, or `None` (said SKIPPED).
fn on(kind: TopologyKind, test: &str) -> Option<RedisHarness> {
    Topology::start(kind, test).map(|topology| RedisHarness::on(topology, None))
}

scenario_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    single,
    |test| on(TopologyKind::Single, test)
);

scenario_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    replicated,
    |test| on(TopologyKind::Replicated, test)
);

scenario_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    cluster,
    |test| on(TopologyKind::Cluster, test)
);
