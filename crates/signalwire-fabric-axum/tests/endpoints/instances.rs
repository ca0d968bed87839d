//! Several instances of the example backend, on their own loopback ports, sharing one
//! coordinator: a user's requests may land on any of them, and each rotation of the
//! user's pair costs one upstream refresh between them all.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::{Coordinator, InProcessCoordinator, RateLimit};
use signalwire_fabric_fake::{FakeSpace, Operation, SimulatedTime};

use crate::common::{Answer, http_client, now_ms};
use crate::demo::{Demo, DemoSettings, Instance, TOKENS_MOUNT};
use crate::sign_in::{session_cookie, sign_in_request};

/// Serves `count` instances of the demo backend sharing `coordinator` (and, as a real
/// app's instances would, its sign-in store), signs alice in, and walks her pair through
/// four rotations with her requests spread over the instances: one after another,
/// starting on a different instance each time, and in the last rotation all at once.
/// Checks that every rotation costs exactly one upstream refresh and that all instances
/// answer the same token.
///
/// Runs on tokio's paused clock (the caller's test says `start_paused = true`), with
/// [`SimulatedTime`] moving the fake's clock along and holding tokio's still while a
/// request is in flight. Any [`Coordinator`] whose leases work on that clock can be
/// checked with it.
pub async fn one_upstream_refresh_per_rotation(coordinator: Arc<dyn Coordinator>, count: usize) {
    one_upstream_refresh_per_rotation_with(coordinator, count, DemoSettings::default()).await;
}

async fn one_upstream_refresh_per_rotation_with(
    coordinator: Arc<dyn Coordinator>,
    count: usize,
    settings: DemoSettings,
) {
    let fake = FakeSpace::start().await;
    let time = SimulatedTime::new(&fake);
    let demo = Demo::new(fake.client(), coordinator, settings);
    let mut instances: Vec<Instance> = Vec::new();
    for _ in 0..count {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        instances.push(demo.serve(any_port).await.expect("an instance starts"));
    }
    let ports: HashSet<u16> = instances
        .iter()
        .map(|instance| instance.addr.port())
        .collect();
    assert_eq!(ports.len(), count, "each instance has its own port");
    let http = http_client();

    let login = time
        .hold(sign_in_request(&http, &instances[0].url(), "alice").send())
        .await
        .expect("signed in");
    let cookie = session_cookie(&login);
    let ask = |instance: &Instance, endpoint: &str| {
        let request = http
            .post(format!("{}{TOKENS_MOUNT}/{endpoint}", instance.url()))
            .header("content-type", "application/json")
            .header("cookie", &cookie)
            .body("{}");
        async move { Answer::read(request.send().await.expect("answered")).await }
    };

    // The first token comes from whichever instance is asked; the others join it.
    let first = time.hold(ask(&instances[count - 1], "authenticate")).await;
    let mut token = first.token().to_owned();
    let mut expiry_at = first.expiry_at();
    // `expiry_at` is the wall clock plus the time left on tokio's clock, and tokio's
    // clock is ahead of the wall clock by what the test advanced: compare expiries on
    // the simulated clock.
    let simulated = |expiry_at: u64| expiry_at + fake.clock().offset().as_millis() as u64;
    let mut simulated_expiry = simulated(expiry_at);
    for (number, instance) in instances.iter().enumerate() {
        let answer = time.hold(ask(instance, "authenticate")).await;
        // Compared without printing: a failure message must not show a token.
        assert!(
            answer.token() == token,
            "instance {number} answers another subscriber token"
        );
    }
    assert_eq!(fake.request_count(Operation::Create), 1);
    assert_eq!(fake.refresh_count(), 0);

    for rotation in 1..=4usize {
        // As the browser SDK does: ask 5 s before expiry.
        let wait = expiry_at.saturating_sub(now_ms() + 5_000);
        time.advance(Duration::from_millis(wait)).await;
        let answers = if rotation < 4 {
            let mut answers = Vec::new();
            for turn in 0..2 * count {
                let instance = &instances[(rotation + turn) % count];
                answers.push(time.hold(ask(instance, "refresh")).await);
            }
            answers
        } else {
            let all_at_once = (0..4 * count).map(|turn| ask(&instances[turn % count], "refresh"));
            ticking(&time, futures_util::future::join_all(all_at_once)).await
        };
        let tokens: HashSet<&str> = answers.iter().map(Answer::token).collect();
        assert_eq!(
            tokens.len(),
            1,
            "rotation {rotation}: every instance answers the same token"
        );
        let newer = answers[0].token().to_owned();
        assert_ne!(newer, token, "rotation {rotation} gave a new token");
        let newer_expiry = simulated(answers[0].expiry_at());
        assert!(
            newer_expiry > simulated_expiry + 60 * 60 * 1000,
            "rotation {rotation}: an expiry two hours on, not {newer_expiry} after {simulated_expiry}"
        );
        assert_eq!(
            fake.answered_count(Operation::Refresh, 201),
            rotation,
            "rotation {rotation}: one upstream refresh per rotation"
        );
        assert_eq!(
            fake.refresh_count(),
            rotation,
            "no refresh was refused or repeated"
        );
        token = newer;
        expiry_at = answers[0].expiry_at();
        simulated_expiry = newer_expiry;
    }
    assert_eq!(
        fake.request_count(Operation::Create),
        1,
        "one subscriber token all along"
    );
}

/// Runs `future` with the clock held, but moving it 5 ms for every real millisecond: the
/// sessions that find a sibling refreshing poll the coordinator on timers, which a held
/// clock would never fire.
async fn ticking<F: std::future::Future>(time: &SimulatedTime, future: F) -> F::Output {
    let mut held = std::pin::pin!(time.hold(future));
    loop {
        let real_millisecond =
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)));
        tokio::select! {
            output = &mut held => return output,
            _ = real_millisecond => time.advance(Duration::from_millis(5)).await,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn two_instances_sharing_an_in_process_coordinator_refresh_once_per_rotation() {
    one_upstream_refresh_per_rotation(Arc::new(InProcessCoordinator::new()), 2).await;
}

#[tokio::test(start_paused = true)]
async fn three_instances_sharing_an_in_process_coordinator_refresh_once_per_rotation() {
    one_upstream_refresh_per_rotation(Arc::new(InProcessCoordinator::new()), 3).await;
}

/// The same walk with the instances meeting in a real Redis (through one
/// `RedisCoordinator`; `signalwire-fabric-redis`'s multi-process test has separate
/// processes with their own connections). Redis's lease expiry runs on the server's
/// clock, not tokio's; no lease outlives its rotation here, so the paused clock does not
/// matter to it. The rate limiter is Redis's too, on its real clock, which sees the
/// walk's eight simulated hours as a second or so: the limit is raised above the 40-odd
/// requests the walk makes (rate limits across instances have tests of their own).
async fn sharing_one_redis(count: usize) {
    let test = "instances sharing one redis";
    let Some(server) = signalwire_fabric_redis::testing::RedisServer::start(test) else {
        return; // said SKIPPED (and panics under CI=true instead)
    };
    let coordinator = server.coordinator().build().expect("a loopback Redis URL");
    let settings = DemoSettings {
        rate_limit: RateLimit::new(NonZeroU32::new(100).expect("100"), Duration::from_secs(60)),
        ..DemoSettings::default()
    };
    one_upstream_refresh_per_rotation_with(Arc::new(coordinator), count, settings).await;
}

#[tokio::test(start_paused = true)]
async fn two_instances_sharing_one_redis_refresh_once_per_rotation() {
    sharing_one_redis(2).await;
}

#[tokio::test(start_paused = true)]
async fn three_instances_sharing_one_redis_refresh_once_per_rotation() {
    sharing_one_redis(3).await;
}
