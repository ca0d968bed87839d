//! A Redis Cluster on loopback (`redis-cli --cluster create ... --cluster-yes`, every
//! node a process the test starts): many subscribers over every primary, a slot moved
//! while sessions rotate, a primary failing over mid-rotation, a replica lost. Each test
//! says what is lost; the same words are in the crate's failure table and SECURITY.md.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use signalwire_fabric::Error;
use signalwire_fabric_redis::RedisCoordinator;

use crate::support::doubles::{space, text};
use crate::support::sessions::{
    HeldRotation, first, joined, rotate, rotate_everyone, two_more_rotations, until,
};
use crate::support::{RedisCluster, session_key, stored_generation, waiting_if};

const LEASE: Duration = Duration::from_secs(10);

fn coordinator(cluster: &RedisCluster, wait: bool) -> RedisCoordinator {
    waiting_if(cluster.coordinator(), wait)
}

/// Lost: nothing. 45 subscribers whose keys hash to slots on every primary, shared by 1,
/// 2 or 3 app instances each (every instance one coordinator for all its subscribers, as
/// an app has): two rotations each, one exchange per subscriber and rotation, every
/// instance of a subscriber on the same token, nothing spent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_spread_over_every_primary_rotate_once_each_per_rotation() {
    let test = "cluster::subscribers_spread_over_every_primary_rotate_once_each_per_rotation";
    let Some(cluster) = RedisCluster::start(test, 3, 0) else {
        return;
    };
    let instances: Vec<RedisCoordinator> = (0..3).map(|_| coordinator(&cluster, false)).collect();
    // One refresh endpoint per subscriber: each issues its own chain.
    let mut spaces = Vec::new();
    let mut subscribers = Vec::new();
    let mut holders = HashMap::new();
    let mut slots = HashSet::new();
    for index in 0..45 {
        let key = session_key(&format!("spread-{index}"));
        let pair = instances[0].keys_of(&key).pair;
        let slot = cluster.slot_of(&pair).await;
        slots.insert(slot);
        *holders
            .entry(cluster.primary_of(slot).await.port())
            .or_insert(0) += 1;
        let space = space();
        let mut sessions = vec![first(&space, instances[0].clone(), &key, LEASE).await];
        for instance in &instances[1..=index % 3] {
            sessions.push(joined(&space, instance.clone(), &key, LEASE).await);
        }
        subscribers.push(sessions);
        spaces.push(space);
    }
    assert_eq!(
        holders.len(),
        3,
        "every primary holds subscribers: {holders:?}"
    );
    assert!(slots.len() >= 40, "{} distinct slots", slots.len());

    for rotation in 1..=2u64 {
        let turns: Vec<_> = subscribers
            .iter()
            .map(|sessions| {
                let sessions = sessions.clone();
                tokio::spawn(async move { rotate_everyone(&sessions).await })
            })
            .collect();
        for turn in turns {
            let served = turn.await.expect("no panic");
            assert_eq!(
                served.len(),
                1,
                "every instance of a subscriber on one token"
            );
        }
        for space in &spaces {
            assert_eq!(
                space.refreshes() as u64,
                rotation,
                "one exchange per subscriber and rotation"
            );
            assert_eq!(space.refused(), 0, "nothing spent twice");
        }
        for sessions in &subscribers {
            for session in sessions {
                assert_eq!(session.status().generation, 1 + rotation);
            }
        }
    }
}

/// Lost: nothing; nothing spent twice. A subscriber's slot is moved to another primary
/// mid-way through a rotation, as `redis-cli --cluster reshard` moves it: the holder has
/// the lease and SignalWire has answered when the new owner starts importing the slot and
/// both keys (pair and lease) are migrated to it. The holder's commit reaches the old
/// owner, which answers `ASK`; the client follows it to the new owner (`ASKING`) and the
/// commit lands. Until the move is finished, the siblings' `try_lease` (the pair there,
/// no lease) is answered `TRYAGAIN` (Redis serves no command whose keys are split while a
/// slot moves) and they keep retrying; once every primary knows the new owner, the old
/// one answers `MOVED`, the client follows it and the siblings adopt. Later rotations
/// run on the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_mid_rotation_is_followed_through_ask_and_moved() {
    let test = "cluster::a_slot_moved_mid_rotation_is_followed_through_ask_and_moved";
    let Some(cluster) = RedisCluster::start(test, 3, 0) else {
        return;
    };
    let key = session_key("moved");
    let mut rotation = HeldRotation::start(&key, LEASE, || coordinator(&cluster, false)).await;
    let pair = coordinator(&cluster, false).keys_of(&key).pair;
    let slot = cluster.slot_of(&pair).await;
    let from = cluster.primary_of(slot).await;
    let to = cluster
        .primaries()
        .await
        .into_iter()
        .find(|node| node.port() != from.port())
        .expect("another primary");

    let mut watched = to.monitor();
    let moving = cluster.begin_slot_move(slot, to).await;
    moving.migrate_keys().await;
    let rotated = rotation.let_through().await;
    until("the holder's commit is stored", || {
        rotation.sessions[0].status().generation == 2
    })
    .await;
    let sent: Vec<String> = watched.take().into_iter().map(|sent| sent.name).collect();
    assert!(
        sent.windows(2)
            .any(|two| two[0] == "ASKING" && two[1] == "EVALSHA"),
        "the commit followed ASK to the new owner: {sent:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rotation.siblings_wait(),
        "the siblings wait while the slot is split"
    );
    moving.finish().await;
    rotation.adopted_by_all(&rotated).await;
    assert_eq!(cluster.primary_of(slot).await.port(), to.port());

    two_more_rotations(&rotation.sessions, &rotation.space).await;
    assert_eq!(
        stored_generation(&coordinator(&cluster, false), &key).await,
        4
    );
}

/// Lost: nothing; nothing spent twice. Three primaries with a replica each, writes waiting
/// for one replica. Mid-way through a rotation (the holder has the lease, SignalWire has
/// answered, the answer is held back) the subscriber's primary fails over to its replica
/// (`CLUSTER FAILOVER`): the holder's commit reaches the old primary, now a replica, which
/// answers `MOVED`; the client follows it to the promoted node, where the lease had been
/// replicated, and the commit lands. The siblings adopt; later rotations run on the new
/// primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failing_over_mid_rotation_is_followed_and_nothing_is_spent_twice() {
    let test =
        "cluster::a_primary_failing_over_mid_rotation_is_followed_and_nothing_is_spent_twice";
    let Some(cluster) = RedisCluster::start(test, 3, 1) else {
        return;
    };
    let key = session_key("cluster-failover");
    let mut rotation = HeldRotation::start(&key, LEASE, || coordinator(&cluster, true)).await;
    let pair = coordinator(&cluster, true).keys_of(&key).pair;
    let primary = cluster.primary_for(&pair).await;
    let promoted = cluster.fail_over(primary).await;
    let rotated = rotation.let_through().await;
    rotation.adopted_by_all(&rotated).await;
    assert_eq!(cluster.primary_for(&pair).await.port(), promoted.port());
    two_more_rotations(&rotation.sessions, &rotation.space).await;
    assert_eq!(
        stored_generation(&coordinator(&cluster, true), &key).await,
        4
    );
}

/// Lost: nothing. Three primaries with a replica each, writes waiting for one replica;
/// one primary's replica dies (SIGKILL). Subscribers on that primary get no durable lease,
/// so nothing is sent for them and callers get a retryable `Error::Coordinator` while
/// their tokens stay valid; subscribers on the other primaries rotate as usual. Once the
/// replica is back (it rejoins with its node file and syncs), the waiting subscriber
/// rotates, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_replica_holds_back_only_the_subscribers_of_its_primary() {
    let test = "cluster::a_lost_replica_holds_back_only_the_subscribers_of_its_primary";
    let Some(mut cluster) = RedisCluster::start(test, 3, 1) else {
        return;
    };
    let space = space();
    let instance = coordinator(&cluster, true);
    // Two subscribers on different primaries.
    let mut keys = Vec::new();
    let mut primaries = HashSet::new();
    for index in 0.. {
        let key = session_key(&format!("shard-{index}"));
        let port = cluster
            .primary_for(&instance.keys_of(&key).pair)
            .await
            .port();
        if primaries.insert(port) {
            keys.push((key, port));
        }
        if keys.len() == 2 {
            break;
        }
    }
    let other_space = crate::support::doubles::space();
    let held_back = first(&space, instance.clone(), &keys[0].0, LEASE).await;
    let unaffected = first(&other_space, instance.clone(), &keys[1].0, LEASE).await;
    let held_primary = cluster
        .nodes()
        .iter()
        .position(|node| node.port() == keys[0].1)
        .expect("a node");
    let replica = {
        let replica = cluster.replica_of(&cluster.nodes()[held_primary]).await;
        cluster
            .nodes()
            .iter()
            .position(|node| node.port() == replica.port())
            .expect("a node")
    };
    let old = held_back.access_token().await.expect("valid");
    let other_old = unaffected.access_token().await.expect("valid");

    cluster.nodes_mut()[replica].kill();
    let error = held_back
        .refresh_if_current(&old)
        .await
        .expect_err("no durable lease without the replica");
    assert!(
        matches!(error, Error::Coordinator { .. }) && error.is_retryable(),
        "{error:?}"
    );
    assert_eq!(space.requests(), 0, "nothing sent without a durable lease");
    let other_new = rotate(&unaffected, &other_old).await;
    assert_ne!(text(&other_new), text(&other_old));
    assert_eq!(
        other_space.refreshes(),
        1,
        "the other primary's subscriber rotated"
    );

    cluster.nodes_mut()[replica].start_again();
    let new = rotate(&held_back, &old).await;
    assert_ne!(text(&new), text(&old));
    assert_eq!(space.refreshes(), 1);
    assert_eq!(space.refused() + other_space.refused(), 0);
    assert_eq!(held_back.status().generation, 2);
}

/// Lost: nothing. Rate limits on a cluster: users whose buckets hash to slots on every
/// primary, asking all at once from 1, 2 and 3 instances. One script reaches one key's
/// node, so each decision goes alone (a batch of several users' buckets would be refused
/// as crossing slots), and each user still gets the burst once between the instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_asked_together_are_decided_on_every_primary() {
    let test = "cluster::rate_limits_asked_together_are_decided_on_every_primary";
    let Some(cluster) = RedisCluster::start(test, 3, 0) else {
        return;
    };
    let limit = signalwire_fabric::RateLimit::new(
        std::num::NonZeroU32::new(3).expect("not zero"),
        Duration::from_secs(300),
    );
    for count in 1..=3 {
        let limiters: Vec<_> = (0..count)
            .map(|_| coordinator(&cluster, false).limiter())
            .collect();
        // At least 12 users, and as many more as it takes for every primary to hold a
        // bucket (keys carry a random part, so where they land varies).
        let mut users = Vec::new();
        let mut primaries = HashSet::new();
        while users.len() < 12 || primaries.len() < 3 {
            assert!(
                users.len() < 200,
                "no buckets on every primary: {primaries:?}"
            );
            let user = session_key(&format!("limited-{count}-{}", users.len()));
            let slot = cluster.slot_of(&limiters[0].key_of(&user)).await;
            primaries.insert(cluster.primary_of(slot).await.port());
            users.push(user);
        }
        // Five requests per user, the users and the instances taking turns, all asked
        // in the same turn of the runtime.
        let asked: Vec<_> = (0..5 * users.len())
            .map(|turn| (&limiters[turn % count], &users[turn % users.len()]))
            .collect();
        let decided =
            futures_util::future::join_all(asked.iter().map(|(limiter, user)| {
                signalwire_fabric::RateLimiter::check(*limiter, user, &limit)
            }))
            .await;
        let mut allowed: HashMap<&str, usize> = HashMap::new();
        for ((_, user), decision) in asked.iter().zip(decided) {
            if decision.expect("the cluster answers") == signalwire_fabric::RateDecision::Allowed {
                *allowed.entry(user.as_str()).or_insert(0) += 1;
            }
        }
        for user in &users {
            assert_eq!(
                allowed.get(user.as_str()).copied(),
                Some(3),
                "{count} instances: {user} gets the burst once"
            );
        }
    }
}
