//! The registry of contract cases: the one place a case is added or removed.
//!
//! Every (operationId, documented status) pair of the spec needs exactly one
//! [`ResponseCase`], and every operation at least one [`RequestCase`]. The coverage test
//! fails while one is missing, and also when a case names a pair or an example the spec
//! does not document: a stale case is a bug, not harmless extra coverage.
//!
//! To cover a new operation: add its response cases and request cases here, and teach the
//! suite's driver (`tests/tests/contract/driver.rs`) how to call it through the facade.

use std::fmt;

/// What the facade must make of a documented response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A token pair holding exactly the example's token texts (and, for create, the
    /// example's subscriber id).
    TokenPair,
    /// `Error::Unauthorized`, carrying the example's `error` text.
    Unauthorized,
    /// `Error::Forbidden`, carrying the example's `error` text.
    Forbidden,
    /// `Error::NotFound`, carrying the example's `error` text.
    NotFound,
    /// `Error::Rejected`, one field error per entry of the example's `errors`.
    Rejected,
    /// `Error::Server` with the same status, carrying the example's `error` text.
    ServerError,
}

impl Expected {
    /// Whether a response with `status` can ever be expected to become this.
    pub fn fits(self, status: u16) -> bool {
        match self {
            Expected::TokenPair => (200..300).contains(&status),
            Expected::Unauthorized => status == 401,
            Expected::Forbidden => status == 403,
            Expected::NotFound => status == 404,
            Expected::Rejected => status == 422,
            Expected::ServerError => (500..600).contains(&status),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::TokenPair => "Ok(token pair)",
            Expected::Unauthorized => "Error::Unauthorized",
            Expected::Forbidden => "Error::Forbidden",
            Expected::NotFound => "Error::NotFound",
            Expected::Rejected => "Error::Rejected",
            Expected::ServerError => "Error::Server",
        })
    }
}

/// One documented response: every example the spec gives for it is served, and the
/// facade's result must be `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseCase {
    /// The operationId.
    pub operation: &'static str,
    /// The documented status.
    pub status: u16,
    /// What the facade must return.
    pub expected: Expected,
}

/// The body a request case asks the facade to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// The spec's request example with this name.
    SpecExample(&'static str),
    /// A body that sets every property of the request schema
    /// (see `fixtures::every_property`).
    EveryProperty,
}

impl fmt::Display for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBody::SpecExample(name) => write!(f, "spec example `{name}`"),
            RequestBody::EveryProperty => f.write_str("every property set"),
        }
    }
}

/// One way of driving an operation: the facade is asked to send `body`, and what reaches
/// the wire is checked against the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCase {
    /// The operationId.
    pub operation: &'static str,
    /// A short name, used in snapshot names.
    pub name: &'static str,
    /// What to send.
    pub body: RequestBody,
}

const CREATE: &str = "create_subscriber_token";
const REFRESH: &str = "refresh_subscriber_token";

const fn response(operation: &'static str, status: u16, expected: Expected) -> ResponseCase {
    ResponseCase {
        operation,
        status,
        expected,
    }
}

/// Every request case. The first one of an operation is also the request the response
/// cases send, so it must be one the facade accepts.
pub const REQUEST_CASES: &[RequestCase] = &[
    RequestCase {
        operation: CREATE,
        name: "minimal",
        body: RequestBody::SpecExample("minimal"),
    },
    RequestCase {
        operation: CREATE,
        name: "every_field",
        body: RequestBody::EveryProperty,
    },
    RequestCase {
        operation: REFRESH,
        name: "refresh",
        body: RequestBody::SpecExample("refresh"),
    },
];

/// Every response case: one per documented (operationId, status) pair.
pub const RESPONSE_CASES: &[ResponseCase] = &[
    response(CREATE, 200, Expected::TokenPair),
    response(CREATE, 201, Expected::TokenPair),
    response(CREATE, 401, Expected::Unauthorized),
    response(CREATE, 404, Expected::NotFound),
    response(CREATE, 422, Expected::Rejected),
    response(CREATE, 500, Expected::ServerError),
    response(REFRESH, 200, Expected::TokenPair),
    response(REFRESH, 201, Expected::TokenPair),
    response(REFRESH, 401, Expected::Unauthorized),
    response(REFRESH, 404, Expected::NotFound),
    response(REFRESH, 422, Expected::Rejected),
    response(REFRESH, 500, Expected::ServerError),
];

/// The request case whose body the response cases of `operation` send.
pub fn default_request(operation: &str) -> Option<&'static RequestCase> {
    REQUEST_CASES
        .iter()
        .find(|case| case.operation == operation)
}
