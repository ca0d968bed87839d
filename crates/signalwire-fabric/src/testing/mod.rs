//! Help for testing code that uses this crate, and code that extends it (feature
//! `test-util`; not for production builds). The workspace's own suites use it too: it is
//! the one home of their test support. One file per double or tool:
//!
//! - `tokens.rs`: tokens and pairs with the shape SignalWire's have ([`access_token`],
//!   [`refresh_token`], [`pair`], [`jwe`]), [`due_now`] (a pair due for a refresh now),
//!   the suites' credentials ([`PROJECT_ID`], [`API_TOKEN`], [`client_for`]) and
//!   [`create_subscriber_token`];
//! - `logs.rs`: [`CapturedLogs`], a writer that keeps what a `tracing` subscriber writes,
//!   to check that no secret is logged;
//! - `refresh_endpoint.rs`: [`RefreshEndpoint`], SignalWire's refresh endpoint in
//!   process, with single-use (or reusable) refresh tokens, counting what it is sent;
//! - `failing.rs`: [`FailingCoordinator`], a [`Coordinator`](crate::Coordinator) whose
//!   operations can be made to fail;
//! - `harness.rs`: [`ConformanceHarness`], what the shared suites below need of a
//!   coordinator, and [`InProcessHarness`] for [`InProcessCoordinator`](crate::InProcessCoordinator);
//! - `conformance.rs`: [`conformance`], the rules of the coordination protocol, one
//!   function each; [`conformance_tests!`] makes a named test of each for a coordinator,
//!   [`coordinator_conformance`] runs them all;
//! - `scenarios.rs`: [`scenarios`], sessions sharing a subscriber, which must behave the
//!   same on every coordinator; [`scenario_tests!`] makes a named test of each;
//! - `siblings.rs`: sessions made the way those suites make them ([`first_session`],
//!   [`joined_session`], [`quick_retries`]), a bounded wait ([`wait_until`]), and checks
//!   of what they do ([`assert_rotated_once`], [`assert_ended_by_refusal`]);
//! - `upstream.rs`: [`Upstream`], SignalWire's refresh endpoint for a fleet of sessions:
//!   a limit per second answered with 429 and `Retry-After`, and a tally of who waited
//!   too little and whose token had expired;
//! - `protocol.rs`: [`replay_store_rules`], the store rules the protocol model checks,
//!   replayed step by step against a coordinator, answer for answer;
//! - `programs.rs`: the rule for tests that need a program the machine may lack
//!   ([`Program`], [`skip_or_fail`]): `SKIPPED` and a pass, or under `CI=true` a failure.
//!
//! ```
//! use signalwire_fabric::testing;
//!
//! let pair = testing::pair("alice-1");
//! assert_eq!(pair.access_token().kind(), Some(signalwire_fabric::TokenKind::Access));
//! assert_ne!(testing::pair("alice-2").refresh_token(), pair.refresh_token());
//! ```

pub mod conformance;
mod failing;
mod harness;
mod logs;
mod programs;
mod protocol;
mod refresh_endpoint;
pub mod scenarios;
mod siblings;
mod tokens;
mod upstream;

pub use conformance::coordinator_conformance;
pub use failing::FailingCoordinator;
pub use harness::{ConformanceHarness, InProcessHarness};
pub use logs::CapturedLogs;
pub use programs::{Program, skip_or_fail};
pub use protocol::{ReplayReport, replay_store_rules};
pub use refresh_endpoint::RefreshEndpoint;
pub use siblings::{
    assert_ended_by_refusal, assert_rotated_once, first_session, joined_session, quick_retries,
    wait_until,
};
pub use tokens::{
    API_TOKEN, PROJECT_ID, access_token, client_for, create_subscriber_token, due_now, jwe, pair,
    refresh_token,
};
pub use upstream::{Upstream, UpstreamCaller, UpstreamTally};

#[doc(inline)]
pub use crate::__conformance_tests as conformance_tests;
#[doc(inline)]
pub use crate::__scenario_tests as scenario_tests;
