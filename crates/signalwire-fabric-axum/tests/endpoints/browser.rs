//! The example's page, as a person runs it ("Run the demo"), in a real headless Chromium
//! with SignalWire's real browser SDK: the SDK's authenticate refused before sign-in, then
//! with a fingerprint a client-bound token, the SDK's refresh() 5 s before its expiry
//! getting the user's session token, and a second user who cannot get the first user's
//! token. `real_sdk.rs` drives the same page step by step.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use signalwire_fabric::InProcessCoordinator;
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::chromium::HeadlessChromium;
use crate::demo::{Demo, DemoSettings, SdkInstall, install_command};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_signs_in_refreshes_before_expiry_and_keeps_users_apart_in_chromium() {
    let Some(browser) = HeadlessChromium::start_or_skip("the demo page's run in Chromium").await
    else {
        return;
    };
    let fake = FakeSpace::start().await;
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
    browser.open(&format!("{}/?auto", instance.url())).await;

    // The page needs the token's life less 5 s to get to its refresh: about 8 s.
    let deadline = Instant::now() + settings.token_lifetime + Duration::from_secs(30);
    let result: Value = loop {
        let text = browser.text_of("result").await;
        let result: Value = serde_json::from_str(&text).unwrap_or_default();
        if !result["done"].is_null() || Instant::now() > deadline {
            break result;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let steps = browser.text_of("steps").await;

    // Without the SDK's npm install, the page says what to run.
    let empty = tempfile::tempdir().expect("a directory");
    let without = demo
        .clone()
        .sdk_install(SdkInstall::at(empty.path()))
        .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the demo starts");
    browser.open(&format!("{}/?auto", without.url())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let missing = loop {
        let missing = browser.text_of("sdk-missing").await;
        if !missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = browser.text_of("status").await;
    browser.close().await;
    assert!(missing.contains(&install_command()), "{missing:?}");
    assert_eq!(status, "the SDK is not installed");

    assert_eq!(result["done"], "ok", "the page's run: {result:#} {steps}");
    assert_eq!(result["anonymous"], "unauthenticated");
    assert_eq!(result["signedIn"], "alice");
    // Chromium makes the SDK's key pair: its authenticate carries the fingerprint.
    assert_eq!(result["fingerprintLength"], 43, "{result:#}");
    let expiry_at = result["expiryAt"].as_u64().expect("an expiry in ms");
    let refresh_called_at = result["refreshCalledAt"]
        .as_u64()
        .expect("when it refreshed");
    assert!(
        refresh_called_at + 6_000 >= expiry_at && refresh_called_at + 4_900 <= expiry_at,
        "the SDK called refresh() 5 s before expiry: at {refresh_called_at}, expiry {expiry_at}"
    );
    assert_eq!(result["refreshedIsNew"], true, "{result:#}");
    assert_ne!(result["refreshedToken"], result["token"]);
    assert!(result["refreshedExpiryAt"].as_u64() > Some(expiry_at));
    assert_eq!(result["bodyNamingAlice"], "invalid_body");
    assert_eq!(result["bobGotAlicesToken"], false);
    assert_ne!(result["bobToken"], result["refreshedToken"]);
    // What SignalWire saw: a client-bound token for alice (with the SDK's fingerprint),
    // then, for the SDK's refresh(), alice's session token (no fingerprint); then bob's
    // client-bound token. Nothing was refreshed: the session token was new.
    let creates: Vec<(String, bool)> = fake
        .journal()
        .into_iter()
        .filter(|entry| entry.operation == Some(Operation::Create))
        .filter_map(|entry| {
            let body = entry.body?;
            let reference = body["reference"].as_str()?.to_owned();
            Some((reference, body["fingerprint"].is_string()))
        })
        .collect();
    assert_eq!(
        creates,
        [
            ("alice@example.com".to_owned(), true),
            ("alice@example.com".to_owned(), false),
            ("bob@example.com".to_owned(), true)
        ]
    );
    assert_eq!(fake.refresh_count(), 0);
}
