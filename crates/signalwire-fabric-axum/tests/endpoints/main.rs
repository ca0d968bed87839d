//! The token endpoints through real HTTP on loopback, against the fake space; the
//! example backend in several instances, and in a real browser with SignalWire's real
//! browser SDK.

#[cfg(unix)]
mod balancer;
mod binding;
#[cfg(unix)]
mod browser;
#[cfg(unix)]
mod chromium;
mod common;
// The example's backend, shared with `cargo run --example browser_demo`.
#[path = "../../examples/browser_demo/app.rs"]
mod demo;
mod demo_runs;
mod fleet;
mod hygiene;
mod instances;
#[cfg(unix)]
mod real_sdk;
mod refused;
mod sessions;
#[path = "../support/sign_in.rs"]
mod sign_in;
