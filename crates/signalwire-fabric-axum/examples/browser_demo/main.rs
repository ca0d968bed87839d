//! The token endpoints behind a page running SignalWire's browser SDK, against a fake
//! space: no credentials, and the browser is sent nothing beyond 127.0.0.1 but the SDK's
//! own attempts to reach the space's hosts (the fake's tokens name `signalwire.test`,
//! which does not resolve).
//!
//! ```sh
//! npm ci --prefix crates/signalwire-fabric-axum/examples/browser_demo   # the SDK, once
//! cargo run -p signalwire-fabric-axum --example browser_demo            # http://127.0.0.1:3000/
//! cargo run -p signalwire-fabric-axum --example browser_demo -- --port 0   # any free port
//! ```
//!
//! The page loads `@signalwire/js` (the version `package.json` in this directory pins)
//! from the demo, which serves it from `node_modules`; without that install the page and
//! this program say what to run. Open the address it prints and press "Run the demo": the
//! page signs in as Alice, starts the SDK, which authenticates (with the fingerprint of
//! its key pair) and gets a token, and shows the SDK's `refresh()` 5 s before that
//! token's expiry getting the user's session token; then it signs in as Bob and shows
//! that Bob cannot get Alice's. Each run signs in afresh, and the first token of every
//! sign-in lives about 12 s (the demo asks for that when it creates it), so the refresh
//! comes within seconds every time.
//!
//! The demo serves what its sessions and endpoints counted at `/metrics`, in Prometheus'
//! text format (the `metrics` facade, with `metrics-exporter-prometheus` as the recorder,
//! a dependency of this example only).
//!
//! Against a real space, pass `--env` and set `SIGNALWIRE_SPACE`,
//! `SIGNALWIRE_PROJECT_ID` and `SIGNALWIRE_API_TOKEN` (the API token needs a Voice,
//! Messaging, Fax or Video scope): the demo then creates the subscribers
//! `alice@example.com` and `bob@example.com` in that space, and the page's SDK goes on to
//! connect to it (not exercised by the tests, which have no space to reach).

mod app;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusBuilder;
use signalwire_fabric::{Client, InProcessCoordinator};
use signalwire_fabric_fake::FakeSpace;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut port: u16 = 3000;
    let mut from_env = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--env" => from_env = true,
            "--port" => {
                port = rest
                    .next()
                    .and_then(|value| value.parse().ok())
                    .ok_or("--port needs a port number (0 for any free port)")?;
            }
            other => {
                return Err(format!("unknown argument {other:?}; try --port N or --env").into());
            }
        }
    }

    // Keep the fake alive for as long as the demo runs.
    let (client, _fake) = if from_env {
        println!("using the space named by SIGNALWIRE_SPACE (or SIGNALWIRE_BASE_URL)");
        (Client::from_env()?, None)
    } else {
        let fake = FakeSpace::start().await;
        println!("using a fake SignalWire space on {}", fake.base_url());
        (fake.client(), Some(fake))
    };
    // The numbers sessions and endpoints record, served at /metrics.
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|error| format!("cannot install the metrics recorder: {error}"))?;
    signalwire_fabric::metrics::describe();
    signalwire_fabric_axum::metrics::describe();
    let demo = app::Demo::new(
        client,
        Arc::new(InProcessCoordinator::new()),
        app::DemoSettings::default(),
    )
    .metrics(metrics);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let instance = demo.serve(addr).await.map_err(|error| {
        format!("cannot listen on {addr}: {error} (choose another with --port N, or --port 0)")
    })?;
    match app::installed_sdk() {
        Ok(version) => println!("serving {} {version} to the page", app::SDK_PACKAGE),
        Err(problem) => println!("the page cannot run the SDK yet: {problem}"),
    }
    println!(
        "open {}/ in a browser (Ctrl-C stops the demo)",
        instance.url()
    );
    println!(
        "token endpoints: POST {url}{mount}/authenticate and POST {url}{mount}/refresh",
        url = instance.url(),
        mount = app::TOKENS_MOUNT
    );
    println!(
        "metrics (Prometheus' text format): {}/metrics",
        instance.url()
    );
    std::future::pending::<()>().await;
    Ok(())
}
