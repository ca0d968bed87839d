//! The record of every request the fake received.

use std::fmt;
use std::time::SystemTime;

use crate::Operation;

/// One request the fake received and how it answered, from
/// [`FakeSpace::journal`](crate::FakeSpace::journal).
///
/// `Debug` leaves out the body, which holds tokens and passwords; read
/// [`JournalEntry::body`] to inspect it.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct JournalEntry {
    /// The operation the method and path matched; `None` for anything else (answered
    /// 404, or 401 when the credentials were wrong too).
    pub operation: Option<Operation>,
    /// The request's HTTP method.
    pub method: String,
    /// The request's path, without the query.
    pub path: String,
    /// The request's query, as sent (without the `?`); `None` when there was none.
    pub query: Option<String>,
    /// The status the fake answered with.
    pub status: u16,
    /// Whether the request carried what its operation is authenticated with: the
    /// project's Basic credentials (every operation but the two below, and every path no
    /// operation serves), a live subscriber access token the fake issued as a Bearer
    /// token (`create_subscriber_invite_token`), or nothing at all
    /// (`create_guest_embed_token`, where this is always `true`).
    pub credentials_valid: bool,
    /// Whether the request had an `Authorization` header at all, whatever it held.
    pub authorization_sent: bool,
    /// The body, when it was JSON; `None` when it was empty or not JSON.
    pub body: Option<serde_json::Value>,
    /// The code of the first 422 entry, when the answer was a 422.
    pub error_code: Option<String>,
    /// Whether an injected [`Fault`](crate::Fault) shaped the answer.
    pub faulted: bool,
    /// When the request arrived, on the fake's clock.
    pub received_at: SystemTime,
}

impl fmt::Debug for JournalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalEntry")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("status", &self.status)
            .field("credentials_valid", &self.credentials_valid)
            .field("authorization_sent", &self.authorization_sent)
            .field("error_code", &self.error_code)
            .field("faulted", &self.faulted)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}
