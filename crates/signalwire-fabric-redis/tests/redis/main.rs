//! `signalwire-fabric-redis` against a real `redis-server` that each test starts on a
//! random loopback port (see `support`). Without `redis-server` the tests print
//! `SKIPPED` and pass; under `CI=true` they fail.
//!
//! These tests run on real time (Redis answers from another process, so tokio's paused
//! clock would jump past every timeout while a command is in flight): leases and timeouts
//! are short, and waits are bounded polls.

mod support;

mod behaviour;
mod cluster;
mod conformance;
mod errors;
mod expiry;
mod failover;
mod faults;
mod limits;
mod multi_process;
mod replay;
mod stalls;
mod tls;
