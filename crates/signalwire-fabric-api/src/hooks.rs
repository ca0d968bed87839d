//! The hand-written part of the low-level client: what progenitor's `ClientHooks` do for
//! every request.

use std::fmt;
use std::sync::{Arc, OnceLock};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::StatusCode;

use crate::Client;

/// Answers a request in-process instead of sending it: see [`CallContext::with_responder`].
pub type Responder = Arc<dyn Fn(&reqwest::Request) -> http::Response<Vec<u8>> + Send + Sync>;

/// One call's settings and record, carried by a [`Client`] for progenitor's hooks: the
/// credentials to send, the URL to send to (when a page link overrides the operation's),
/// the bound on the response body, and the status and headers of the response.
///
/// Build one `Client` (with a fresh `CallContext`) per call when you need
/// [`CallContext::status`]: the status is recorded once, for the first response. Clones
/// share the record, so a clone of the `Client` can send while another reads.
#[derive(Clone)]
pub struct CallContext {
    body_limit: usize,
    head: Arc<OnceLock<(StatusCode, reqwest::header::HeaderMap)>>,
    responder: Option<Responder>,
    authorization: Option<reqwest::header::HeaderValue>,
    url: Option<reqwest::Url>,
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallContext")
            .field("body_limit", &self.body_limit)
            .field("status", &self.status())
            .field("in_process", &self.responder.is_some())
            .field("authorized", &self.authorization.is_some())
            .field("url", &self.url.as_ref().map(reqwest::Url::as_str))
            .finish()
    }
}

impl CallContext {
    /// A call context that reads at most `body_limit` bytes of a response body; a longer body
    /// fails to read (see [`body_limit_exceeded`]).
    pub fn new(body_limit: usize) -> Self {
        Self {
            body_limit,
            head: Arc::new(OnceLock::new()),
            responder: None,
            authorization: None,
            url: None,
        }
    }

    /// Sends `value` as the request's `Authorization` header (mark it sensitive). The
    /// spec says per operation which credentials apply: the project's Basic credentials,
    /// a subscriber's Bearer token, or none.
    pub fn authorize(mut self, value: reqwest::header::HeaderValue) -> Self {
        self.authorization = Some(value);
        self
    }

    /// Sends the request to `url` instead of the URL the operation builds: how a page's
    /// `links.next` is followed exactly as the server gave it. Check the URL first.
    pub fn at_url(mut self, url: reqwest::Url) -> Self {
        self.url = Some(url);
        self
    }

    /// A call context whose requests never leave the process: `responder` answers each one,
    /// and the answer goes through the same hooks and decoding as a real response. For
    /// fuzzing and property tests of response handling.
    pub fn with_responder(body_limit: usize, responder: Responder) -> Self {
        Self {
            responder: Some(responder),
            ..Self::new(body_limit)
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
        self.head.get().map(|(status, _)| *status)
    }

    /// The headers of a failed (non-2xx) response, once one has arrived (for
    /// `Retry-After` on a response whose body progenitor could not decode). Empty for a
    /// success, whose headers progenitor hands back itself.
    pub fn headers(&self) -> Option<&reqwest::header::HeaderMap> {
        self.head.get().map(|(_, headers)| headers)
    }
}

/// True when `error` (or an error it wraps) says a response body was longer than the
/// [`CallContext`]'s limit.
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

impl ClientHooks<CallContext> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let call = self.inner();
        if let Some(value) = &call.authorization {
            request
                .headers_mut()
                .insert(reqwest::header::AUTHORIZATION, value.clone());
        }
        if let Some(url) = &call.url {
            *request.url_mut() = url.clone();
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let call = self.inner();
        let response = match &call.responder {
            Some(responder) => reqwest::Response::from(responder(&request)),
            None => self.client().execute(request).await?,
        };
        // Only the first response is recorded; `set` failing means this client was reused.
        // Headers are kept only for failures (Retry-After); a success needs the status alone.
        let headers = if response.status().is_success() {
            reqwest::header::HeaderMap::new()
        } else {
            response.headers().clone()
        };
        let _ = call.head.set((response.status(), headers));
        // A body whose declared length fits needs no wrapper: hyper never reads past
        // Content-Length. Anything else (chunked, or declared too long) is read through
        // a length limit.
        if response
            .content_length()
            .is_some_and(|length| length <= call.body_limit as u64)
        {
            return Ok(response);
        }
        let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
        let limited = http_body_util::Limited::new(body, call.body_limit);
        Ok(http::Response::from_parts(parts, reqwest::Body::wrap(limited)).into())
    }
}
