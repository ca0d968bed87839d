//! `SimulatedTime`: tokio's paused clock and the fake's clock moved together, and held
//! still while a request is with the fake.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use signalwire_fabric::{CreateSubscriberToken, Error};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation, SimulatedTime};

#[tokio::test(start_paused = true)]
async fn advance_moves_both_clocks_by_the_same_amount_and_fires_what_came_due() {
    let fake = FakeSpace::start().await;
    let time = SimulatedTime::new(&fake);
    let woke = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let woke = Arc::clone(&woke);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
            woke.store(true, Ordering::SeqCst);
        })
    };
    let start = tokio::time::Instant::now();
    // Let the sleeper start sleeping at `start`.
    tokio::task::yield_now().await;
    for _ in 0..2 {
        time.advance(Duration::from_secs(3600)).await;
    }
    assert_eq!(start.elapsed(), Duration::from_secs(2 * 3600));
    assert_eq!(fake.clock().offset(), Duration::from_secs(2 * 3600));
    tokio::task::yield_now().await;
    assert!(!woke.load(Ordering::SeqCst), "not due yet");
    time.advance(Duration::from_secs(3600)).await;
    sleeper.await.expect("the sleeper ends");
    assert!(woke.load(Ordering::SeqCst));
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(3 * 3600),
        "its timer came due with the advance; the clock did not move past it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_held_by_simulated_time_outlasts_a_timeout_the_paused_clock_would_jump_to() {
    // The fake answers 200 ms (real time) late; the client gives up after 50 ms of
    // tokio's time. Held, tokio's paused clock stays still and the answer arrives; not
    // held, the idle runtime jumps the clock to the timeout at once.
    let fake = FakeSpace::start().await;
    let time = SimulatedTime::new(&fake);
    let impatient = fake
        .client_builder()
        .timeout(Duration::from_millis(50))
        .build()
        .expect("a client");
    fake.inject(
        Operation::Create,
        Fault::delay(Duration::from_millis(200)),
        2,
    );

    let held = time
        .hold(
            impatient
                .subscriber_tokens()
                .create(CreateSubscriberToken::new("alice@example.com")),
        )
        .await;
    assert!(held.is_ok(), "{held:?}");

    let unheld = impatient
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("alice@example.com"))
        .await;
    assert!(
        matches!(unheld, Err(Error::Transport { .. })),
        "the paused clock jumped to the timeout: {unheld:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_session_refreshing_in_the_background_lives_through_eight_simulated_hours() {
    let fake = FakeSpace::start().await;
    let time = SimulatedTime::new(&fake);
    let client = fake.client();
    let created = time
        .hold(
            client
                .subscriber_tokens()
                .create(CreateSubscriberToken::new("alice@example.com")),
        )
        .await
        .expect("created");
    let session = client
        .session(created.pair)
        .refresh_ahead(Duration::from_secs(5 * 60))
        .jitter(Duration::ZERO)
        .build();
    let _auto = session.spawn_auto_refresh();
    let step = Duration::from_secs(5 * 60);
    for _ in 0..(8 * 12) {
        time.advance(step).await;
        let token = time
            .hold(session.access_token())
            .await
            .expect("always a token with time left");
        let expires_at = fake
            .token_expires_at(token.expose_secret())
            .expect("issued by the fake");
        assert!(
            expires_at > fake.clock().now(),
            "live on the fake's clock too"
        );
    }
    // Two-hour tokens refreshed five minutes early: at 1:55, 3:50, 5:45 and 7:40.
    assert_eq!(session.status().refreshes, 4);
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 4);
    assert_eq!(fake.refresh_count(), 4, "no refresh failed or was repeated");
    assert_eq!(fake.clock().offset(), Duration::from_secs(8 * 3600));
}
