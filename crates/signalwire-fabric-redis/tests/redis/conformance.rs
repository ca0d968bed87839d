//! The rules of the coordination protocol (written once in
//! `signalwire_fabric::testing::conformance`, one named test each) against
//! `RedisCoordinator`: on one node, plain (`conformance::single::*`) and sealed
//! (`conformance::sealed::*`), on a primary with a replica found through Sentinel, writes
//! waiting for the replica (`conformance::replicated::*`), and sealed on a Redis Cluster
//! (`conformance::sealed_cluster::*`); over `rediss://` in `tls.rs`. Then how pairs lie in
//! Redis, and how many round trips a rotation costs.

use std::time::Duration;

use signalwire_fabric::testing::{self, conformance_tests};
use signalwire_fabric::{Coordinator, LeaseOutcome, SessionKey, SubscriberSession};
use signalwire_fabric_redis::redis::Value;
use signalwire_fabric_redis::testing::{CommandMonitor, Relay, SentCommand, TEST_REPLICA_WAIT};
use signalwire_fabric_redis::{RedisCoordinator, SealingKey};

use crate::support::doubles::{space, text};
use crate::support::sessions::until;
use crate::support::{
    RedisHarness, RedisServer, ReplicatedRedis, Topology, TopologyKind, session_key,
};

/// A harness on a new topology of `kind` for `test`, its pairs sealed when `sealed` is
/// set; or `None` (said SKIPPED).
fn on(kind: TopologyKind, sealed: bool, test: &str) -> Option<RedisHarness> {
    let sealing = sealed.then(|| SealingKey::generate().expect("random"));
    Topology::start(kind, test).map(|topology| RedisHarness::on(topology, sealing))
}

conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    single,
    |test| on(TopologyKind::Single, false, test)
);

conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sealed,
    |test| on(TopologyKind::Single, true, test)
);

conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    replicated,
    |test| on(TopologyKind::Replicated, false, test)
);

conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    sealed_cluster,
    |test| on(TopologyKind::Cluster, true, test)
);

/// The stored value of `key`'s pair, as Redis holds it.
async fn raw_pair(harness: &RedisHarness, key: &SessionKey) -> Vec<u8> {
    let name = harness.make().keys_of(key).pair;
    match harness
        .server()
        .command(&[b"HGET", name.as_bytes(), b"pair"])
        .await
    {
        Value::BulkString(bytes) => bytes,
        other => panic!("a stored pair: {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_laid_out_per_subscriber_under_the_prefix_in_one_hash_slot() {
    let test = "conformance::keys_are_laid_out_per_subscriber_under_the_prefix_in_one_hash_slot";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let harness = RedisHarness::new(server, None);
    let coordinator = harness.make();
    let key = SessionKey::new("tenant}7:{user}%42").expect("valid");
    coordinator
        .publish(&key, &testing::pair("layout").to_stored())
        .await
        .expect("published");
    let lease = match coordinator
        .try_lease(&key, 1, Duration::from_secs(30))
        .await
        .expect("answers")
    {
        LeaseOutcome::Granted(lease) => lease,
        other => panic!("{other:?}"),
    };
    let prefix = harness.server().prefix.clone();
    let pattern = format!("{prefix}*");
    let Value::Array(names) = harness
        .server()
        .command(&[b"KEYS", pattern.as_bytes()])
        .await
    else {
        panic!("KEYS answers an array");
    };
    let mut names: Vec<String> = names
        .into_iter()
        .map(|name| match name {
            Value::BulkString(bytes) => String::from_utf8(bytes).expect("text"),
            other => panic!("{other:?}"),
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{prefix}{{tenant%7D7:%7Buser%7D%2542}}:lease"),
            format!("{prefix}{{tenant%7D7:%7Buser%7D%2542}}:pair"),
        ]
    );
    // Cluster hashes only the text between the braces: the whole escaped key, the same
    // for both names (this server runs without cluster mode, so it cannot be asked).
    let tag = |name: &str| {
        let open = name.find('{').expect("a hash tag");
        let close = open + name[open..].find('}').expect("closed");
        name[open + 1..close].to_owned()
    };
    assert_eq!(tag(&names[0]), "tenant%7D7:%7Buser%7D%2542");
    assert_eq!(tag(&names[0]), tag(&names[1]));
    let Value::Int(ttl) = harness
        .server()
        .command(&[b"PTTL", names[0].as_bytes()])
        .await
    else {
        panic!("PTTL answers a number");
    };
    assert!(
        (1..=30_000).contains(&ttl),
        "the lease expires by itself: {ttl}"
    );
    coordinator.release(&key, &lease).await.expect("released");
    coordinator.remove(&key).await.expect("removed");
    assert!(coordinator.load(&key).await.expect("loads").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_pairs_hold_no_token_in_redis_and_plain_ones_are_the_stored_pair_json() {
    let test =
        "conformance::sealed_pairs_hold_no_token_in_redis_and_plain_ones_are_the_stored_pair_json";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let sealed = RedisHarness::new(server, Some(SealingKey::generate().expect("random")));
    let pair = testing::pair("at-rest").to_stored();
    let key = session_key("sealed");
    sealed.make().publish(&key, &pair).await.expect("published");
    let raw = raw_pair(&sealed, &key).await;
    for secret in [
        pair.access_token().expose_secret(),
        pair.refresh_token().expose_secret(),
    ] {
        for start in (0..secret.len() - 16).step_by(16) {
            assert!(
                !contains(&raw, &secret[start..start + 16]),
                "no part of a token is stored in the clear"
            );
        }
    }
    let loaded = sealed
        .make()
        .load(&key)
        .await
        .expect("opens")
        .expect("stored");
    assert_eq!(loaded.pair, pair);

    let plain = RedisHarness::on(sealed.topology, None);
    let key = session_key("plain");
    plain.make().publish(&key, &pair).await.expect("published");
    let raw = raw_pair(&plain, &key).await;
    let json: signalwire_fabric::StoredTokenPair =
        serde_json::from_slice(&raw).expect("the facade's StoredTokenPair JSON");
    assert_eq!(
        json, pair,
        "without a sealing key, the pair is stored as it is"
    );
}

/// The names of `sent`, and whether they all came from one connection.
fn names_and_one_connection(sent: &[SentCommand]) -> (Vec<&str>, bool) {
    let names = sent.iter().map(|command| command.name.as_str()).collect();
    let one = sent.windows(2).all(|two| two[0].source == two[1].source);
    (names, one)
}

/// Every command each node received since the last call, with the node's port.
fn take_all(monitors: &mut [(u16, CommandMonitor)]) -> Vec<(u16, SentCommand)> {
    monitors
        .iter_mut()
        .flat_map(|(port, monitor)| {
            let port = *port;
            monitor.take().into_iter().map(move |sent| (port, sent))
        })
        .collect()
}

/// Two app instances sharing one subscriber on `topology`, each with a coordinator (and
/// so a connection) of its own: the winner refreshes, the adopter takes the stored pair.
/// Every command any client sends to any node is counted (`MONITOR` on each): the
/// refreshing session's are its `try_lease` and `commit` scripts, the adopting session's
/// its `try_lease`, each on the primary that holds the subscriber, each followed by
/// `WAIT` when writes wait for replicas; and cached reads send nothing at all.
async fn a_rotation_costs_two_round_trips_and_an_adopter_one_on(topology: Topology) {
    let waits = topology.kind() == TopologyKind::Replicated;
    let harness = RedisHarness::on(topology, None);
    let space = space();
    let key = session_key("round-trips");
    let winner = SubscriberSession::builder(space.clone(), space.create())
        .coordinator(harness.make(), key.clone())
        .jitter(Duration::ZERO)
        .build();
    winner.access_token().await.expect("a fresh pair is served");
    until("the pair is published", || winner.status().generation == 1).await;
    let adopter = SubscriberSession::join(space.clone(), harness.make(), key.clone())
        .await
        .expect("Redis answers")
        .expect("the pair is shared")
        .jitter(Duration::ZERO)
        .build();
    let pair_key = harness.make().keys_of(&key).pair;
    let holder = harness.topology.primary_for(&pair_key).await.port();

    // Every command a client sends is a round trip, whatever it is (a pipelined `WAIT`
    // rides on its script's: see `waiting_for_replicas_adds_no_round_trip_on_the_wire`);
    // the harness sends none from here on.
    let mut monitors: Vec<(u16, CommandMonitor)> = harness
        .topology
        .nodes()
        .iter()
        .map(|node| (node.port(), node.monitor()))
        .collect();
    let one_operation: &[&str] = if waits {
        &["EVALSHA", "WAIT"]
    } else {
        &["EVALSHA"]
    };
    // Rotation 1 warms up: connections made, scripts loaded (the first call of a script
    // the server does not know yet costs two more round trips: EVALSHA refused, SCRIPT
    // LOAD, EVALSHA again). Rotations 2 and 3 are counted.
    for rotation in 1..=3 {
        let current = winner.access_token().await.expect("valid");
        take_all(&mut monitors);
        let rotated = winner
            .refresh_if_current(&current)
            .await
            .expect("refreshed");
        let by_winner = take_all(&mut monitors);
        let adopted = adopter.refresh_if_current(&current).await.expect("adopted");
        let by_adopter = take_all(&mut monitors);

        assert_eq!(space.refreshes(), rotation, "one exchange per rotation");
        assert_eq!(space.requests(), rotation, "the adopter sent nothing");
        assert_eq!(text(&adopted), text(&rotated));
        assert_eq!(winner.status().generation, 1 + rotation as u64);
        assert_eq!(adopter.status().generation, 1 + rotation as u64);
        if rotation == 1 {
            continue;
        }
        for (who, sent, operations) in [("refreshing", &by_winner, 2), ("adopting", &by_adopter, 1)]
        {
            assert!(
                sent.iter().all(|(port, _)| *port == holder),
                "the {who} session sent to the primary that holds the subscriber only: {sent:?}"
            );
            let commands: Vec<SentCommand> = sent.iter().map(|(_, sent)| sent.clone()).collect();
            let (names, one_connection) = names_and_one_connection(&commands);
            assert_eq!(
                names,
                one_operation.repeat(operations),
                "the {who} session: its scripts (try_lease, then commit), nothing else"
            );
            assert!(one_connection, "{commands:?}");
        }
        assert_ne!(
            by_adopter[0].1.source, by_winner[0].1.source,
            "each instance sends on its own connection"
        );
    }

    // Cached reads never reach Redis, on any node.
    for _ in 0..1000 {
        winner.access_token().await.expect("cached");
        adopter.access_token().await.expect("cached");
    }
    let during_reads = take_all(&mut monitors);
    assert!(
        during_reads.is_empty(),
        "cached reads sent {during_reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_costs_the_winner_two_round_trips_and_an_adopter_one() {
    let test = "conformance::a_rotation_costs_the_winner_two_round_trips_and_an_adopter_one";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    a_rotation_costs_two_round_trips_and_an_adopter_one_on(Topology::Single(server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_primary_with_a_replica_a_rotation_still_costs_two_round_trips_and_an_adopter_one() {
    let test = "conformance::on_a_primary_with_a_replica_a_rotation_still_costs_two_round_trips_and_an_adopter_one";
    let Some(topology) = Topology::start(TopologyKind::Replicated, test) else {
        return;
    };
    a_rotation_costs_two_round_trips_and_an_adopter_one_on(topology).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_rotation_still_costs_two_round_trips_and_an_adopter_one() {
    let test =
        "conformance::on_a_cluster_a_rotation_still_costs_two_round_trips_and_an_adopter_one";
    let Some(topology) = Topology::start(TopologyKind::Cluster, test) else {
        return;
    };
    a_rotation_costs_two_round_trips_and_an_adopter_one_on(topology).await;
}

/// `WAIT` goes out in the same write as the script it follows, and both answers come back
/// before the next command is sent: counted on the wire by a relay in front of the
/// primary, a rotation is 2 round trips for the refreshing instance and 1 for an adopting
/// one, as without waiting, while the primary received `WAIT` after each script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_replicas_adds_no_round_trip_on_the_wire() {
    let test = "conformance::waiting_for_replicas_adds_no_round_trip_on_the_wire";
    let Some(replicated) = ReplicatedRedis::start(test, 1) else {
        return;
    };
    let primary = replicated.primary().await;
    let relay = Relay::start(primary.port());
    let coordinator = || {
        RedisCoordinator::builder(relay.url())
            .key_prefix(replicated.prefix.clone())
            .wait_for_replicas(1, TEST_REPLICA_WAIT)
            .build()
            .expect("valid settings")
    };
    let space = space();
    let key = session_key("wire");
    let winner = SubscriberSession::builder(space.clone(), space.create())
        .coordinator(coordinator(), key.clone())
        .jitter(Duration::ZERO)
        .build();
    winner.access_token().await.expect("a fresh pair is served");
    until("the pair is published", || winner.status().generation == 1).await;
    let adopter = SubscriberSession::join(space.clone(), coordinator(), key.clone())
        .await
        .expect("Redis answers")
        .expect("the pair is shared")
        .jitter(Duration::ZERO)
        .build();
    let mut monitor = primary.monitor();
    for rotation in 1..=3u64 {
        let current = winner.access_token().await.expect("valid");
        monitor.take();
        let before = relay.round_trips();
        let rotated = winner
            .refresh_if_current(&current)
            .await
            .expect("refreshed");
        let by_winner = relay.round_trips() - before;
        let winner_sent = monitor.take();
        let before = relay.round_trips();
        let adopted = adopter.refresh_if_current(&current).await.expect("adopted");
        let by_adopter = relay.round_trips() - before;
        let adopter_sent = monitor.take();
        assert_eq!(text(&adopted), text(&rotated));
        assert_eq!(adopter.status().generation, 1 + rotation);
        if rotation == 1 {
            continue; // connections made, scripts loaded
        }
        let names = |sent: &[SentCommand]| -> Vec<String> {
            sent.iter().map(|command| command.name.clone()).collect()
        };
        assert_eq!(
            names(&winner_sent),
            ["EVALSHA", "WAIT", "EVALSHA", "WAIT"],
            "each script is followed by WAIT"
        );
        assert_eq!(names(&adopter_sent), ["EVALSHA", "WAIT"]);
        assert_eq!(
            by_winner, 2,
            "try_lease + WAIT, then commit + WAIT: 2 round trips"
        );
        assert_eq!(by_adopter, 1, "try_lease + WAIT: 1 round trip");
    }
}
