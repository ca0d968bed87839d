//! The token endpoints' numbers, recorded through the [`metrics`](https://docs.rs/metrics)
//! facade as the sessions' are ([`signalwire_fabric::metrics`], which has the session
//! worker's: refreshes, adoptions, lease waits, coordinator errors, exchange latency).
//! The app installs a recorder; without one, recording costs a check and allocates
//! nothing (every label value is a fixed string). No label holds a user, a session key,
//! a fingerprint or a token.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `signalwire_fabric_axum_responses_total` | counter | `endpoint`: `authenticate`, `refresh`, `other`; `code`: `ok` or an [`ErrorCode`] (`rate_limited`, `upstream_unavailable`, ...) | every answer of the router, by endpoint (`other`: a path or method the router refuses) and by code, which fixes the status |
//! | `signalwire_fabric_axum_rate_limited_total` | counter | | requests over a user's rate limit (answered 429) |
//! | `signalwire_fabric_axum_rate_limiter_errors_total` | counter | | requests the shared rate limiter could not decide (Redis unreachable), counted in the instance instead |
//! | `signalwire_fabric_axum_client_bound_tokens_total` | counter | `source`: `created`, `reused` | client-bound tokens answered: created at SignalWire, or reused from this instance's cache for the same user and fingerprint |
//! | `signalwire_fabric_axum_token_creations_total` | counter | `kind`: `session`, `client_bound` | subscriber tokens created at SignalWire: a user's new session, or a client-bound token |
//!
//! ```
//! // Once, after installing a recorder: units and help texts for both crates.
//! signalwire_fabric::metrics::describe();
//! signalwire_fabric_axum::metrics::describe();
//! ```

use ::metrics::{Unit, counter, describe_counter};

use crate::ErrorCode;

/// Answers of the router, by `endpoint` and `code`.
pub const RESPONSES_TOTAL: &str = "signalwire_fabric_axum_responses_total";
/// Requests over a user's rate limit.
pub const RATE_LIMITED_TOTAL: &str = "signalwire_fabric_axum_rate_limited_total";
/// Requests the shared rate limiter could not decide.
pub const RATE_LIMITER_ERRORS_TOTAL: &str = "signalwire_fabric_axum_rate_limiter_errors_total";
/// Client-bound tokens answered, by `source`.
pub const CLIENT_BOUND_TOKENS_TOTAL: &str = "signalwire_fabric_axum_client_bound_tokens_total";
/// Subscriber tokens created at SignalWire, by `kind`.
pub const TOKEN_CREATIONS_TOTAL: &str = "signalwire_fabric_axum_token_creations_total";

/// The name of every metric this crate records.
pub const ALL: [&str; 5] = [
    RESPONSES_TOTAL,
    RATE_LIMITED_TOTAL,
    RATE_LIMITER_ERRORS_TOTAL,
    CLIENT_BOUND_TOKENS_TOTAL,
    TOKEN_CREATIONS_TOTAL,
];

/// Gives the installed recorder each metric's unit and help text. Optional.
pub fn describe() {
    describe_counter!(
        RESPONSES_TOTAL,
        Unit::Count,
        "Answers of the token endpoints, by endpoint and code."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Requests over a user's rate limit."
    );
    describe_counter!(
        RATE_LIMITER_ERRORS_TOTAL,
        Unit::Count,
        "Requests the shared rate limiter could not decide, counted in the instance instead."
    );
    describe_counter!(
        CLIENT_BOUND_TOKENS_TOTAL,
        Unit::Count,
        "Client-bound tokens answered, created or reused."
    );
    describe_counter!(
        TOKEN_CREATIONS_TOTAL,
        Unit::Count,
        "Subscriber tokens created at SignalWire, by kind."
    );
}

/// Which part of the router answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authenticate,
    Refresh,
    Other,
}

/// Counts an answer: `None` for a credential, else the refusal's code. Every label is
/// a fixed string, so the key is a static and nothing is allocated.
pub(crate) fn answered(endpoint: Endpoint, code: Option<ErrorCode>) {
    macro_rules! by_code {
        ($endpoint:literal) => {
            match code {
                None => counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "ok"),
                Some(ErrorCode::UnsupportedMediaType) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "unsupported_media_type")
                }
                Some(ErrorCode::Unauthenticated) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "unauthenticated")
                }
                Some(ErrorCode::Forbidden) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "forbidden")
                }
                Some(ErrorCode::RateLimited) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "rate_limited")
                }
                Some(ErrorCode::BodyTooLarge) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "body_too_large")
                }
                Some(ErrorCode::InvalidBody) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "invalid_body")
                }
                Some(ErrorCode::MethodNotAllowed) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "method_not_allowed")
                }
                Some(ErrorCode::NotFound) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "not_found")
                }
                Some(ErrorCode::UpstreamUnavailable) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "upstream_unavailable")
                }
                Some(ErrorCode::UpstreamRefused) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "upstream_refused")
                }
                Some(ErrorCode::Internal) => {
                    counter!(RESPONSES_TOTAL, "endpoint" => $endpoint, "code" => "internal")
                }
            }
        };
    }
    match endpoint {
        Endpoint::Authenticate => by_code!("authenticate"),
        Endpoint::Refresh => by_code!("refresh"),
        Endpoint::Other => by_code!("other"),
    }
    .increment(1);
}

pub(crate) fn rate_limited() {
    counter!(RATE_LIMITED_TOTAL).increment(1);
}

pub(crate) fn rate_limiter_failed() {
    counter!(RATE_LIMITER_ERRORS_TOTAL).increment(1);
}

pub(crate) fn client_bound(reused: bool) {
    match reused {
        true => counter!(CLIENT_BOUND_TOKENS_TOTAL, "source" => "reused"),
        false => counter!(CLIENT_BOUND_TOKENS_TOTAL, "source" => "created"),
    }
    .increment(1);
}

/// What kind of subscriber token was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    Session,
    ClientBound,
}

pub(crate) fn created(kind: Created) {
    match kind {
        Created::Session => counter!(TOKEN_CREATIONS_TOTAL, "kind" => "session"),
        Created::ClientBound => counter!(TOKEN_CREATIONS_TOTAL, "kind" => "client_bound"),
    }
    .increment(1);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ::metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString};

    use super::*;

    /// Keeps the labels of every counter registered.
    #[derive(Default)]
    struct Labels(Mutex<Vec<Vec<(String, String)>>>);

    impl Recorder for Labels {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels = key
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect();
            self.0.lock().expect("not poisoned").push(labels);
            Counter::noop()
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn each_answer_is_labelled_with_its_endpoint_and_its_codes_own_text() {
        let recorder = Labels::default();
        ::metrics::with_local_recorder(&recorder, || {
            for (endpoint, name) in [
                (Endpoint::Authenticate, "authenticate"),
                (Endpoint::Refresh, "refresh"),
                (Endpoint::Other, "other"),
            ] {
                answered(endpoint, None);
                for code in ErrorCode::ALL {
                    answered(endpoint, Some(code));
                }
                let seen = std::mem::take(&mut *recorder.0.lock().expect("not poisoned"));
                let expected: Vec<Vec<(String, String)>> = std::iter::once("ok")
                    .chain(ErrorCode::ALL.iter().map(|code| code.as_str()))
                    .map(|code| {
                        vec![
                            ("endpoint".to_owned(), name.to_owned()),
                            ("code".to_owned(), code.to_owned()),
                        ]
                    })
                    .collect();
                assert_eq!(seen, expected);
            }
        });
        for name in ALL {
            assert!(name.starts_with("signalwire_fabric_axum_") && name.ends_with("_total"));
        }
    }
}
