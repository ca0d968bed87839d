//! Eight OS processes of a hundred tasks each share one subscriber through Redis, against
//! the fake with single-use refresh tokens.

use std::time::Duration;

use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::support::instances::{Instance, Mode, Setup, publish_created};
use crate::support::{RedisServer, session_key};

/// Not a test on its own: one app instance, run as a child process by the tests here and
/// in `faults` (see `support::instances`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the multi-process and fault tests"]
async fn child_instance() {
    crate::support::instances::run_child().await;
}

/// The settings children get for `fake` and `server`.
pub fn setup(fake: &FakeSpace, server: &RedisServer, lease: Duration) -> Setup {
    Setup {
        fake_url: fake.base_url().to_owned(),
        project: fake.project_id().to_owned(),
        api_token: fake.api_token().to_owned(),
        redis_url: server.url(),
        prefix: server.prefix.clone(),
        key: session_key("shared"),
        lease,
    }
}

const PROCESSES: usize = 8;
const TASKS: usize = 100;
const ROTATIONS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_of_a_hundred_tasks_refresh_once_per_rotation_and_never_send_a_spent_token()
{
    let test = "multi_process::eight_processes_of_a_hundred_tasks_refresh_once_per_rotation_and_never_send_a_spent_token";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, Duration::from_secs(10));
    publish_created(&setup, "shared@example.com").await;

    let mut instances: Vec<Instance> = (0..PROCESSES)
        .map(|_| Instance::spawn(&setup, TASKS, Mode::Plain))
        .collect();
    for instance in &mut instances {
        instance.expect("joined", Duration::from_secs(60)).await;
    }
    for rotation in 1..=ROTATIONS {
        // Every task of every process reports the token it holds as refused at once.
        for instance in &mut instances {
            instance.go();
        }
        let mut rounds = Vec::new();
        for instance in &mut instances {
            rounds.push(instance.round(Duration::from_secs(60)).await);
        }
        for round in &rounds {
            assert_eq!(round.failed, 0, "every caller is served: {}", round.line);
            assert_eq!(round.served, TASKS, "{}", round.line);
            assert_eq!(round.distinct, 1, "one token per process: {}", round.line);
            assert_eq!(round.generation, 1 + rotation, "{}", round.line);
            assert_eq!(
                round.fingerprint, rounds[0].fingerprint,
                "every process holds the same token"
            );
        }
        assert_eq!(
            fake.refresh_count(),
            rotation as usize,
            "exactly one refresh request per rotation across {PROCESSES} processes"
        );
        assert_eq!(
            fake.answered_count(Operation::Refresh, 422),
            0,
            "no spent token was ever sent"
        );
    }
    assert_eq!(
        fake.answered_count(Operation::Refresh, 201),
        ROTATIONS as usize
    );
}
