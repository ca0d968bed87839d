//! A primary, its replica and a Sentinel, each a real process on loopback: the primary
//! fails over while sessions rotate, with and without writes waiting for the replica; a
//! primary cut off by a failover; a replica lost and back. Each test says what is lost;
//! the same words are in the crate's failure table and SECURITY.md.

use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::{Coordinator, Error, testing};
use signalwire_fabric_redis::RedisCoordinator;
use signalwire_fabric_redis::redis::Value;
use signalwire_fabric_redis::testing::{Relay, TEST_REPLICA_WAIT};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::support::doubles::{space, text};
use crate::support::sessions::{
    HeldRotation, WITHIN, first, joined, rotate, rotate_everyone, rotate_later, two_more_rotations,
    until,
};
use crate::support::{RedisServer, ReplicatedRedis, session_key, waiting_if};

/// The generation `node` holds for `pair` (the pair hash's name), as a number.
async fn generation_on(node: &RedisServer, pair: &str) -> Option<u64> {
    match node
        .try_command(&[b"HGET", pair.as_bytes(), b"generation"])
        .await
        .expect("the node answers")
    {
        Value::BulkString(number) => String::from_utf8(number).ok()?.parse().ok(),
        Value::Nil => None,
        other => panic!("HGET answered {other:?}"),
    }
}

fn coordinator(replicated: &ReplicatedRedis, wait: bool) -> RedisCoordinator {
    waiting_if(replicated.coordinator(), wait)
}

/// Three instances share a subscriber through the primary the Sentinel names. Mid-way
/// through a rotation (the holder has the lease, SignalWire has answered, the answer is
/// held back) the Sentinel fails the primary over, and the old primary is made a replica
/// of the new one (as the Sentinel does once it sees it again). The holder's commit then
/// reaches the demoted node over the connection it already had and is answered
/// `READONLY`: the holder keeps its pair, drops that connection, asks the Sentinel again
/// and commits on the new primary, where the lease and the generation it was granted on
/// had been replicated. Its siblings adopt the pair; later rotations run on the new
/// primary. Nothing is spent twice and no session is lost, with or without waiting.
async fn a_failover_mid_rotation(test: &str, wait: bool) {
    let Some(replicated) = ReplicatedRedis::start(test, 1) else {
        return;
    };
    let key = session_key("failover");
    let lease = Duration::from_secs(10);
    let mut rotation = HeldRotation::start(&key, lease, || coordinator(&replicated, wait)).await;
    let pair = coordinator(&replicated, wait).keys_of(&key).pair;
    replicated.replicated().await;
    let (old_primary, new_primary) = replicated.fail_over().await;
    replicated.demote(old_primary, new_primary).await;
    let released = Instant::now();
    let rotated = rotation.let_through().await;
    rotation.adopted_by_all(&rotated).await;
    assert!(
        released.elapsed() < Duration::from_secs(10),
        "the commit reached the new primary without waiting out the lease: {:?}",
        released.elapsed()
    );
    assert_eq!(generation_on(new_primary, &pair).await, Some(2));

    // Later rotations run on the new primary: one exchange each, nothing spent twice.
    two_more_rotations(&rotation.sessions, &rotation.space).await;
    // The demoted node holds what the new primary does: it replicates it, and took no
    // write of its own.
    replicated.replicated().await;
    assert_eq!(generation_on(new_primary, &pair).await, Some(4));
    assert_eq!(generation_on(old_primary, &pair).await, Some(4));
}

/// Lost: nothing; nothing is spent twice. The Sentinel fails the primary over mid-way
/// through a rotation; the old primary, made a replica, answers the holder's commit
/// `READONLY`; the holder asks the Sentinel again and commits on the new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_mid_rotation_spends_nothing_twice_and_loses_no_session() {
    let test =
        "failover::a_sentinel_failover_mid_rotation_spends_nothing_twice_and_loses_no_session";
    a_failover_mid_rotation(test, false).await;
}

/// Lost: nothing; nothing is spent twice. The same failover with every lease, commit and
/// publish waiting for the replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_mid_rotation_waiting_for_replicas_spends_nothing_twice_and_loses_no_session()
 {
    let test = "failover::a_sentinel_failover_mid_rotation_waiting_for_replicas_spends_nothing_twice_and_loses_no_session";
    a_failover_mid_rotation(test, true).await;
}

/// Lost: nothing; nothing spent twice. The coordinator reaches Redis through one address
/// that is moved to the new primary on failover (as a managed service's endpoint, a DNS
/// name or a proxy is; here a relay), with no Sentinel. Mid-way through a rotation the
/// replica is promoted (`REPLICAOF NO ONE`), the old primary made its replica
/// (`REPLICAOF`) and the address moved: the holder's commit, sent over the connection it
/// had, is answered `READONLY` by the demoted node; the coordinator drops that connection,
/// the next one reaches the new primary, and the commit lands there. Siblings adopt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_moved_to_the_new_primary_is_followed_after_a_readonly_answer() {
    let test = "failover::an_endpoint_moved_to_the_new_primary_is_followed_after_a_readonly_answer";
    let quick_sync = ["--repl-diskless-sync-delay", "0"];
    let Some(primary) = RedisServer::start_with_args(test, &quick_sync) else {
        return;
    };
    let port = primary.port().to_string();
    let Some(replica) = RedisServer::start_with_args(
        test,
        &[
            quick_sync[0],
            quick_sync[1],
            "--replicaof",
            "127.0.0.1",
            &port,
        ],
    ) else {
        return;
    };
    let caught_up = || async {
        let Some(written) = primary
            .info_field("replication", "master_repl_offset")
            .await
        else {
            return false;
        };
        replica
            .info_field("replication", "slave_repl_offset")
            .await
            .is_some_and(|read| read == written)
            && replica
                .info_field("replication", "master_link_status")
                .await
                .as_deref()
                == Some("up")
    };
    let started = Instant::now();
    while !caught_up().await {
        assert!(started.elapsed() < WITHIN, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let endpoint = Relay::start(primary.port());
    let coordinator = || {
        RedisCoordinator::builder(endpoint.url())
            .key_prefix(primary.prefix.clone())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(1500))
            .build()
            .expect("valid settings")
    };
    let key = session_key("endpoint");
    let mut rotation = HeldRotation::start(&key, Duration::from_secs(10), coordinator).await;
    let pair = coordinator().keys_of(&key).pair;
    let started = Instant::now();
    while !caught_up().await {
        assert!(started.elapsed() < WITHIN, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        replica
            .try_command(&[b"REPLICAOF", b"NO", b"ONE"])
            .await
            .is_ok()
    );
    let replica_port = replica.port().to_string();
    assert!(
        primary
            .try_command(&[b"REPLICAOF", b"127.0.0.1", replica_port.as_bytes()])
            .await
            .is_ok()
    );
    endpoint.retarget(replica.port());
    let rotated = rotation.let_through().await;
    rotation.adopted_by_all(&rotated).await;
    assert_eq!(generation_on(&replica, &pair).await, Some(2));
    two_more_rotations(&rotation.sessions, &rotation.space).await;
    assert_eq!(generation_on(&replica, &pair).await, Some(4));
}

/// A failover cuts the primary off: the Sentinel promotes the replica while the old
/// primary keeps running as a primary (as it does until the Sentinel reconfigures it,
/// about ten seconds later here, or for as long as a partition keeps it apart) and the
/// holder's connection still reaches it. Meanwhile an instance that starts now finds the
/// new primary through the Sentinel and waits for the holder's lease, replicated before
/// the failover.
async fn a_primary_cut_off_by_a_failover(test: &str, wait: bool) {
    let Some(replicated) = ReplicatedRedis::start(test, 1) else {
        return;
    };
    let lease = if wait {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(2)
    };
    let gate = Arc::new(Semaphore::new(0));
    let space = space().hold_first_answer(Arc::clone(&gate));
    let key = session_key("cut-off");
    let holder = first(&space, coordinator(&replicated, wait), &key, lease).await;
    let pair = coordinator(&replicated, wait).keys_of(&key).pair;
    let old = holder.access_token().await.expect("valid");

    let held = rotate_later(&holder, &old);
    until("SignalWire answered the holder", || space.refreshes() == 1).await;
    replicated.replicated().await;
    let (cut_off, new_primary) = replicated.fail_over().await;
    let newcomer = joined(&space, coordinator(&replicated, wait), &key, lease).await;
    assert_eq!(newcomer.status().generation, 1);
    let waiting = {
        let newcomer = newcomer.clone();
        let old = old.clone();
        tokio::spawn(async move { newcomer.refresh_if_current(&old).await })
    };
    gate.add_permits(1);
    let rotated = held.await.expect("no panic");

    if wait {
        // The commit reached the cut-off primary, whose replica had left it: no replica
        // acknowledged it, so the holder keeps its pair, asks the Sentinel again and
        // commits on the new primary, where the newcomer adopts it.
        let adopted = waiting
            .await
            .expect("no panic")
            .expect("the newcomer adopts");
        assert_eq!(text(&adopted), text(&rotated));
        assert_eq!(generation_on(new_primary, &pair).await, Some(2));
        // The partition heals: the old primary becomes a replica of the new one, which
        // then acknowledges the holder's commit (retried until then).
        replicated.demote(cut_off, new_primary).await;
        until("the holder's commit is acknowledged", || {
            holder.status().generation == 2
        })
        .await;
        assert_eq!(space.refused(), 0, "nothing spent twice");
        assert_eq!(space.refreshes(), 1);
        replicated.replicated().await;
        assert_eq!(generation_on(cut_off, &pair).await, Some(2));
        // And the subscriber goes on.
        let served = rotate_everyone(&[holder.clone(), newcomer.clone()]).await;
        assert_eq!(served.len(), 1);
        assert_eq!(space.refreshes(), 2);
        assert_eq!(space.refused(), 0);
    } else {
        // The commit landed on the cut-off primary, which acknowledged it: the holder goes
        // on with its pair, which the new primary never sees. The newcomer waits out the
        // lease, takes it over, sends the spent token (refused), looks for the holder's
        // pair for a lease, and ends.
        until("the holder believes its pair stored", || {
            holder.status().generation == 2
        })
        .await;
        let error = waiting
            .await
            .expect("no panic")
            .expect_err("the newcomer cannot go on");
        testing::assert_ended_by_refusal(&error);
        assert_eq!(space.refused(), 1, "the spent token was sent again");
        // The partition heals: the old primary becomes a replica, and the commit it took
        // is gone.
        replicated.demote(cut_off, new_primary).await;
        replicated.replicated().await;
        assert_eq!(generation_on(new_primary, &pair).await, Some(1));
        assert_eq!(generation_on(cut_off, &pair).await, Some(1));
    }
}

/// Lost: nothing; nothing spent twice. With every lease, commit and publish waiting for
/// the replica, a commit that reaches a primary cut off by a failover is not acknowledged
/// (its replica left it), so the holder keeps its pair and commits it on the new primary,
/// where a sibling adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_cut_off_by_a_failover_loses_no_commit_when_writes_wait_for_replicas() {
    let test =
        "failover::a_primary_cut_off_by_a_failover_loses_no_commit_when_writes_wait_for_replicas";
    a_primary_cut_off_by_a_failover(test, true).await;
}

/// Lost, without waiting for replicas: the commit a primary cut off by a failover took,
/// and with it the chain of every instance on the new primary that had not adopted it (it
/// sends the spent token, refused, and ends with `SessionEnded`); the holder goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_waiting_a_commit_taken_by_a_primary_cut_off_by_a_failover_is_lost() {
    let test =
        "failover::without_waiting_a_commit_taken_by_a_primary_cut_off_by_a_failover_is_lost";
    a_primary_cut_off_by_a_failover(test, false).await;
}

/// Lost: nothing. The replica dies (SIGKILL). With writes waiting for it, no lease can be
/// granted durably: the lease granted is given up, nothing is sent to SignalWire, the
/// caller gets a retryable `Error::Coordinator` (each attempt after the `WAIT` timeout)
/// and a still-valid token keeps being served; once the replica is back, the rotation
/// happens, once. Without waiting, the same subscriber's rotations go on as if nothing
/// happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_replica_holds_refreshes_back_while_writes_wait_for_it_and_costs_nothing_otherwise()
{
    let test = "failover::a_lost_replica_holds_refreshes_back_while_writes_wait_for_it_and_costs_nothing_otherwise";
    let Some(mut replicated) = ReplicatedRedis::start(test, 1) else {
        return;
    };
    let lease = Duration::from_secs(5);
    let space = space();
    let plain_space = crate::support::doubles::space();
    let waiting_key = session_key("waits");
    let waiting = first(&space, coordinator(&replicated, true), &waiting_key, lease).await;
    let sibling = joined(&space, coordinator(&replicated, true), &waiting_key, lease).await;
    let plain_key = session_key("plain");
    let plain = first(
        &plain_space,
        coordinator(&replicated, false),
        &plain_key,
        lease,
    )
    .await;
    let old = waiting.access_token().await.expect("valid");
    let plain_old = plain.access_token().await.expect("valid");
    let primary_port = replicated.primary().await.port();

    replicated.nodes_mut()[1].kill();
    let started = Instant::now();
    let error = waiting
        .refresh_if_current(&old)
        .await
        .expect_err("no lease without the replica");
    assert!(
        matches!(error, Error::Coordinator { .. }) && error.is_retryable(),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("too few replicas") || {
            let mut source = std::error::Error::source(&error);
            let mut found = false;
            while let Some(cause) = source {
                found |= cause.to_string().contains("too few replicas");
                source = cause.source();
            }
            found
        },
        "{error}"
    );
    assert!(
        started.elapsed() >= TEST_REPLICA_WAIT,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        space.requests(),
        0,
        "nothing was sent without a durable lease"
    );
    assert_eq!(
        text(&waiting.access_token().await.expect("still valid")),
        text(&old),
        "the valid token is still served"
    );
    // Without waiting, nothing changes.
    let plain_new = rotate(&plain, &plain_old).await;
    assert_ne!(text(&plain_new), text(&plain_old));
    assert_eq!(plain_space.refreshes(), 1);

    replicated.nodes_mut()[1].start_again();
    replicated.replicas_online(primary_port, 1).await;
    let new = rotate(&waiting, &old).await;
    let adopted = rotate(&sibling, &old).await;
    assert_eq!(text(&adopted), text(&new));
    assert_eq!(
        space.refreshes(),
        1,
        "one exchange, once the replica is back"
    );
    assert_eq!(space.refused() + plain_space.refused(), 0);
    let stored = coordinator(&replicated, true)
        .load(&waiting_key)
        .await
        .expect("loads")
        .expect("stored");
    assert_eq!(stored.generation, 2);
    assert!(
        started.elapsed() < WITHIN,
        "recovered within {WITHIN:?}: {:?}",
        started.elapsed()
    );
}

/// Lost: nothing, and nothing waits. Two replicas, writes waiting for one: with either
/// replica killed, the other acknowledges, and three instances rotate as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_replicas_and_writes_waiting_for_one_a_lost_replica_costs_nothing() {
    let test =
        "failover::with_two_replicas_and_writes_waiting_for_one_a_lost_replica_costs_nothing";
    let Some(mut replicated) = ReplicatedRedis::start(test, 2) else {
        return;
    };
    let lease = Duration::from_secs(5);
    let space = space();
    let key = session_key("two-replicas");
    let mut sessions = vec![first(&space, coordinator(&replicated, true), &key, lease).await];
    for _ in 0..2 {
        sessions.push(joined(&space, coordinator(&replicated, true), &key, lease).await);
    }
    for (rotation, lost) in [(1, None), (2, Some(1)), (3, Some(2))] {
        if let Some(index) = lost {
            // The other replica is back first, so that one always answers.
            let primary_port = replicated.primary().await.port();
            if index == 2 {
                replicated.nodes_mut()[1].start_again();
                replicated.replicas_online(primary_port, 2).await;
            }
            replicated.nodes_mut()[index].kill();
        }
        let started = Instant::now();
        let served = rotate_everyone(&sessions).await;
        assert_eq!(served.len(), 1, "one token for everyone");
        assert!(
            started.elapsed() < TEST_REPLICA_WAIT,
            "no write waited out the WAIT timeout: {:?}",
            started.elapsed()
        );
        assert_eq!(space.refreshes(), rotation);
        assert_eq!(space.refused(), 0);
        for session in &sessions {
            assert_eq!(session.status().generation, 1 + rotation as u64);
        }
    }
}

/// The Sentinel's URL list and service name must be usable; `wait_for_replicas` asks for
/// at least one replica and a timeout shorter than the response timeout.
#[test]
fn sentinel_cluster_and_replica_settings_are_checked_naming_the_field() {
    let field = |result: Result<RedisCoordinator, Error>| match result {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("refused: {other:?}"),
    };
    let none: [&str; 0] = [];
    assert_eq!(
        field(RedisCoordinator::sentinel(none, "sessions").build()),
        "sentinel_urls"
    );
    assert_eq!(
        field(RedisCoordinator::sentinel(["http://127.0.0.1:26379"], "sessions").build()),
        "sentinel_urls"
    );
    assert_eq!(
        field(RedisCoordinator::sentinel(["redis://127.0.0.1:26379"], " ").build()),
        "sentinel_service"
    );
    assert_eq!(
        field(RedisCoordinator::cluster(none).build()),
        "cluster_urls"
    );
    assert_eq!(
        field(RedisCoordinator::cluster(["redis://127.0.0.1:7000", "127.0.0.1:7001"]).build()),
        "cluster_urls"
    );
    for (replicas, timeout) in [
        (0, Duration::from_millis(100)),
        (1, Duration::ZERO),
        (1, Duration::from_secs(2)),
    ] {
        assert_eq!(
            field(
                RedisCoordinator::builder("redis://127.0.0.1:6379")
                    .response_timeout(Duration::from_secs(2))
                    .wait_for_replicas(replicas, timeout)
                    .build()
            ),
            "wait_for_replicas",
            "{replicas} replicas within {timeout:?}"
        );
    }
    for built in [
        RedisCoordinator::sentinel(["redis://127.0.0.1:26379"], "sessions")
            .wait_for_replicas(2, Duration::from_millis(100))
            .build(),
        RedisCoordinator::cluster(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]).build(),
    ] {
        let built = built.expect("valid settings, nothing connected yet");
        let shown = format!("{built:?}");
        assert!(shown.contains("127.0.0.1:"), "{shown}");
        assert!(!shown.contains("redis://"), "no URL is shown: {shown}");
    }
}
