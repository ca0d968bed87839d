//! Every key has a lifetime (issue 19): a subscriber who stops coming leaves nothing in
//! Redis. The pair's hash lives until its refresh token expires plus a margin
//! (`keep_after_refresh_expiry`), the lease as long as the lease, and a hash that holds
//! in-flight marks but no pair as long as its newest lease.

use std::time::Duration;

use signalwire_fabric::{
    Coordinator, KEEP_AFTER_REFRESH_EXPIRY, LeaseOutcome, StoredTokenPair, TokenPair, testing,
};
use signalwire_fabric_redis::redis::Value;
use tokio::time::Instant;

use crate::support::{RedisServer, session_key};

/// How many keys Redis holds under the server's prefix.
async fn keys(server: &RedisServer) -> usize {
    let pattern = format!("{}*", server.prefix);
    match server.command(&[b"KEYS", pattern.as_bytes()]).await {
        Value::Array(keys) => keys.len(),
        other => panic!("KEYS answered {other:?}"),
    }
}

/// A pair whose refresh token expires `in_` from now.
fn expiring(seed: &str, in_: Duration) -> StoredTokenPair {
    let pair = testing::pair(seed);
    TokenPair::new(
        pair.access_token().clone(),
        pair.refresh_token().clone(),
        Instant::now() + in_ / 2,
        Instant::now() + in_,
    )
    .to_stored()
}

async fn pttl(server: &RedisServer, key: &str) -> i64 {
    match server.command(&[b"PTTL", key.as_bytes()]).await {
        Value::Int(left) => left,
        other => panic!("PTTL answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_of_subscribers_who_stop_coming_expire() {
    let test = "expiry::the_keys_of_subscribers_who_stop_coming_expire";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let coordinator = server
        .coordinator()
        .keep_after_refresh_expiry(Duration::from_millis(100))
        .build()
        .expect("valid settings");
    let lease = Duration::from_millis(300);
    for user in 0..30 {
        let key = session_key(&format!("gone-{user}"));
        match user % 3 {
            // Published and never touched again.
            0 => {
                coordinator
                    .publish(&key, &expiring("published", Duration::from_secs(1)))
                    .await
                    .expect("published");
            }
            // Rotated once: a lease, a commit.
            1 => {
                coordinator
                    .publish(&key, &expiring("first", Duration::from_secs(1)))
                    .await
                    .expect("published");
                let LeaseOutcome::Granted(granted) =
                    coordinator.try_lease(&key, 1, lease).await.expect("asked")
                else {
                    panic!("the first ask is granted");
                };
                coordinator
                    .commit(
                        &key,
                        &granted,
                        1,
                        &expiring("second", Duration::from_secs(1)),
                    )
                    .await
                    .expect("committed");
            }
            // A starter that was granted the lease on nothing and never came back.
            _ => {
                let outcome = coordinator.try_lease(&key, 0, lease).await.expect("asked");
                assert!(matches!(outcome, LeaseOutcome::Granted(_)), "{outcome:?}");
            }
        }
    }
    assert!(keys(&server).await >= 30, "every user left keys behind");
    let started = Instant::now();
    loop {
        let left = keys(&server).await;
        if left == 0 {
            break;
        }
        // Expiry times are in whole seconds of the pair's refresh token.
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{left} keys are still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_is_kept_until_its_refresh_token_expires_plus_the_margin_and_each_commit_renews_it()
{
    let test = "expiry::a_pair_is_kept_until_its_refresh_token_expires_plus_the_margin_and_each_commit_renews_it";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let coordinator = server.coordinator().build().expect("valid settings");
    let key = session_key("kept");
    let names = coordinator.keys_of(&key);
    let first = testing::pair("kept-1");
    coordinator
        .publish(&key, &first.to_stored())
        .await
        .expect("published");
    let kept = |pair: &TokenPair| {
        (pair.refresh_expires_in() + KEEP_AFTER_REFRESH_EXPIRY).as_millis() as i64
    };
    let left = pttl(&server, &names.pair).await;
    assert!(
        (kept(&first) - 2_000..=kept(&first) + 1_000).contains(&left),
        "{left} ms left, about {} expected",
        kept(&first)
    );

    let LeaseOutcome::Granted(granted) = coordinator
        .try_lease(&key, 1, Duration::from_secs(30))
        .await
        .expect("asked")
    else {
        panic!("granted");
    };
    let lease_left = pttl(&server, &names.lease).await;
    assert!((28_000..=30_000).contains(&lease_left), "{lease_left}");
    // A pair that lives longer: the commit sets the hash's lifetime anew.
    let longer = TokenPair::new(
        testing::access_token("kept-2"),
        testing::refresh_token("kept-2"),
        Instant::now() + Duration::from_secs(7200),
        Instant::now() + Duration::from_secs(4 * 3600),
    );
    coordinator
        .commit(&key, &granted, 1, &longer.to_stored())
        .await
        .expect("committed");
    let left = pttl(&server, &names.pair).await;
    assert!(
        (kept(&longer) - 2_000..=kept(&longer) + 1_000).contains(&left),
        "{left} ms left, about {} expected",
        kept(&longer)
    );
    assert_eq!(
        pttl(&server, &names.lease).await,
        -2,
        "the commit ended the lease"
    );
}
