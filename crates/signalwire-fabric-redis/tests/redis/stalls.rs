//! A lease holder held up past its lease, with two and three siblings, each an OS process
//! of its own, against the fake's single-use refresh tokens (issue 19): every sibling that
//! sends the spent token is refused once, learns that a pair is still on its way, and
//! adopts it when the holder stores it. Before issue 19, the second sibling was told
//! nothing (the first one's grant and release had erased the holder's mark), looked once
//! and ended with `SessionEnded`.
//!
//! Each case runs with the siblings coming due on schedule (a due pair, plain
//! `access_token()`) and reporting a refused token (`refresh_if_current`).

use std::time::Duration;

use signalwire_fabric::{Coordinator, testing};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};
use tokio::time::Instant;

use crate::multi_process::setup;
use crate::support::instances::{Instance, Mode, Round, Setup};
use crate::support::{RedisServer, signal};

const LEASE: Duration = Duration::from_millis(1500);
const WITHIN: Duration = Duration::from_secs(30);
const TASKS: usize = 2;

/// How the siblings come to refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The pair is due: a plain `access_token()` refreshes.
    Schedule,
    /// Every task reports its token refused.
    Refused,
}

impl Trigger {
    fn start(self, instance: &mut Instance) {
        match self {
            Trigger::Schedule => instance.due(),
            Trigger::Refused => instance.go(),
        }
    }
}

/// Creates a subscriber token on the fake and publishes its pair (due now, for
/// [`Trigger::Schedule`]) as generation 1.
async fn publish(setup: &Setup, trigger: Trigger) {
    let created = testing::create_subscriber_token(&setup.client(), "stalled@example.com").await;
    let pair = match trigger {
        Trigger::Schedule => testing::due_now(&created.pair),
        Trigger::Refused => created.pair,
    };
    let generation = setup
        .coordinator()
        .publish(&setup.key, &pair.to_stored())
        .await
        .expect("Redis stores it");
    assert_eq!(generation, 1);
}

/// Waits until the fake has refused `count` refresh requests.
async fn refusals(fake: &FakeSpace, count: usize) {
    let started = Instant::now();
    while fake.answered_count(Operation::Refresh, 422) < count {
        assert!(
            started.elapsed() < WITHIN,
            "{} refusals, {count} expected",
            fake.answered_count(Operation::Refresh, 422)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Spawns `count` plain siblings and waits until each has joined.
async fn siblings(setup: &Setup, count: usize) -> Vec<Instance> {
    let mut siblings: Vec<Instance> = (0..count)
        .map(|_| Instance::spawn(setup, TASKS, Mode::Plain))
        .collect();
    for sibling in &mut siblings {
        sibling.expect("joined", WITHIN).await;
    }
    siblings
}

/// Every instance's round: nobody failed, everyone holds generation 2 and one token.
async fn everyone_adopted(instances: &mut [&mut Instance], fake: &FakeSpace, refused: usize) {
    let mut rounds: Vec<Round> = Vec::new();
    for instance in instances.iter_mut() {
        rounds.push(instance.round(WITHIN).await);
    }
    for round in &rounds {
        assert_eq!(round.failed, 0, "no session ended: {}", round.line);
        assert_eq!(round.generation, 2, "{}", round.line);
        assert_eq!(round.fingerprint, rounds[0].fingerprint, "{}", round.line);
    }
    assert_eq!(
        fake.answered_count(Operation::Refresh, 201),
        1,
        "one exchange"
    );
    assert_eq!(
        fake.answered_count(Operation::Refresh, 422),
        refused,
        "one refusal per instance that sent the spent token"
    );
}

/// The holder is stopped (SIGSTOP) after SignalWire answered, before it stores the pair;
/// its lease runs out; `count` siblings come due, take the lease over one after another
/// and are refused; then the holder resumes (SIGCONT) and stores its pair.
async fn holder_stopped_after_its_answer(test: &str, count: usize, trigger: Trigger) {
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, LEASE);
    publish(&setup, trigger).await;
    let mut holder = Instance::spawn(&setup, 1, Mode::PauseAfterAnswer(Duration::from_secs(1)));
    holder.expect("joined", WITHIN).await;
    let mut siblings = siblings(&setup, count).await;

    trigger.start(&mut holder);
    holder.expect("answered", WITHIN).await;
    signal(holder.pid(), "STOP");
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    for sibling in &mut siblings {
        trigger.start(sibling);
    }
    refusals(&fake, count).await;
    signal(holder.pid(), "CONT");

    let mut all: Vec<&mut Instance> = std::iter::once(&mut holder)
        .chain(siblings.iter_mut())
        .collect();
    everyone_adopted(&mut all, &fake, count).await;
}

/// SignalWire answers the holder later than its lease lasts (it spends the token when
/// the request arrives); `count` siblings take over and are refused meanwhile.
async fn answer_later_than_the_lease(test: &str, count: usize, trigger: Trigger) {
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, LEASE);
    publish(&setup, trigger).await;
    let mut holder = Instance::spawn(&setup, 1, Mode::Plain);
    holder.expect("joined", WITHIN).await;
    let mut siblings = siblings(&setup, count).await;
    fake.inject(
        Operation::Refresh,
        Fault::delay(Duration::from_millis(2200)),
        1,
    );

    trigger.start(&mut holder);
    let started = Instant::now();
    while fake.refresh_count() == 0 {
        assert!(started.elapsed() < WITHIN);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    for sibling in &mut siblings {
        trigger.start(sibling);
    }

    let mut all: Vec<&mut Instance> = std::iter::once(&mut holder)
        .chain(siblings.iter_mut())
        .collect();
    everyone_adopted(&mut all, &fake, count).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_siblings_adopt_the_pair_of_a_holder_stopped_after_its_answer_on_schedule() {
    let test =
        "stalls::two_siblings_adopt_the_pair_of_a_holder_stopped_after_its_answer_on_schedule";
    holder_stopped_after_its_answer(test, 2, Trigger::Schedule).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_siblings_adopt_the_pair_of_a_holder_stopped_after_its_answer_on_schedule() {
    let test =
        "stalls::three_siblings_adopt_the_pair_of_a_holder_stopped_after_its_answer_on_schedule";
    holder_stopped_after_its_answer(test, 3, Trigger::Schedule).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_siblings_reporting_a_refusal_adopt_the_pair_of_a_holder_stopped_after_its_answer() {
    let test = "stalls::two_siblings_reporting_a_refusal_adopt_the_pair_of_a_holder_stopped_after_its_answer";
    holder_stopped_after_its_answer(test, 2, Trigger::Refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_siblings_reporting_a_refusal_adopt_the_pair_of_a_holder_stopped_after_its_answer() {
    let test = "stalls::three_siblings_reporting_a_refusal_adopt_the_pair_of_a_holder_stopped_after_its_answer";
    holder_stopped_after_its_answer(test, 3, Trigger::Refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_siblings_adopt_a_pair_signalwire_answered_later_than_the_lease_on_schedule() {
    let test =
        "stalls::two_siblings_adopt_a_pair_signalwire_answered_later_than_the_lease_on_schedule";
    answer_later_than_the_lease(test, 2, Trigger::Schedule).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_siblings_adopt_a_pair_signalwire_answered_later_than_the_lease_on_schedule() {
    let test =
        "stalls::three_siblings_adopt_a_pair_signalwire_answered_later_than_the_lease_on_schedule";
    answer_later_than_the_lease(test, 3, Trigger::Schedule).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_siblings_reporting_a_refusal_adopt_a_pair_signalwire_answered_later_than_the_lease() {
    let test = "stalls::two_siblings_reporting_a_refusal_adopt_a_pair_signalwire_answered_later_than_the_lease";
    answer_later_than_the_lease(test, 2, Trigger::Refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_siblings_reporting_a_refusal_adopt_a_pair_signalwire_answered_later_than_the_lease()
{
    let test = "stalls::three_siblings_reporting_a_refusal_adopt_a_pair_signalwire_answered_later_than_the_lease";
    answer_later_than_the_lease(test, 3, Trigger::Refused).await;
}

/// The model's second finding: a holder whose request leaves after its lease ran out (a
/// pause before sending, or a request that reaches SignalWire late). A successor took the
/// lease over, spent the token and is stopped (SIGSTOP) before storing its pair; the late
/// request is refused. The late holder took nothing over, but its release tells it
/// another holder is in flight, so it looks for that pair instead of ending; so do the
/// `count - 2` siblings refused after it. Everyone adopts once the successor resumes.
async fn request_after_the_lease(test: &str, count: usize) {
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, LEASE);
    publish(&setup, Trigger::Schedule).await;
    let mut late = Instance::spawn(&setup, 1, Mode::PauseBeforeSending(LEASE * 2));
    let mut successor = Instance::spawn(&setup, 1, Mode::PauseAfterAnswer(Duration::from_secs(1)));
    late.expect("joined", WITHIN).await;
    successor.expect("joined", WITHIN).await;
    let mut others = siblings(&setup, count - 2).await;

    late.due();
    late.expect("refreshing", WITHIN).await;
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    successor.due();
    successor.expect("answered", WITHIN).await;
    signal(successor.pid(), "STOP");
    refusals(&fake, 1).await; // the late request
    for other in &mut others {
        other.due();
    }
    refusals(&fake, count - 1).await;
    signal(successor.pid(), "CONT");

    let mut all: Vec<&mut Instance> = [&mut late, &mut successor]
        .into_iter()
        .chain(others.iter_mut())
        .collect();
    everyone_adopted(&mut all, &fake, count - 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_after_its_lease_is_refused_and_its_holder_adopts_the_successors_pair() {
    let test = "stalls::a_request_sent_after_its_lease_is_refused_and_its_holder_adopts_the_successors_pair";
    request_after_the_lease(test, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_request_and_a_third_sibling_both_adopt_the_successors_pair() {
    let test = "stalls::a_late_request_and_a_third_sibling_both_adopt_the_successors_pair";
    request_after_the_lease(test, 3).await;
}
