//! The `signalwire-fabric` binary, run as a user would against fake spaces on loopback
//! (one test binary, so the crate's tests link once and share [`common`]).
//!
//! The lean build (`cargo test -p signalwire-fabric-cli --no-default-features --test
//! cli`) runs [`build_features`], [`hints`] and [`subscribers`], which need no more than
//! it has; the others run `demo` or `fake serve`, or snapshot the default build's help.

// The lean build leaves out the modules that use some of `common`.
#[cfg_attr(not(feature = "fake"), allow(dead_code))]
mod common;

mod build_features;
#[cfg(feature = "fake")]
mod closed_stdout;
#[cfg(feature = "fake")]
mod commands;
mod hints;
#[cfg(all(feature = "fake", feature = "redis"))]
mod shared_demo;
mod subscribers;
