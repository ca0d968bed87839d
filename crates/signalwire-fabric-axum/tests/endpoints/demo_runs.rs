//! The example's promises: every run of its page starts with a short-lived token, so the
//! page's refresh comes within seconds each time, not only the first; and without the
//! SDK's npm install (or with another version than `package.json` pins) it says what to
//! run instead of serving something else.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::InProcessCoordinator;
use signalwire_fabric_fake::{FakeSpace, Operation, SimulatedTime};

use crate::common::{Answer, http_client, now_ms};
use crate::demo::{Demo, DemoSettings, SdkInstall, TOKENS_MOUNT, install_command};
use crate::sign_in::{session_cookie, sign_in_request};

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
        let request = sign_in_request(&http, &instance.url(), "alice");
        async move { session_cookie(&request.send().await.expect("signed in")) }
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

#[tokio::test]
async fn without_the_sdks_npm_install_the_demo_says_what_to_run() {
    let fake = FakeSpace::start().await;
    let empty = tempfile::tempdir().expect("a directory");
    let stale = tempfile::tempdir().expect("a directory");
    let package = stale.path().join("@signalwire/js");
    std::fs::create_dir_all(package.join("dist")).expect("made");
    std::fs::write(
        package.join("package.json"),
        r#"{"version": "4.0.0-beta.7"}"#,
    )
    .expect("written");
    std::fs::write(package.join("dist/browser.mjs"), "export {};").expect("written");
    let http = http_client();
    for (install, says) in [
        (empty.path(), "is not installed"),
        (
            stale.path(),
            "4.0.0-beta.7 is installed, but package.json pins 4.0.0-beta.12",
        ),
    ] {
        let demo = Demo::new(
            fake.client(),
            Arc::new(InProcessCoordinator::new()),
            DemoSettings::default(),
        )
        .sdk_install(SdkInstall::at(install));
        let instance = demo
            .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("the demo starts");
        let get = |path: &str| http.get(format!("{}{path}", instance.url())).send();
        let status: serde_json::Value = get("/sdk/status")
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON");
        let problem = status["problem"].as_str().unwrap_or_default();
        assert!(
            problem.contains(says) && problem.contains(&install_command()),
            "{problem}"
        );
        assert!(status["version"].is_null());
        let bundle = get("/sdk/signalwire.mjs").await.expect("answered");
        assert_eq!(bundle.status(), 503);
        assert_eq!(bundle.text().await.expect("text"), problem);
        // The page itself and the shim are served, and the page shows the problem.
        let page = get("/").await.expect("answered");
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .expect("text")
                .contains("id=\"sdk-missing\"")
        );
        let shim = get("/sdk/node-crypto.mjs").await.expect("answered");
        assert_eq!(
            shim.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/javascript"[..])
        );
    }
}
