//! Numbers an operator can watch: counters and histograms of what sessions do, recorded
//! through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! The SDK only records; the app chooses where the numbers go by installing a recorder
//! once at start-up (for example `metrics-exporter-prometheus`, which serves them in
//! Prometheus' text format, or a bridge to OpenTelemetry). Without a recorder every
//! recording is a no-op that allocates nothing. The cached
//! [`SubscriberSession::access_token`](crate::SubscriberSession::access_token) records
//! nothing at all: only the session's worker does, when it refreshes, adopts, waits for a
//! lease or fails to reach its coordinator.
//!
//! ```
//! // In the app, once, after installing a recorder (for example
//! // `metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()`, whose
//! // handle's `render()` the app serves at /metrics): units and help texts, optional.
//! signalwire_fabric::metrics::describe();
//! ```
//!
//! # Why `metrics` rather than OpenTelemetry
//!
//! `metrics` is a facade of one small crate (and one hasher): a library records, the
//! app decides. OpenTelemetry's API crate brings its context and propagation machinery,
//! and its exporters an SDK the app would then have to configure even to get nothing.
//! Apps on OpenTelemetry install a `metrics`-to-OpenTelemetry bridge as their recorder.
//!
//! # What is recorded
//!
//! Names follow Prometheus' conventions (snake_case, the unit last, `_total` for
//! counters); labels take a few fixed values. No label holds a secret, a session key or
//! a user id.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `signalwire_fabric_session_refreshes_total` | counter | `outcome`: `stored`, `superseded`, `failed`, `refused` | refresh exchanges a session sent to SignalWire, by what came of them: the new pair stored (in the coordinator, or kept to store later); exchanged, but a sibling had stored a newer pair, which was adopted; a failure that can pass (retried); the refresh token refused and nothing newer found |
//! | `signalwire_fabric_session_adoptions_total` | counter | `stage`: `before_refresh`, `after_refresh`, `after_refusal` | pairs a session adopted from a sibling instead of refreshing: found when asking for the lease (nothing sent); found when storing its own (the commit was fenced); found after its refresh token was refused as spent |
//! | `signalwire_fabric_session_lease_waits_total` | counter | | times a session found a sibling holding the lease and waited for it: a due session before refreshing, or one joining with `join_or_create` before it creates the first pair |
//! | `signalwire_fabric_session_lease_wait_seconds` | histogram | | how long each of those waits lasted, until the lease was granted, a newer pair found, or the session gave up |
//! | `signalwire_fabric_session_lease_takeovers_total` | counter | | leases granted after an earlier holder's ran out without storing or releasing (a stalled or killed sibling) |
//! | `signalwire_fabric_session_ends_total` | counter | `reason`: `refused`, `refresh_token_expired` | sessions that ended (a new subscriber token is needed) |
//! | `signalwire_fabric_coordinator_errors_total` | counter | `operation`: `load`, `try_lease`, `commit`, `release`, `publish` | coordinator operations of the session worker that failed (Redis unreachable, say) |
//! | `signalwire_fabric_refresh_duration_seconds` | histogram | `result`: `ok`, `error` | how long each refresh exchange with SignalWire took |
//! | `signalwire_fabric_session_refresh_delay_seconds` | histogram | | from the moment a pair was due to the moment its successor was in place (refreshed or adopted), retries and lease waits included |

use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

/// Refresh exchanges sent to SignalWire, by `outcome`.
pub const SESSION_REFRESHES_TOTAL: &str = "signalwire_fabric_session_refreshes_total";
/// Pairs adopted from a sibling, by `stage`.
pub const SESSION_ADOPTIONS_TOTAL: &str = "signalwire_fabric_session_adoptions_total";
/// Waits for a refresh lease a sibling held.
pub const SESSION_LEASE_WAITS_TOTAL: &str = "signalwire_fabric_session_lease_waits_total";
/// How long each wait for a sibling's lease lasted.
pub const SESSION_LEASE_WAIT_SECONDS: &str = "signalwire_fabric_session_lease_wait_seconds";
/// Leases granted over an earlier holder's that ran out.
pub const SESSION_LEASE_TAKEOVERS_TOTAL: &str = "signalwire_fabric_session_lease_takeovers_total";
/// Sessions that ended, by `reason`.
pub const SESSION_ENDS_TOTAL: &str = "signalwire_fabric_session_ends_total";
/// Failed coordinator operations of session workers, by `operation`.
pub const COORDINATOR_ERRORS_TOTAL: &str = "signalwire_fabric_coordinator_errors_total";
/// Refresh exchange latency, by `result`.
pub const REFRESH_DURATION_SECONDS: &str = "signalwire_fabric_refresh_duration_seconds";
/// From due to refreshed.
pub const SESSION_REFRESH_DELAY_SECONDS: &str = "signalwire_fabric_session_refresh_delay_seconds";

/// The name of every metric this crate records.
pub const ALL: [&str; 9] = [
    SESSION_REFRESHES_TOTAL,
    SESSION_ADOPTIONS_TOTAL,
    SESSION_LEASE_WAITS_TOTAL,
    SESSION_LEASE_WAIT_SECONDS,
    SESSION_LEASE_TAKEOVERS_TOTAL,
    SESSION_ENDS_TOTAL,
    COORDINATOR_ERRORS_TOTAL,
    REFRESH_DURATION_SECONDS,
    SESSION_REFRESH_DELAY_SECONDS,
];

/// Gives the installed recorder each metric's unit and help text (what Prometheus shows
/// as `# HELP`). Optional: metrics are recorded without it. Call it after installing the
/// recorder.
pub fn describe() {
    describe_counter!(
        SESSION_REFRESHES_TOTAL,
        Unit::Count,
        "Refresh exchanges sent to SignalWire, by outcome."
    );
    describe_counter!(
        SESSION_ADOPTIONS_TOTAL,
        Unit::Count,
        "Pairs a session adopted from a sibling instead of refreshing, by stage."
    );
    describe_counter!(
        SESSION_LEASE_WAITS_TOTAL,
        Unit::Count,
        "Times a session waited for a lease a sibling held."
    );
    describe_histogram!(
        SESSION_LEASE_WAIT_SECONDS,
        Unit::Seconds,
        "How long each wait for a sibling's refresh lease lasted."
    );
    describe_counter!(
        SESSION_LEASE_TAKEOVERS_TOTAL,
        Unit::Count,
        "Refresh leases granted after an earlier holder's ran out unfinished."
    );
    describe_counter!(
        SESSION_ENDS_TOTAL,
        Unit::Count,
        "Sessions that ended, by reason."
    );
    describe_counter!(
        COORDINATOR_ERRORS_TOTAL,
        Unit::Count,
        "Coordinator operations of session workers that failed, by operation."
    );
    describe_histogram!(
        REFRESH_DURATION_SECONDS,
        Unit::Seconds,
        "How long each refresh exchange with SignalWire took, by result."
    );
    describe_histogram!(
        SESSION_REFRESH_DELAY_SECONDS,
        Unit::Seconds,
        "From the moment a pair was due to the moment its successor was in place."
    );
}

/// What came of a refresh exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refreshed {
    Stored,
    Superseded,
    Failed,
    Refused,
}

pub(crate) fn refreshed(outcome: Refreshed) {
    match outcome {
        Refreshed::Stored => counter!(SESSION_REFRESHES_TOTAL, "outcome" => "stored"),
        Refreshed::Superseded => counter!(SESSION_REFRESHES_TOTAL, "outcome" => "superseded"),
        Refreshed::Failed => counter!(SESSION_REFRESHES_TOTAL, "outcome" => "failed"),
        Refreshed::Refused => counter!(SESSION_REFRESHES_TOTAL, "outcome" => "refused"),
    }
    .increment(1);
}

/// When a session found a sibling's newer pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adopted {
    BeforeRefresh,
    AfterRefresh,
    AfterRefusal,
}

pub(crate) fn adopted(stage: Adopted) {
    match stage {
        Adopted::BeforeRefresh => counter!(SESSION_ADOPTIONS_TOTAL, "stage" => "before_refresh"),
        Adopted::AfterRefresh => counter!(SESSION_ADOPTIONS_TOTAL, "stage" => "after_refresh"),
        Adopted::AfterRefusal => counter!(SESSION_ADOPTIONS_TOTAL, "stage" => "after_refusal"),
    }
    .increment(1);
}

pub(crate) fn lease_waited(waited: Duration) {
    counter!(SESSION_LEASE_WAITS_TOTAL).increment(1);
    histogram!(SESSION_LEASE_WAIT_SECONDS).record(waited.as_secs_f64());
}

pub(crate) fn lease_taken_over() {
    counter!(SESSION_LEASE_TAKEOVERS_TOTAL).increment(1);
}

pub(crate) fn ended(reason: crate::SessionEnd) {
    match reason {
        crate::SessionEnd::Refused => counter!(SESSION_ENDS_TOTAL, "reason" => "refused"),
        _ => counter!(SESSION_ENDS_TOTAL, "reason" => "refresh_token_expired"),
    }
    .increment(1);
}

/// A coordinator operation of the session worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Load,
    TryLease,
    Commit,
    Release,
    Publish,
}

pub(crate) fn coordinator_failed(operation: Operation) {
    match operation {
        Operation::Load => counter!(COORDINATOR_ERRORS_TOTAL, "operation" => "load"),
        Operation::TryLease => counter!(COORDINATOR_ERRORS_TOTAL, "operation" => "try_lease"),
        Operation::Commit => counter!(COORDINATOR_ERRORS_TOTAL, "operation" => "commit"),
        Operation::Release => counter!(COORDINATOR_ERRORS_TOTAL, "operation" => "release"),
        Operation::Publish => counter!(COORDINATOR_ERRORS_TOTAL, "operation" => "publish"),
    }
    .increment(1);
}

pub(crate) fn exchanged(took: Duration, ok: bool) {
    match ok {
        true => histogram!(REFRESH_DURATION_SECONDS, "result" => "ok"),
        false => histogram!(REFRESH_DURATION_SECONDS, "result" => "error"),
    }
    .record(took.as_secs_f64());
}

pub(crate) fn refresh_delay(delay: Duration) {
    histogram!(SESSION_REFRESH_DELAY_SECONDS).record(delay.as_secs_f64());
}
