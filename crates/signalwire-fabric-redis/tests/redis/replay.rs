//! The Lua scripts against the store rules the protocol model checks: every step out of
//! every state the rules reach within five steps, replayed on a real Redis from an empty
//! key, answer for answer (`signalwire_fabric::testing::replay_store_rules`).

use signalwire_fabric::testing::replay_store_rules;
use signalwire_fabric_redis::SealingKey;

use crate::support::{RedisHarness, RedisServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripts_answer_every_step_as_the_store_rules_do() {
    let test = "replay::the_scripts_answer_every_step_as_the_store_rules_do";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let report = replay_store_rules(&RedisHarness::new(server, None), 5).await;
    assert!(report.traces > 1000, "{report:?}");
    eprintln!("replayed {} traces, {} steps", report.traces, report.steps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_pairs_change_no_answer() {
    let test = "replay::sealed_pairs_change_no_answer";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let key = SealingKey::generate().expect("random");
    let report = replay_store_rules(&RedisHarness::new(server, Some(key)), 4).await;
    assert!(report.traces > 100, "{report:?}");
}
