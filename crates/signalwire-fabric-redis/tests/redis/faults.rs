//! Faults, each its own test. Each says what is lost and how the session recovers; the
//! same words are in SECURITY.md ("Sessions shared through Redis").

use std::time::Duration;

use signalwire_fabric::{
    AccessToken, Coordinator, Error, LeaseOutcome, SessionKey, SubscriberSession, testing,
};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation, RotationPolicy};
use signalwire_fabric_redis::{RedisCoordinator, redis};
use tokio::time::Instant;

use crate::multi_process::setup;
use crate::support::doubles::{fingerprint, text};
use crate::support::instances::{Instance, Mode, Setup, publish_created, publish_new_pair};
use crate::support::sessions::rotate;
use crate::support::{RedisServer, signal};

const LEASE: Duration = Duration::from_millis(1500);
const WITHIN: Duration = Duration::from_secs(30);

/// The pair Redis holds for `setup`'s subscriber.
async fn stored(setup: &Setup) -> signalwire_fabric::SharedPair {
    setup
        .coordinator()
        .load(&setup.key)
        .await
        .expect("Redis answers")
        .expect("a pair is stored")
}

/// Where most fault tests start: Redis for `test`, the children's settings for it and
/// `fake` (leases of `lease`), and a pair the fake created for `email`, published as
/// generation 1. `None` (said SKIPPED) without `redis-server`.
async fn shared(
    test: &str,
    fake: &FakeSpace,
    lease: Duration,
    email: &str,
) -> Option<(RedisServer, Setup)> {
    let server = RedisServer::start(test)?;
    let setup = setup(fake, &server, lease);
    publish_created(&setup, email).await;
    Some((server, setup))
}

/// A sibling session with the token it was served, and a child instance holding the
/// lease, stopped where `word` says (see [`Instance::holding_the_lease`]): both share a
/// pair `fake` created for `email`, through Redis.
struct Rivals {
    _server: RedisServer,
    fake: FakeSpace,
    setup: Setup,
    sibling: SubscriberSession,
    old: AccessToken,
    holder: Instance,
}

impl Rivals {
    /// The rivals for `test`; `None` (said SKIPPED) without `redis-server`.
    async fn start(
        test: &str,
        fake: FakeSpace,
        email: &str,
        mode: Mode,
        word: &str,
    ) -> Option<Self> {
        let (server, setup) = shared(test, &fake, LEASE, email).await?;
        let sibling = setup.join(setup.client()).await;
        let old = sibling.access_token().await.expect("valid");
        let holder = Instance::holding_the_lease(&setup, mode, word).await;
        Some(Self {
            _server: server,
            fake,
            setup,
            sibling,
            old,
            holder,
        })
    }
}

/// Lost: nothing. The holder died holding the lease before its request left, so the
/// refresh token is unspent; the sibling waits until the lease expires (at most one lease
/// length), takes it over and refreshes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_before_sending_loses_nothing_and_a_sibling_refreshes_after_its_lease() {
    let test = "faults::a_holder_killed_before_sending_loses_nothing_and_a_sibling_refreshes_after_its_lease";
    let Some(mut at) = Rivals::start(
        test,
        FakeSpace::start().await,
        "killed-before@example.com",
        Mode::PauseBeforeSending(Duration::from_secs(60)),
        "refreshing",
    )
    .await
    else {
        return;
    };
    at.holder.kill(); // SIGKILL, holding the lease
    let killed_at = Instant::now();

    let new = at
        .sibling
        .refresh_if_current(&at.old)
        .await
        .expect("refreshed");
    assert_ne!(text(&new), text(&at.old));
    assert!(
        killed_at.elapsed() < LEASE + Duration::from_secs(2),
        "the sibling waited at most about a lease: {:?}",
        killed_at.elapsed()
    );
    assert_eq!(at.fake.refresh_count(), 1, "one refresh, by the sibling");
    assert_eq!(at.fake.answered_count(Operation::Refresh, 422), 0);
    let shared = stored(&at.setup).await;
    assert_eq!(shared.generation, 2);
    assert_eq!(shared.pair.access_token().expose_secret(), text(&new));
}

/// Lost: the pair SignalWire issued to the killed holder, and with it the subscriber's
/// token chain (its refresh token was spent, the new one died with the process).
/// Recovery: the sibling takes the lease over once it expires, sends the spent token
/// (one refusal), waits a lease length for the dead holder's pair, then ends with
/// `SessionEnded { reason: Refused }` (`requires_new_subscriber_token()`); creating a
/// subscriber token and publishing it starts a new chain every instance can join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_after_the_answer_loses_the_chain_and_the_sibling_ends_clearly() {
    let test =
        "faults::a_holder_killed_after_the_answer_loses_the_chain_and_the_sibling_ends_clearly";
    let Some(mut at) = Rivals::start(
        test,
        FakeSpace::start().await,
        "killed-after@example.com",
        Mode::PauseAfterAnswer(Duration::from_secs(60)),
        "answered",
    )
    .await
    else {
        return;
    };
    at.holder.kill(); // SIGKILL between the answer and the commit

    let started = Instant::now();
    let error = at
        .sibling
        .refresh_if_current(&at.old)
        .await
        .expect_err("the chain is gone");
    testing::assert_ended_by_refusal(&error);
    assert!(
        started.elapsed() >= LEASE,
        "the sibling looked for the dead holder's pair for a lease: {:?}",
        started.elapsed()
    );
    assert_eq!(
        at.fake.answered_count(Operation::Refresh, 201),
        1,
        "the holder's"
    );
    assert_eq!(
        at.fake.answered_count(Operation::Refresh, 422),
        1,
        "the sibling's"
    );
    assert_eq!(stored(&at.setup).await.generation, 1, "nothing was stored");

    // Recovery: a new subscriber token, published, joined and refreshed as usual.
    let (_, generation) = publish_new_pair(
        &at.setup.client(),
        &at.setup.coordinator(),
        &at.setup.key,
        "killed-after@example.com",
    )
    .await;
    assert_eq!(generation, 2);
    let again = at.setup.join(at.setup.client()).await;
    let token = again.access_token().await.expect("the new pair");
    let rotated = again.refresh_if_current(&token).await.expect("refreshed");
    assert_ne!(text(&rotated), text(&token));
    assert_eq!(stored(&at.setup).await.generation, 3);
}

/// Lost: nothing. With refresh tokens the server lets be reused, a holder stopped
/// (SIGSTOP) after its answer and before its commit, past its lease, and a sibling that
/// took the lease over both get a pair. The sibling commits first; when the stopped holder
/// resumes (SIGCONT), its commit is refused by the generation fence, it adopts the
/// sibling's pair, and the stored pair never goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_stopped_past_its_lease_is_fenced_off_when_resumed_and_adopts() {
    let test = "faults::a_holder_stopped_past_its_lease_is_fenced_off_when_resumed_and_adopts";
    let fake = FakeSpace::builder()
        .rotation(RotationPolicy::Reusable)
        .start()
        .await
        .expect("the fake starts");
    let Some(mut at) = Rivals::start(
        test,
        fake,
        "stopped@example.com",
        Mode::PauseAfterAnswer(Duration::from_secs(2)),
        "answered",
    )
    .await
    else {
        return;
    };
    signal(at.holder.pid(), "STOP");

    let new = at
        .sibling
        .refresh_if_current(&at.old)
        .await
        .expect("refreshed");
    assert_eq!(stored(&at.setup).await.generation, 2);
    signal(at.holder.pid(), "CONT");
    let round = at.holder.round(WITHIN).await;
    assert_eq!(
        round.generation, 2,
        "the late commit added nothing: {}",
        round.line
    );
    assert_eq!(
        round.fingerprint,
        fingerprint(&new),
        "the resumed holder adopted the sibling's pair"
    );
    let shared = stored(&at.setup).await;
    assert_eq!(shared.generation, 2);
    assert_eq!(shared.pair.access_token().expose_secret(), text(&new));
    assert_eq!(
        at.fake.answered_count(Operation::Refresh, 201),
        2,
        "both exchanged"
    );
}

/// Lost: nothing. Redis restarts without its data between rotations. Each instance's
/// first command after it fails (its connection dropped) and is retried; the first lease
/// is granted on an empty store, and its commit stores `max(stored, seen) + 1`, so
/// generations continue from what the sessions had seen, and everyone adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_run_keeps_one_refresh_per_rotation_and_generations_growing() {
    let test =
        "faults::redis_restarted_mid_run_keeps_one_refresh_per_rotation_and_generations_growing";
    let fake = FakeSpace::start().await;
    let Some((mut server, setup)) = shared(test, &fake, LEASE, "restart@example.com").await else {
        return;
    };
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(setup.join(setup.client()).await);
    }
    for rotation in 1..=4u64 {
        if rotation == 3 {
            server.restart();
        }
        let refused = sessions[0].access_token().await.expect("valid");
        let mut served = std::collections::HashSet::new();
        let turns: Vec<_> = sessions
            .iter()
            .map(|session| {
                let session = session.clone();
                let refused = refused.clone();
                tokio::spawn(async move { rotate(&session, &refused).await })
            })
            .collect();
        for turn in turns {
            served.insert(text(&turn.await.expect("no panic")));
        }
        assert_eq!(served.len(), 1, "one token for everyone");
        assert_eq!(
            fake.refresh_count(),
            rotation as usize,
            "one refresh per rotation"
        );
        assert_eq!(fake.answered_count(Operation::Refresh, 422), 0);
        for session in &sessions {
            assert_eq!(session.status().generation, 1 + rotation);
        }
    }
    assert_eq!(stored(&setup).await.generation, 5);
}

/// Lost: the chain of an instance that had not adopted the newest pair yet. Redis loses
/// its data after a rotation that one instance had not come due for: that instance still
/// holds the spent pair, the empty store has nothing newer to give it, so its next
/// refresh is refused and it ends with `SessionEnded { reason: Refused }`. The instance
/// that holds the newest pair goes on, and its next commit continues the generations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_its_data_strands_an_instance_that_had_not_adopted_the_newest_pair() {
    let test =
        "faults::redis_losing_its_data_strands_an_instance_that_had_not_adopted_the_newest_pair";
    let fake = FakeSpace::start().await;
    let Some((server, setup)) = shared(test, &fake, LEASE, "stranded@example.com").await else {
        return;
    };
    let current = setup.join(setup.client()).await;
    let behind = setup.join(setup.client()).await;
    let old = current.access_token().await.expect("valid");
    let new = current.refresh_if_current(&old).await.expect("refreshed");
    server.command(&[b"FLUSHALL"]).await;

    let error = behind.refresh_if_current(&old).await.expect_err("stranded");
    testing::assert_ended_by_refusal(&error);
    assert_eq!(fake.answered_count(Operation::Refresh, 422), 1);
    let newer = current.refresh_if_current(&new).await.expect("goes on");
    assert_ne!(text(&newer), text(&new));
    assert_eq!(current.status().generation, 3, "max(stored 0, seen 2) + 1");
    assert_eq!(stored(&setup).await.generation, 3);
}

/// A joined session whose access token has expired (its refresh token has not): the
/// pair published for `key` was made due.
async fn due_session(setup: &Setup, fake: &FakeSpace, email: &str) -> (Setup, SubscriberSession) {
    let setup = Setup {
        key: SessionKey::new(format!("{}-due", setup.key)).expect("valid"),
        ..setup.clone()
    };
    let created = testing::create_subscriber_token(&fake.client(), email).await;
    setup
        .coordinator()
        .publish(&setup.key, &testing::due_now(&created.pair).to_stored())
        .await
        .expect("published");
    let session = setup.join(fake.client()).await;
    (setup, session)
}

/// Lost: nothing. While Redis is down, a session with a valid access token keeps serving
/// it (the cached read never touches Redis; a refresh that cannot get the lease is not
/// sent); a caller whose token has expired gets a retryable `Error::Coordinator` at once.
/// Nothing is refreshed without the lease. Once Redis is back (empty), each subscriber
/// is refreshed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_at_refresh_time_serves_valid_tokens_refreshes_nothing_and_recovers() {
    let test = "faults::redis_unreachable_at_refresh_time_serves_valid_tokens_refreshes_nothing_and_recovers";
    let fake = FakeSpace::start().await;
    let Some((mut server, setup)) = shared(test, &fake, LEASE, "valid@example.com").await else {
        return;
    };
    let valid = setup.join(setup.client()).await;
    let token = valid.access_token().await.expect("valid");
    let (due_setup, due) = due_session(&setup, &fake, "due@example.com").await;

    server.kill();
    for _ in 0..3 {
        let served = valid.access_token().await.expect("still valid");
        assert_eq!(text(&served), text(&token));
    }
    let started = Instant::now();
    // Reported refused, the token is not handed back: the caller learns why no newer one
    // can be had, while callers that saw no refusal are still served it.
    let reported = valid
        .refresh_if_current(&token)
        .await
        .expect_err("no refresh without the lease");
    assert!(
        matches!(reported, Error::Coordinator { .. }) && reported.is_retryable(),
        "{reported:?}"
    );
    let served = valid.access_token().await.expect("still valid");
    assert_eq!(
        text(&served),
        text(&token),
        "the attempt failed; the token is served"
    );
    let error = due
        .access_token()
        .await
        .expect_err("no valid token and no lease");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert!(error.is_retryable() && !error.may_have_reached_server());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.refresh_count(), 0, "never a refresh without the lease");

    server.start_again();
    let recovered = {
        let started = Instant::now();
        loop {
            match due.access_token().await {
                Ok(token) => break token,
                Err(error) => {
                    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
                    assert!(started.elapsed() < WITHIN);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    };
    let rotated = rotate(&valid, &token).await;
    assert_ne!(text(&rotated), text(&token));
    assert_eq!(fake.refresh_count(), 2, "each subscriber refreshed once");
    assert_eq!(fake.answered_count(Operation::Refresh, 422), 0);
    assert_eq!(
        stored(&due_setup).await.pair.access_token().expose_secret(),
        text(&recovered)
    );
    assert_eq!(
        due.status().generation,
        2,
        "generations continue past the empty store"
    );
}

/// Lost: nothing. A Redis that accepts connections but does not answer (SIGSTOP) costs a
/// caller at most the connection and response timeouts: then a retryable
/// `Error::Coordinator`, and nothing is sent. Once it answers again, the refresh happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_does_not_answer_fails_within_the_timeouts_and_sends_nothing() {
    let test = "faults::a_redis_that_does_not_answer_fails_within_the_timeouts_and_sends_nothing";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, LEASE);
    let (_, due) = due_session(&setup, &fake, "hung@example.com").await;

    server.pause();
    let started = Instant::now();
    let error = due.access_token().await.expect_err("Redis does not answer");
    let waited = started.elapsed();
    server.resume();
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    assert!(error.is_retryable());
    // The test's coordinators allow 500 ms to connect and 500 ms per answer.
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "bounded by the timeouts: {waited:?}"
    );
    assert_eq!(fake.refresh_count(), 0);

    let started = Instant::now();
    loop {
        match due.access_token().await {
            Ok(_) => break,
            Err(_) => {
                assert!(started.elapsed() < WITHIN);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert_eq!(fake.refresh_count(), 1);
}

/// Lost: nothing; one spent token is sent. The holder's request reaches the fake (which
/// spends the token) but the answer comes back later than the lease lasts. A sibling
/// takes the lease over, sends the spent token and is refused; because its lease was
/// taken over, it keeps looking for the holder's pair for a lease length, finds it when
/// the late answer is committed (nobody else stored anything, so the fence lets it in),
/// and adopts it. Keep the lease longer than the client's timeout (the defaults are 45 s
/// and 30 s) and this cannot happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_delay_longer_than_the_lease_costs_one_refusal_and_the_sibling_adopts() {
    let test =
        "faults::a_network_delay_longer_than_the_lease_costs_one_refusal_and_the_sibling_adopts";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, Duration::from_secs(2));
    publish_created(&setup, "slow@example.com").await;
    let holder = setup.join(setup.client()).await;
    let sibling = setup.join(setup.client()).await;
    let old = holder.access_token().await.expect("valid");
    fake.inject(Operation::Refresh, Fault::delay(Duration::from_secs(3)), 1);

    let slow = {
        let holder = holder.clone();
        let old = old.clone();
        tokio::spawn(async move { holder.refresh_if_current(&old).await })
    };
    let started = Instant::now();
    while fake.refresh_count() == 0 {
        assert!(started.elapsed() < WITHIN);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let adopted = sibling.refresh_if_current(&old).await.expect("adopted");
    let refreshed = slow.await.expect("no panic").expect("refreshed late");
    assert_eq!(text(&adopted), text(&refreshed));
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
    assert_eq!(
        fake.answered_count(Operation::Refresh, 422),
        1,
        "the sibling's one refusal"
    );
    let shared = stored(&setup).await;
    assert_eq!(shared.generation, 2);
    assert_eq!(shared.pair.access_token().expose_secret(), text(&refreshed));
    assert_eq!(sibling.status().generation, 2);
}

/// How long the ghost-lease tests' leases last: long enough that waiting one out would
/// fail their bounds many times over.
const LONG_LEASE: Duration = Duration::from_secs(30);
/// How soon after Redis answers again a lease must be grantable.
const PROMPTLY: Duration = Duration::from_secs(3);

/// Asks for `key`'s lease through `coordinator` until it is granted; panics when that
/// takes longer than [`PROMPTLY`]. Answers the lease and how long it took.
async fn lease_promptly(
    coordinator: &RedisCoordinator,
    key: &SessionKey,
    seen: u64,
) -> (signalwire_fabric::Lease, Duration) {
    let started = Instant::now();
    loop {
        match coordinator.try_lease(key, seen, LONG_LEASE).await {
            Ok(LeaseOutcome::Granted(lease)) => return (lease, started.elapsed()),
            Ok(LeaseOutcome::Held { expires_in }) => assert!(
                started.elapsed() < PROMPTLY,
                "still held {:?} after Redis answers again, for {expires_in:?} more",
                started.elapsed()
            ),
            Ok(other) => panic!("nothing newer was stored: {other:?}"),
            Err(error) => assert!(
                started.elapsed() < PROMPTLY,
                "Redis still fails {:?} after it answers again: {error}",
                started.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Has Redis load the lease script, as any earlier rotation would have: a ghost needs a
/// server that knows the script (an unknown one is answered `NOSCRIPT`, and a client that
/// gave up does not send it again).
async fn load_the_lease_script(coordinator: &RedisCoordinator) {
    let key = crate::support::session_key("warm");
    let Ok(LeaseOutcome::Granted(lease)) = coordinator.try_lease(&key, 0, LONG_LEASE).await else {
        panic!("a lease on a new key is granted");
    };
    coordinator.release(&key, &lease).await.expect("released");
}

/// The owner value of `key`'s lease in Redis, if one is live.
async fn lease_owner(
    server: &RedisServer,
    coordinator: &RedisCoordinator,
    key: &SessionKey,
) -> Option<String> {
    let lease = coordinator.keys_of(key).lease;
    match server.command(&[b"GET", lease.as_bytes()]).await {
        redis::Value::BulkString(owner) => Some(String::from_utf8(owner).expect("text")),
        redis::Value::Nil => None,
        other => panic!("GET answered {other:?}"),
    }
}

/// Lost: nothing, and nobody waits out a lease. Redis is paused (SIGSTOP) while an
/// instance asks for the lease: its `try_lease` fails after the response timeout, but the
/// command is already in Redis's socket. When Redis resumes it runs it and grants a lease
/// to an owner nobody holds (a "ghost"). The coordinator sent, on the same connection, a
/// command that gives that owner's lease up, so it runs right after the ghost: another
/// instance (and the one that failed) gets the lease at once. Checked with a coordinator
/// on its own connection and one on the app's connection manager, with Redis paused for
/// longer than the give-up command's own response timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_granted_after_its_try_lease_timed_out_is_given_up_when_redis_resumes() {
    let test =
        "faults::a_lease_granted_after_its_try_lease_timed_out_is_given_up_when_redis_resumes";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let manager = redis::aio::ConnectionManager::new_with_config(
        server.client(),
        redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500))),
    )
    .await
    .expect("Redis answers");
    let instances = [
        (
            "own connection",
            server.coordinator().build().expect("valid"),
        ),
        (
            "the app's connection manager",
            RedisCoordinator::from_connection_manager(manager)
                .key_prefix(server.prefix.clone())
                .connection_timeout(Duration::from_millis(500))
                .response_timeout(Duration::from_millis(500))
                .build()
                .expect("valid"),
        ),
    ];
    for (how, instance) in instances {
        let key = crate::support::session_key("ghost");
        let sibling = server.coordinator().build().expect("valid");
        let (_, generation) =
            publish_new_pair(&fake.client(), &instance, &key, "ghost@example.com").await;
        load_the_lease_script(&instance).await;

        server.pause();
        let started = Instant::now();
        let error = instance
            .try_lease(&key, generation, LONG_LEASE)
            .await
            .expect_err("Redis is paused");
        assert!(
            matches!(error, Error::Coordinator { .. }),
            "{how}: {error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{how}: {:?}",
            started.elapsed()
        );
        // Longer than the give-up command's own response timeout too.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.resume();

        let (lease, waited) = lease_promptly(&sibling, &key, generation).await;
        assert_eq!(
            lease_owner(&server, &sibling, &key).await.as_deref(),
            Some(lease.owner()),
            "{how}: the sibling holds the lease"
        );
        assert_eq!(lease.base(), generation, "{how}");
        // The ghost's in-flight mark went with its lease (nothing can be sent under a
        // lease no session was given), and nobody else was in flight.
        assert!(
            !lease.taken_over(),
            "{how}: the give-up took the ghost's mark too"
        );
        sibling.release(&key, &lease).await.expect("released");
        let (again, _) = lease_promptly(&instance, &key, generation).await;
        assert!(!again.taken_over(), "{how}: the release cleared the mark");
        instance.release(&key, &again).await.expect("released");
        eprintln!("{how}: the sibling got the lease {waited:?} after Redis resumed");
    }
}

/// Lost: nothing. One `try_lease` is answered later than the response timeout because
/// Redis is busy (here with a script that runs for 1.2 s): the lease it is granted once
/// Redis gets to it is given up right after, so the next ask is granted instead of
/// waiting out a lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_try_lease_answered_after_the_response_timeout_leaves_no_lease_behind() {
    let test = "faults::a_try_lease_answered_after_the_response_timeout_leaves_no_lease_behind";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let key = crate::support::session_key("slow");
    let instance = server.coordinator().build().expect("valid");
    let (_, generation) =
        publish_new_pair(&fake.client(), &instance, &key, "slow@example.com").await;
    load_the_lease_script(&instance).await;

    let mut busy = server
        .client()
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new().set_response_timeout(None),
        )
        .await
        .expect("Redis answers");
    let busy = tokio::spawn(async move {
        redis::cmd("EVAL")
            .arg(BUSY_SCRIPT)
            .arg(0)
            .arg(1_200_000)
            .query_async::<redis::Value>(&mut busy)
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let error = instance
        .try_lease(&key, generation, LONG_LEASE)
        .await
        .expect_err("answered too late");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    // Redis runs the timed-out ask once the script ends, before anything sent later.
    busy.await.expect("no panic").expect("the busy script ran");
    let (lease, waited) = lease_promptly(&instance, &key, generation).await;
    assert_eq!(
        lease_owner(&server, &instance, &key).await.as_deref(),
        Some(lease.owner())
    );
    assert!(waited < PROMPTLY, "{waited:?}");
}

/// Keeps Redis busy for `ARGV[1]` microseconds, as a slow command would.
const BUSY_SCRIPT: &str = "
local started = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - started[1]) * 1000000 + now[2] - started[2] > tonumber(ARGV[1]) then
    return 1
  end
end
";

/// Lost: nothing. A session whose access token has expired asks for the lease while Redis
/// is paused, gets a retryable error within the timeouts, and once Redis resumes its next
/// call refreshes within moments, not after the lease (30 s here) the timed-out ask was
/// granted in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_session_refreshes_promptly_once_a_paused_redis_resumes() {
    let test = "faults::a_due_session_refreshes_promptly_once_a_paused_redis_resumes";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let fake = FakeSpace::start().await;
    let setup = setup(&fake, &server, LONG_LEASE);
    let (_, due) = due_session(&setup, &fake, "resumed@example.com").await;
    load_the_lease_script(&setup.coordinator()).await;

    server.pause();
    let error = due.access_token().await.expect_err("Redis is paused");
    assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.resume();

    let started = Instant::now();
    let token = loop {
        match tokio::time::timeout(PROMPTLY, due.access_token()).await {
            Ok(Ok(token)) => break token,
            Ok(Err(error)) => {
                assert!(matches!(error, Error::Coordinator { .. }), "{error:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => panic!("access_token blocked for {PROMPTLY:?} after Redis resumed"),
        }
        assert!(
            started.elapsed() < PROMPTLY,
            "no refresh within {PROMPTLY:?}"
        );
    };
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
    assert_eq!(fake.refresh_count(), 1, "one refresh, after Redis resumed");
    assert_eq!(due.status().generation, 2);
    assert!(!text(&token).is_empty());
}
