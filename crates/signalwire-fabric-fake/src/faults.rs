//! Faults: answers the fake gives instead of (or on top of) its normal behaviour, to
//! test how a client copes with a failing server or proxy.

use std::time::Duration;

use http::StatusCode;

/// A misbehaviour to inject with [`FakeSpace::inject`](crate::FakeSpace::inject).
///
/// A fault with a status stands in for a failing server or proxy: it answers before the
/// fake looks at the request (credentials included) and never touches the fake's state,
/// so a refresh token sent in a faulted request is not consumed. A delay fault answers
/// normally (the token *is* consumed) but holds the answer back, which is how a
/// response lost to a client timeout looks.
///
/// ```
/// use std::time::Duration;
/// use signalwire_fabric_fake::Fault;
///
/// let _json_error = Fault::status(500); // {"error": "Internal Server Error"}
/// let _proxy_page = Fault::status(502).html(); // an HTML page, as a proxy would send
/// let _slow_down = Fault::rate_limited(Some(Duration::from_secs(3))); // 429, Retry-After: 3
/// let _slow = Fault::delay(Duration::from_millis(500)); // the normal answer, 500 ms late
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    status: Option<StatusCode>,
    html: bool,
    retry_after: Option<Duration>,
    delay: Option<Duration>,
}

impl Fault {
    /// Answers `status` with the body `{"error": "<reason phrase>"}` (for example
    /// `{"error": "Service Unavailable"}`; `"Error"` when the status has no standard
    /// phrase).
    ///
    /// # Panics
    ///
    /// When `status` is not an HTTP status code (100 to 999).
    pub fn status(status: u16) -> Self {
        let Ok(status) = StatusCode::from_u16(status) else {
            panic!("{status} is not an HTTP status code (100 to 999)");
        };
        Self {
            status: Some(status),
            html: false,
            retry_after: None,
            delay: None,
        }
    }

    /// Answers 429 Too Many Requests, with `Retry-After` in whole seconds (rounded up)
    /// when `retry_after` is given.
    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        Self {
            retry_after,
            ..Self::status(429)
        }
    }

    /// Answers normally, but only after `delay`.
    pub fn delay(delay: Duration) -> Self {
        Self {
            status: None,
            html: false,
            retry_after: None,
            delay: Some(delay),
        }
    }

    /// Sends a `text/html` page, like a proxy's error page, instead of the JSON body.
    /// Has no effect on a [`Fault::delay`].
    pub fn html(mut self) -> Self {
        self.html = true;
        self
    }

    /// The status this fault answers with; `None` for a delay.
    pub fn status_code(&self) -> Option<u16> {
        self.status.map(|status| status.as_u16())
    }

    pub(crate) fn answer(&self) -> Option<FaultAnswer> {
        let status = self.status?;
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = if self.html {
            FaultBody::Html(format!(
                "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n\
                 <body><h1>{code} {reason}</h1><p>The gateway could not reach the \
                 application. (signalwire-fabric-fake)</p></body></html>\n",
                code = status.as_u16(),
            ))
        } else {
            FaultBody::Reason(reason.to_owned())
        };
        Some(FaultAnswer {
            status,
            body,
            retry_after_seconds: self.retry_after.map(|wait| {
                wait.as_secs()
                    .saturating_add(u64::from(wait.subsec_nanos() > 0))
            }),
        })
    }

    pub(crate) fn delay_time(&self) -> Option<Duration> {
        self.delay
    }
}

/// What a status fault answers.
pub(crate) struct FaultAnswer {
    pub(crate) status: StatusCode,
    pub(crate) body: FaultBody,
    pub(crate) retry_after_seconds: Option<u64>,
}

pub(crate) enum FaultBody {
    /// `{"error": reason}`.
    Reason(String),
    /// A `text/html` page.
    Html(String),
}
