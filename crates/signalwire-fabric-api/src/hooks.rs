//! The hand-written part of the low-level client: what progenitor's `ClientHooks` do for
//! every request.

use std::sync::OnceLock;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::StatusCode;

use crate::Client;

/// State the hooks keep for a [`Client`]: the bound on response bodies, and the status
/// of the response it received.
///
/// Build one `Client` (with a fresh `Exchange`) per request when you need
/// [`Exchange::status`]: the status is recorded once, for the first response.
#[derive(Debug, Clone)]
pub struct Exchange {
    body_limit: usize,
    status: OnceLock<StatusCode>,
}

impl Exchange {
    /// An exchange that reads at most `body_limit` bytes of a response body; a longer body
    /// fails to read (see [`body_limit_exceeded`]).
    pub fn new(body_limit: usize) -> Self {
        Self {
            body_limit,
            status: OnceLock::new(),
        }
    }

    /// The most a response body may hold.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The status of the response, once one has arrived.
    ///
    /// progenitor's `Error::InvalidResponsePayload` and `Error::ResponseBodyError` do
    /// not say which status the body came with; this does.
    pub fn status(&self) -> Option<StatusCode> {
        self.status.get().copied()
    }
}

/// True when `error` (or an error it wraps) says a response body was longer than the
/// [`Exchange`]'s limit.
pub fn body_limit_exceeded(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// progenitor stamps every request with `api-version: <info.version of our spec>`.
/// SignalWire defines no such header, and our spec's version is ours, not theirs, so it
/// is not sent.
const API_VERSION: &str = "api-version";

impl ClientHooks<Exchange> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        request.headers_mut().remove(API_VERSION);
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = self.client().execute(request).await?;
        let exchange = self.inner();
        // Only the first response is recorded; `set` failing means this client was reused.
        let _ = exchange.status.set(response.status());
        let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
        let limited = http_body_util::Limited::new(body, exchange.body_limit);
        Ok(http::Response::from_parts(parts, reqwest::Body::wrap(limited)).into())
    }
}
