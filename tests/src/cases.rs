//! The registry of contract cases: the one place a case is added or removed.
//!
//! Every (operationId, documented status) pair of the spec needs exactly one
//! [`ResponseCase`], and every operation at least one [`RequestCase`]. The coverage test
//! fails while one is missing, and also when a case names a pair or an example the spec
//! does not document: a stale case is a bug, not harmless extra coverage.
//!
//! To cover a new operation: add its response cases and request cases here (an operation
//! without a request body gets `RequestBody::None`; a success without a body is
//! `Expected::NoContent`), and teach the suite's driver (`tests/tests/contract/driver.rs`)
//! how to call it through the facade. A listing (`Expected::Page`) is also read across
//! pages by `tests/tests/contract/paging.rs`, which needs an arm for it too. The
//! credentials each request must carry are read from the spec, not registered here.

use std::fmt;

/// What the facade must make of a documented response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A token pair holding exactly the example's token texts (and, for create, the
    /// example's subscriber id).
    TokenPair,
    /// One token (an invite or embed token) holding exactly the example's `token` text.
    Token,
    /// A `Subscriber` whose every field is the example's (times as the same instant).
    Subscriber,
    /// A listing whose stream yields every item of the example's `data`, each equal to
    /// it, and then ends (the example's `links.next`, if any, is followed as given).
    Page,
    /// `Ok(())`: a success documented without a body.
    NoContent,
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
            Expected::TokenPair | Expected::Token | Expected::Subscriber | Expected::Page => {
                (200..300).contains(&status)
            }
            Expected::NoContent => status == 204,
            Expected::Unauthorized => status == 401,
            Expected::Forbidden => status == 403,
            Expected::NotFound => status == 404,
            Expected::Rejected => status == 422,
            Expected::ServerError => (500..600).contains(&status),
        }
    }

    /// Whether this is a success (the facade returns `Ok`).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Expected::TokenPair
                | Expected::Token
                | Expected::Subscriber
                | Expected::Page
                | Expected::NoContent
        )
    }

    /// Whether a response that becomes this carries a body. A documented response with a
    /// body must not be registered as `NoContent`, nor one without a body as anything
    /// that reads one.
    pub fn reads_a_body(self) -> bool {
        self != Expected::NoContent
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::TokenPair => "Ok(token pair)",
            Expected::Token => "Ok(token)",
            Expected::Subscriber => "Ok(subscriber)",
            Expected::Page => "Ok(every item of the page)",
            Expected::NoContent => "Ok(())",
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
    /// The spec's first request example with only the properties the request schema
    /// requires: every optional field left unset must stay off the wire.
    RequiredOnly,
    /// No body: the operation takes none (GET, DELETE).
    None,
}

impl RequestBody {
    /// Whether a request of this kind sends a body.
    pub fn sends_a_body(self) -> bool {
        self != RequestBody::None
    }
}

impl fmt::Display for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBody::SpecExample(name) => write!(f, "spec example `{name}`"),
            RequestBody::EveryProperty => f.write_str("every property set"),
            RequestBody::RequiredOnly => f.write_str("required properties only"),
            RequestBody::None => f.write_str("no body"),
        }
    }
}

/// One way of driving an operation: the facade is asked to send `body`, and what reaches
/// the wire is checked against the spec. Path parameters take the suite's values
/// (`fixtures::path_parameter`), and credentials are whatever the spec documents for the
/// operation (`credentials`).
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
const GUEST: &str = "create_subscriber_guest_token";
const INVITE: &str = "create_subscriber_invite_token";
const EMBED: &str = "create_guest_embed_token";
const LIST: &str = "list_subscribers";
const CREATE_SUBSCRIBER: &str = "create_subscriber";
const GET: &str = "get_subscriber";
const UPDATE: &str = "update_subscriber";
const DELETE: &str = "delete_subscriber";
const ADDRESSES: &str = "list_subscriber_addresses";

const fn request(operation: &'static str, name: &'static str, body: RequestBody) -> RequestCase {
    RequestCase {
        operation,
        name,
        body,
    }
}

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
    request(CREATE, "minimal", RequestBody::SpecExample("minimal")),
    request(CREATE, "every_field", RequestBody::EveryProperty),
    request(REFRESH, "refresh", RequestBody::SpecExample("refresh")),
    // First: without `expire_at`, so the pair's lifetimes do not count down in snapshots.
    request(GUEST, "minimal", RequestBody::RequiredOnly),
    request(GUEST, "one_room", RequestBody::SpecExample("one_room")),
    request(GUEST, "every_field", RequestBody::EveryProperty),
    request(INVITE, "invite", RequestBody::SpecExample("invite")),
    request(INVITE, "address_only", RequestBody::RequiredOnly),
    request(EMBED, "widget", RequestBody::SpecExample("widget")),
    request(LIST, "first_page", RequestBody::None),
    request(
        CREATE_SUBSCRIBER,
        "new_subscriber",
        RequestBody::SpecExample("new_subscriber"),
    ),
    request(CREATE_SUBSCRIBER, "email_only", RequestBody::RequiredOnly),
    request(GET, "by_id", RequestBody::None),
    request(UPDATE, "renamed", RequestBody::SpecExample("renamed")),
    request(UPDATE, "every_field", RequestBody::EveryProperty),
    request(DELETE, "by_id", RequestBody::None),
    request(ADDRESSES, "first_page", RequestBody::None),
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
    response(GUEST, 200, Expected::TokenPair),
    response(GUEST, 201, Expected::TokenPair),
    response(GUEST, 401, Expected::Unauthorized),
    response(GUEST, 404, Expected::NotFound),
    response(GUEST, 422, Expected::Rejected),
    response(GUEST, 500, Expected::ServerError),
    response(INVITE, 200, Expected::Token),
    response(INVITE, 201, Expected::Token),
    response(INVITE, 401, Expected::Unauthorized),
    response(INVITE, 404, Expected::NotFound),
    response(INVITE, 422, Expected::Rejected),
    response(INVITE, 500, Expected::ServerError),
    response(EMBED, 200, Expected::Token),
    response(EMBED, 201, Expected::Token),
    response(EMBED, 401, Expected::Unauthorized),
    response(EMBED, 403, Expected::Forbidden),
    response(EMBED, 404, Expected::NotFound),
    response(EMBED, 422, Expected::Rejected),
    response(EMBED, 500, Expected::ServerError),
    response(LIST, 200, Expected::Page),
    response(LIST, 401, Expected::Unauthorized),
    response(LIST, 404, Expected::NotFound),
    response(LIST, 500, Expected::ServerError),
    response(CREATE_SUBSCRIBER, 201, Expected::Subscriber),
    response(CREATE_SUBSCRIBER, 401, Expected::Unauthorized),
    response(CREATE_SUBSCRIBER, 404, Expected::NotFound),
    response(CREATE_SUBSCRIBER, 422, Expected::Rejected),
    response(CREATE_SUBSCRIBER, 500, Expected::ServerError),
    response(GET, 200, Expected::Subscriber),
    response(GET, 401, Expected::Unauthorized),
    response(GET, 404, Expected::NotFound),
    response(GET, 500, Expected::ServerError),
    response(UPDATE, 200, Expected::Subscriber),
    response(UPDATE, 401, Expected::Unauthorized),
    response(UPDATE, 404, Expected::NotFound),
    response(UPDATE, 422, Expected::Rejected),
    response(UPDATE, 500, Expected::ServerError),
    response(DELETE, 204, Expected::NoContent),
    response(DELETE, 401, Expected::Unauthorized),
    response(DELETE, 404, Expected::NotFound),
    response(DELETE, 500, Expected::ServerError),
    response(ADDRESSES, 200, Expected::Page),
    response(ADDRESSES, 401, Expected::Unauthorized),
    response(ADDRESSES, 404, Expected::NotFound),
    response(ADDRESSES, 500, Expected::ServerError),
];

/// The request case whose body the response cases of `operation` send.
pub fn default_request(operation: &str) -> Option<&'static RequestCase> {
    REQUEST_CASES
        .iter()
        .find(|case| case.operation == operation)
}
