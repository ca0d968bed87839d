//! The example's promise that every run of its page starts with a short-lived token, so
//! the page's refresh comes within seconds each time, not only the first.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::InProcessCoordinator;
use signalwire_fabric_fake::{FakeSpace, Operation, SimulatedTime};

use crate::common::{Answer, http_client, now_ms};
use crate::demo::{Demo, DemoSettings, TOKENS_MOUNT};

#[tokio::test(start_paused = true)]
async fn every_run_of_the_demo_page_starts_with_a_token_of_the_demos_lifetime() {
    let fake = FakeSpace::start().await;
    let time = SimulatedTime::new(&fake);
    let settings = DemoSettings::default();
    let demo = Demo::new(
        fake.client(),
        Arc::new(InProcessCoordinator::new()),
        settings,
    );
    let instance = demo
        .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the demo starts");
    let http = http_client();
    let sign_in = || {
        let request = http
            .post(format!("{}/login", instance.url()))
            .header("content-type", "application/json")
            .body(r#"{"user": "alice"}"#);
        async move {
            let answer = request.send().await.expect("signed in");
            answer
                .headers()
                .get("set-cookie")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(';').next())
                .expect("a session cookie")
                .to_owned()
        }
    };
    let ask = |cookie: &str, endpoint: &str| {
        let request = http
            .post(format!("{}{TOKENS_MOUNT}/{endpoint}", instance.url()))
            .header("content-type", "application/json")
            .header("cookie", cookie)
            .body("{}");
        async move { Answer::read(request.send().await.expect("answered")).await }
    };
    // The wall clock stands still while tokio's is advanced: an expiry is read as the
    // time left on tokio's clock.
    let lifetime = settings.token_lifetime.as_millis() as u64;
    let lives_as_the_demo_says = |answer: &Answer| {
        let left = answer.expiry_at().saturating_sub(now_ms());
        left > lifetime - 1_000 && left <= lifetime + 2_000
    };

    for run in 1..=3 {
        // The page signs in, gets a token, and refreshes 5 s before its expiry.
        let cookie = time.hold(sign_in()).await;
        let first = time.hold(ask(&cookie, "authenticate")).await;
        assert!(
            lives_as_the_demo_says(&first),
            "run {run}: the first token lives about {lifetime} ms, not until {} (now {})",
            first.expiry_at(),
            now_ms()
        );
        time.advance(settings.token_lifetime - Duration::from_secs(5))
            .await;
        let refreshed = time.hold(ask(&cookie, "refresh")).await;
        assert!(
            refreshed.token() != first.token(),
            "run {run}: the refresh gave a new token"
        );
        assert_eq!(fake.answered_count(Operation::Refresh, 201), run);
    }
    assert_eq!(fake.request_count(Operation::Create), 3, "one per run");
}
