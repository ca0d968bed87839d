//! The browser demo's `/metrics`, scraped after rotations: what the sessions and the
//! endpoints counted, in Prometheus' text format, as `metrics-exporter-prometheus`
//! renders it.
//!
//! Its own test binary, with one test: the recorder is the process's (installed once,
//! as an app does), so no other test may record beside it.

#[path = "../examples/browser_demo/app.rs"]
#[allow(dead_code, reason = "the demo's SDK serving is not used here")]
mod demo;
#[path = "support/sign_in.rs"]
mod sign_in;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use signalwire_fabric::InProcessCoordinator;
use signalwire_fabric_fake::{FakeSpace, Operation, SimulatedTime};

use demo::{Demo, DemoSettings, Instance, TOKENS_MOUNT};
use sign_in::{session_cookie, sign_in_request};

/// A fingerprint: 43 characters of base64url.
const FINGERPRINT: &str = "TWV0cmljcy1zY3JhcGVkLWJyb3dzZXIta2V5LXBhaXI";

/// `name{labels} value` lines, by `name{labels}` (comments left out).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

struct Answered {
    status: u16,
    body: serde_json::Value,
}

#[tokio::test(start_paused = true)]
async fn the_demo_serves_what_its_sessions_and_endpoints_counted_after_rotations() {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this process");
    signalwire_fabric::metrics::describe();
    signalwire_fabric_axum::metrics::describe();

    let fake = FakeSpace::start().await;
    let time = SimulatedTime::new(&fake);
    let demo = Demo::new(
        fake.client(),
        Arc::new(InProcessCoordinator::new()),
        DemoSettings::default(),
    )
    .metrics(handle);
    const INSTANCES: usize = 3;
    let mut instances: Vec<Instance> = Vec::new();
    for _ in 0..INSTANCES {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        instances.push(demo.serve(any_port).await.expect("an instance starts"));
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let login = time
        .hold(sign_in_request(&http, &instances[0].url(), "alice").send())
        .await
        .expect("signed in");
    let cookie = session_cookie(&login);
    let ask = |instance: usize, path: &str, body: &str| {
        let request = http
            .post(format!("{}{path}", instances[instance].url()))
            .header("content-type", "application/json")
            .header("cookie", &cookie)
            .body(body.to_owned());
        let time = &time;
        async move {
            let response = time.hold(request.send()).await.expect("the demo answers");
            let status = response.status().as_u16();
            let body = time.hold(response.json()).await.expect("JSON");
            Answered { status, body }
        }
    };
    let authenticate = format!("{TOKENS_MOUNT}/authenticate");
    let refresh = format!("{TOKENS_MOUNT}/refresh");
    let mut oks: BTreeMap<&str, u64> = BTreeMap::new();

    // Every instance starts alice's session: one creates the subscriber token, the
    // others join it.
    for instance in 0..INSTANCES {
        let answer = ask(instance, &authenticate, "{}").await;
        assert_eq!(answer.status, 200);
        *oks.entry("authenticate").or_default() += 1;
    }
    // Three rotations: 5 s before each expiry, every instance is asked in turn; the
    // first refreshes, the others adopt its pair.
    const ROTATIONS: usize = 3;
    for rotation in 0..ROTATIONS {
        let session = ask(rotation % INSTANCES, &refresh, "{}").await;
        let expiry_at = session.body["expiry_at"].as_u64().expect("an expiry");
        *oks.entry("refresh").or_default() += 1;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64;
        time.advance(Duration::from_millis(
            expiry_at.saturating_sub(now_ms + 5_000),
        ))
        .await;
        let mut tokens = Vec::new();
        for turn in 0..INSTANCES {
            let answer = ask((rotation + turn) % INSTANCES, &refresh, "{}").await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            tokens.push(answer.body["token"].as_str().expect("a token").to_owned());
            *oks.entry("refresh").or_default() += 1;
        }
        assert!(tokens.iter().all(|token| *token == tokens[0]));
    }
    assert_eq!(fake.refresh_count(), ROTATIONS);

    // A browser authenticates with its key pair, then reconnects: one token minted.
    for _ in 0..2 {
        let body = format!(r#"{{"fingerprint": "{FINGERPRINT}"}}"#);
        assert_eq!(ask(0, &authenticate, &body).await.status, 200);
        *oks.entry("authenticate").or_default() += 1;
    }
    // A path the router does not have, and asking until the rate limit answers 429.
    assert_eq!(
        ask(1, &format!("{TOKENS_MOUNT}/nothing"), "{}")
            .await
            .status,
        404
    );
    let mut limited = 0;
    for _ in 0..25 {
        match ask(1, &refresh, "{}").await.status {
            200 => *oks.entry("refresh").or_default() += 1,
            429 => {
                limited += 1;
                break;
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(limited, 1, "the default limit is 20 a minute");
    assert_eq!(fake.request_count(Operation::Create), 2);

    let scrape = time
        .hold(http.get(format!("{}/metrics", instances[2].url())).send())
        .await
        .expect("scraped");
    assert_eq!(scrape.status(), 200);
    assert!(
        scrape
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/plain"))
    );
    let text = time.hold(scrape.text()).await.expect("text");
    let samples = samples(&text);
    let count = |name: &str| samples.get(name).copied().unwrap_or(-1.0);
    let rotations = ROTATIONS as f64;
    let expected = [
        (
            "signalwire_fabric_session_refreshes_total{outcome=\"stored\"}",
            rotations,
        ),
        (
            "signalwire_fabric_session_adoptions_total{stage=\"before_refresh\"}",
            rotations * (INSTANCES - 1) as f64,
        ),
        (
            "signalwire_fabric_refresh_duration_seconds_count{result=\"ok\"}",
            rotations,
        ),
        (
            "signalwire_fabric_session_refresh_delay_seconds_count",
            rotations * INSTANCES as f64,
        ),
        (
            "signalwire_fabric_axum_responses_total{endpoint=\"authenticate\",code=\"ok\"}",
            oks["authenticate"] as f64,
        ),
        (
            "signalwire_fabric_axum_responses_total{endpoint=\"refresh\",code=\"ok\"}",
            oks["refresh"] as f64,
        ),
        (
            "signalwire_fabric_axum_responses_total{endpoint=\"refresh\",code=\"rate_limited\"}",
            1.0,
        ),
        (
            "signalwire_fabric_axum_responses_total{endpoint=\"other\",code=\"not_found\"}",
            1.0,
        ),
        ("signalwire_fabric_axum_rate_limited_total", 1.0),
        (
            "signalwire_fabric_axum_token_creations_total{kind=\"session\"}",
            1.0,
        ),
        (
            "signalwire_fabric_axum_token_creations_total{kind=\"client_bound\"}",
            1.0,
        ),
        (
            "signalwire_fabric_axum_client_bound_tokens_total{source=\"created\"}",
            1.0,
        ),
        (
            "signalwire_fabric_axum_client_bound_tokens_total{source=\"reused\"}",
            1.0,
        ),
    ];
    for (name, value) in expected {
        assert_eq!(count(name), value, "{name} in\n{text}");
    }
    // Nothing else went wrong, and nothing names the user, the sign-in or a token.
    for absent in [
        "signalwire_fabric_coordinator_errors_total",
        "signalwire_fabric_session_ends_total",
        "outcome=\"failed\"",
        "alice",
        cookie.split('=').nth(1).expect("the sign-in id"),
        "eyJ",
    ] {
        assert!(!text.contains(absent), "{absent:?} in\n{text}");
    }
    assert!(
        text.contains("# HELP signalwire_fabric_session_refreshes_total Refresh exchanges"),
        "described:\n{text}"
    );
}
