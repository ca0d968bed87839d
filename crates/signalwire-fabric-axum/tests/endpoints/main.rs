//! The token endpoints through real HTTP on loopback, against the fake space; the
//! example backend in several instances and in a real browser.

mod binding;
#[cfg(unix)]
mod browser;
mod common;
// The example's backend, shared with `cargo run --example browser_demo`.
#[path = "../../examples/browser_demo/app.rs"]
mod demo;
mod demo_runs;
mod hygiene;
mod instances;
mod sessions;
