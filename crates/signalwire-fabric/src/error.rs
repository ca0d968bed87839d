//! The one error type of the crate, and what a caller can ask of it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can go wrong, in terms a caller can act on.
///
/// Messages never contain a secret: tokens and the API token are never part of an error,
/// and response bodies are kept only as a short snippet with anything token-shaped
/// replaced by `[redacted]`.
///
/// ```
/// # use signalwire_fabric::Error;
/// fn explain(error: &Error) -> &'static str {
///     if error.requires_new_subscriber_token() {
///         "the refresh token is dead: create a new subscriber token"
///     } else if error.is_retryable() {
///         "try again later"
///     } else {
///         "fix the request or the configuration"
///     }
/// }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SDK refused an input before sending anything.
    #[error("invalid {field}: {reason} (nothing was sent)")]
    #[non_exhaustive]
    InvalidInput {
        /// The setting, argument or request field at fault.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// 401: SignalWire did not accept the credentials: the project id and API token, or,
    /// for an invite, the subscriber's access token.
    #[error(
        "401 Unauthorized{}: the credentials were refused; check the project id and API token \
         (and that the token has a Voice, Messaging, Fax or Video scope), or for an invite, \
         that the subscriber's access token is still valid",
        server_says(message)
    )]
    #[non_exhaustive]
    Unauthorized {
        /// The server's `error` text, when it sent one.
        message: Option<String>,
    },

    /// 403: the request is not allowed (for example an embed token for a click-to-call
    /// token the space does not know).
    #[error("403 Forbidden{}", server_says(message))]
    #[non_exhaustive]
    Forbidden {
        /// The server's `error` text, when it sent one.
        message: Option<String>,
    },

    /// 404: nothing at this path in this space: a wrong space, an unknown id, or an
    /// expired page link.
    #[error(
        "404 Not Found{}: check the space name or base URL, the id asked for, or that a page \
         link has not expired",
        server_says(message)
    )]
    #[non_exhaustive]
    NotFound {
        /// The server's `error` text, when it sent one.
        message: Option<String>,
    },

    /// 422: the server rejected the request's content. See [`FieldError`] for each
    /// broken rule, and [`Error::requires_new_subscriber_token`].
    #[error(
        "422 request rejected: {}{}",
        FieldErrors(errors),
        dead_token_hint(errors)
    )]
    #[non_exhaustive]
    Rejected {
        /// One entry per broken rule, in the server's order.
        errors: Vec<FieldError>,
        /// How long the server asked us to wait, from `Retry-After` (it may send one with
        /// `rate_limit_exceeded`).
        retry_after: Option<Duration>,
    },

    /// 429: too many requests; wait before trying again.
    #[error("429 Too Many Requests: {}", retry_hint(retry_after))]
    #[non_exhaustive]
    RateLimited {
        /// How long the server asked us to wait, from `Retry-After`.
        retry_after: Option<Duration>,
    },

    /// 5xx: SignalWire (or a proxy in front of it) failed.
    #[error(
        "server error {status}{}{}; {}",
        server_says(message),
        snippet(body),
        retry_hint(retry_after)
    )]
    #[non_exhaustive]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's `error` text, when the body was our error shape.
        message: Option<String>,
        /// The start of the body, when it was not.
        body: Option<String>,
        /// How long the server asked us to wait, from `Retry-After`.
        retry_after: Option<Duration>,
    },

    /// A status the contract does not list for this operation (an undocumented 2xx, a
    /// redirect, which is never followed, or another 4xx).
    #[error(
        "unexpected {status} response{}{}{}",
        content_type.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        location.as_deref().map(|l| format!(" redirecting to {l}: redirects are not followed, so credentials never leave the configured host")).unwrap_or_default(),
        snippet(body)
    )]
    #[non_exhaustive]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// How long the server asked us to wait, from `Retry-After` (a 408 may carry one).
        retry_after: Option<Duration>,
        /// The response's `Content-Type`, when it had one.
        content_type: Option<String>,
        /// Where a redirect pointed.
        location: Option<String>,
        /// The start of the body.
        body: Option<String>,
    },

    /// A documented status whose body did not have the documented shape.
    #[error(
        "the {status} response body is not {expected}: {reason}{}",
        snippet(body)
    )]
    #[non_exhaustive]
    Decode {
        /// The HTTP status.
        status: u16,
        /// What the body should have been, e.g. "a token pair".
        expected: &'static str,
        /// What was wrong with it.
        reason: String,
        /// The start of the body.
        body: Option<String>,
    },

    /// The response body was longer than the client's limit; the rest was not read.
    #[error(
        "the {status} response body is larger than the {limit}-byte limit (see ClientBuilder::max_response_bytes)"
    )]
    #[non_exhaustive]
    ResponseTooLarge {
        /// The HTTP status.
        status: u16,
        /// The limit in bytes.
        limit: usize,
    },

    /// The exchange failed below HTTP: no connection, a timeout, a reset.
    #[error("{message} ({})", delivery.describe())]
    #[non_exhaustive]
    Transport {
        /// What went wrong.
        message: String,
        /// Whether the request may have reached the server.
        delivery: Delivery,
        /// The underlying error.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// A page's `links.next` was not followed: it pointed elsewhere (credentials never
    /// leave the configured host) or back to a page already read.
    #[error("the server's next-page link {link:?} {reason}; it was not followed")]
    #[non_exhaustive]
    UnsafeLink {
        /// The link, as the server gave it (cut short when long).
        link: String,
        /// Why it was not followed.
        reason: &'static str,
    },

    /// A [`TokenStore`](crate::TokenStore) failed to load or save a pair.
    #[error("token store: {message}")]
    #[non_exhaustive]
    Store {
        /// What failed, without any token.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// The [`SubscriberSession`](crate::SubscriberSession) can no longer refresh: the
    /// server refused its refresh token or the project credentials, or its refresh token
    /// ran out of time before a refresh succeeded. Create a new subscriber token and start
    /// a new session.
    #[error("the session cannot refresh any more: {}", ended_because(*reason, cause.as_deref()))]
    #[non_exhaustive]
    SessionEnded {
        /// Why it ended.
        reason: SessionEnd,
        /// The server's answer (or other failure) that ended it, or the last failed
        /// attempt when the refresh token ran out of time; `None` when it ran out with no
        /// attempt failing (the session was idle past its refresh token's life).
        cause: Option<Box<Error>>,
    },

    /// The sessions' [`Coordinator`](crate::Coordinator) could not be reached or failed,
    /// or could not grant the refresh lease in time. Nothing was sent to SignalWire (a
    /// session never refreshes without the lease); retry later.
    #[error("session coordinator: {message}")]
    #[non_exhaustive]
    Coordinator {
        /// What failed, without any token.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// The session's background refresh stopped part-way (a [`Refresher`](crate::Refresher)
    /// or [`TokenStore`](crate::TokenStore) panicked, or the runtime shut down). Nothing
    /// is wedged: the next call to the session starts the refresh again.
    #[error(
        "the session's background refresh stopped unexpectedly (a panic in a Refresher or \
         TokenStore, or the runtime shutting down); the next call tries again"
    )]
    RefreshInterrupted,
}

/// Why a [`SubscriberSession`](crate::SubscriberSession) ended; see
/// [`Error::SessionEnded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The server refused the refresh token or the credentials (401, or a 422 such as
    /// `token_invalid` or `token_expired`); the cause is its answer.
    Refused,
    /// The refresh token ran out of time before a refresh succeeded (retries kept
    /// failing, the server asked to wait past its expiry, or the session sat idle).
    RefreshTokenExpired,
}

/// Why a session ended, ending with what to do (said once, though the server's answer
/// may say it already).
fn ended_because(reason: SessionEnd, cause: Option<&Error>) -> String {
    const NEW_TOKEN: &str = "create a new subscriber token";
    let why = ended_why(reason, cause);
    if why.ends_with(NEW_TOKEN) {
        why
    } else {
        format!("{why}; {NEW_TOKEN}")
    }
}

fn ended_why(reason: SessionEnd, cause: Option<&Error>) -> String {
    match (reason, cause) {
        (SessionEnd::Refused, Some(cause)) => format!("the server refused the refresh: {cause}"),
        (SessionEnd::Refused, None) => "the server refused the refresh".to_owned(),
        (SessionEnd::RefreshTokenExpired, Some(cause)) => format!(
            "its refresh token ran out of time before a refresh succeeded (the last attempt: {cause})"
        ),
        (SessionEnd::RefreshTokenExpired, None) => {
            "its refresh token ran out of time before a refresh was attempted".to_owned()
        }
    }
}

/// Whether a failed request may have reached the server.
///
/// This matters for refresh tokens: a refresh that reached the server may have consumed
/// the token even though no answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// No connection was made; the server has not seen the request.
    NotSent,
    /// The request may or may not have been received (a timeout, a reset mid-request).
    Unknown,
    /// The server received the request; its answer was lost or cut short.
    Received,
}

impl Delivery {
    fn describe(self) -> &'static str {
        match self {
            Delivery::NotSent => "the request was not sent",
            Delivery::Unknown => "the request may have reached the server",
            Delivery::Received => "the server received the request",
        }
    }
}

/// One rule a rejected (422) request broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldError {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// The request field at fault, when the server named one.
    pub attribute: Option<String>,
    /// The server's sentence for people.
    pub message: String,
    /// The kind of error, typically `validation_error`.
    pub kind: String,
    /// Where the server documents the code.
    pub url: String,
}

impl FieldError {
    /// A field error with `code` and `message` (for test doubles and custom
    /// [`Refresher`](crate::Refresher)s; the SDK builds them from 422 bodies).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            attribute: None,
            message: message.into(),
            kind: "validation_error".to_owned(),
            url: String::new(),
        }
    }

    /// The same error, naming the request field at fault.
    pub fn with_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.attribute = Some(attribute.into());
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(attribute) = &self.attribute {
            write!(f, " on {attribute}")?;
        }
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        Ok(())
    }
}

/// The codes SignalWire puts in 422 bodies, typed where the SDK acts on them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `token_expired`: the refresh token's 2 h 5 min are over.
    TokenExpired,
    /// `not_a_refresh_token`: an access token was sent where a refresh token belongs.
    NotARefreshToken,
    /// `token_invalid`: the server does not know the token (or it was already used).
    TokenInvalid,
    /// `invalid_token_format`: the text is not a token.
    InvalidTokenFormat,
    /// `missing_required_parameter`.
    MissingRequiredParameter,
    /// `invalid_parameter`.
    InvalidParameter,
    /// `must_belong_to_project`: a referenced resource belongs to another project.
    MustBelongToProject,
    /// `rate_limit_exceeded`.
    RateLimitExceeded,
    /// A code this version of the SDK does not know.
    Other(String),
}

impl ErrorCode {
    /// The wire form, e.g. `token_expired`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::NotARefreshToken => "not_a_refresh_token",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::InvalidTokenFormat => "invalid_token_format",
            ErrorCode::MissingRequiredParameter => "missing_required_parameter",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::MustBelongToProject => "must_belong_to_project",
            ErrorCode::RateLimitExceeded => "rate_limit_exceeded",
            ErrorCode::Other(code) => code,
        }
    }

    /// True for the codes that mean a refresh token will never work again.
    pub fn means_dead_refresh_token(&self) -> bool {
        matches!(
            self,
            ErrorCode::TokenExpired
                | ErrorCode::NotARefreshToken
                | ErrorCode::TokenInvalid
                | ErrorCode::InvalidTokenFormat
        )
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        match code {
            "token_expired" => ErrorCode::TokenExpired,
            "not_a_refresh_token" => ErrorCode::NotARefreshToken,
            "token_invalid" => ErrorCode::TokenInvalid,
            "invalid_token_format" => ErrorCode::InvalidTokenFormat,
            "missing_required_parameter" => ErrorCode::MissingRequiredParameter,
            "invalid_parameter" => ErrorCode::InvalidParameter,
            "must_belong_to_project" => ErrorCode::MustBelongToProject,
            "rate_limit_exceeded" => ErrorCode::RateLimitExceeded,
            other => ErrorCode::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The HTTP status of the response this error came from, if one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::Rejected { .. } => Some(422),
            Error::RateLimited { .. } => Some(429),
            Error::Server { status, .. }
            | Error::UnexpectedResponse { status, .. }
            | Error::Decode { status, .. }
            | Error::ResponseTooLarge { status, .. } => Some(*status),
            Error::SessionEnded { cause, .. } => cause.as_ref().and_then(|cause| cause.status()),
            Error::InvalidInput { .. }
            | Error::Transport { .. }
            | Error::Store { .. }
            | Error::UnsafeLink { .. }
            | Error::Coordinator { .. }
            | Error::RefreshInterrupted => None,
        }
    }

    /// True when the same request may succeed later: a connection or timeout failure,
    /// 408, 429, or a 5xx. See [`Error::retry_after`] for how long to wait.
    ///
    /// For a refresh, a retry after a failure that may have reached the server can find
    /// the refresh token already consumed; [`SubscriberSession`](crate::SubscriberSession)
    /// deals with that.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. }
            | Error::RateLimited { .. }
            | Error::Server { .. }
            | Error::Coordinator { .. }
            | Error::RefreshInterrupted => true,
            Error::Rejected { errors, .. } => errors
                .iter()
                .any(|error| error.code == ErrorCode::RateLimitExceeded),
            Error::UnexpectedResponse { status, .. } => *status == 408,
            _ => false,
        }
    }

    /// True when the refresh token can never be exchanged again (it expired, was already
    /// used, was never valid, or was an access token): a new subscriber token must be
    /// created with [`SubscriberTokens::create`](crate::SubscriberTokens::create).
    pub fn requires_new_subscriber_token(&self) -> bool {
        match self {
            Error::Rejected { errors, .. } => errors
                .iter()
                .any(|error| error.code.means_dead_refresh_token()),
            Error::SessionEnded { .. } => true,
            _ => false,
        }
    }

    /// How long the server asked to wait before retrying (`Retry-After`, at most a day),
    /// for every answer that can carry it: 408, 422 `rate_limit_exceeded`, 429 and 5xx
    /// (inside a [`Error::SessionEnded`], its cause's). `None` when the server said
    /// nothing, or no answer came (a transport error): back off on your own then.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after }
            | Error::Server { retry_after, .. }
            | Error::Rejected { retry_after, .. }
            | Error::UnexpectedResponse { retry_after, .. } => *retry_after,
            Error::SessionEnded { cause, .. } => {
                cause.as_ref().and_then(|cause| cause.retry_after())
            }
            _ => None,
        }
    }

    /// A 401, as a server (or a custom [`Refresher`](crate::Refresher)) would give.
    pub fn unauthorized() -> Self {
        Error::Unauthorized { message: None }
    }

    /// A 422 rejection with these broken rules.
    ///
    /// ```
    /// use signalwire_fabric::{Error, ErrorCode, FieldError};
    ///
    /// let spent = Error::rejected([FieldError::new(ErrorCode::TokenInvalid, "Token is invalid.")]);
    /// assert!(spent.requires_new_subscriber_token());
    /// ```
    pub fn rejected(errors: impl IntoIterator<Item = FieldError>) -> Self {
        Error::Rejected {
            errors: errors.into_iter().collect(),
            retry_after: None,
        }
    }

    /// A 429.
    pub fn rate_limited() -> Self {
        Error::RateLimited { retry_after: None }
    }

    /// A server error with this status (a 5xx, or a 503 from a proxy).
    ///
    /// ```
    /// use std::time::Duration;
    /// use signalwire_fabric::Error;
    ///
    /// let busy = Error::server(503).with_retry_after(Duration::from_secs(30));
    /// assert!(busy.is_retryable());
    /// assert_eq!(busy.retry_after(), Some(Duration::from_secs(30)));
    /// ```
    pub fn server(status: u16) -> Self {
        Error::Server {
            status,
            message: None,
            body: None,
            retry_after: None,
        }
    }

    /// A failure below HTTP (no connection, a timeout, a reset).
    pub fn transport(message: impl Into<String>, delivery: Delivery) -> Self {
        Error::Transport {
            message: message.into(),
            delivery,
            source: None,
        }
    }

    /// The same error with `Retry-After` set, where its kind can carry one (408, 422, 429,
    /// 5xx); other kinds are returned unchanged.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        match &mut self {
            Error::RateLimited { retry_after }
            | Error::Server { retry_after, .. }
            | Error::Rejected { retry_after, .. }
            | Error::UnexpectedResponse { retry_after, .. } => *retry_after = Some(wait),
            _ => {}
        }
        self
    }

    /// The same error with the server's `error` text set, where its kind has one (401,
    /// 403, 404, 5xx); other kinds are returned unchanged.
    pub fn with_message(mut self, text: impl Into<String>) -> Self {
        match &mut self {
            Error::Unauthorized { message }
            | Error::Forbidden { message }
            | Error::NotFound { message }
            | Error::Server { message, .. } => *message = Some(text.into()),
            _ => {}
        }
        self
    }

    /// The broken rules of a 422, empty for every other error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Rejected { errors, .. } => errors,
            _ => &[],
        }
    }

    /// False only when the request certainly did not reach the server (it was refused
    /// before sending, or no connection was made).
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            Error::InvalidInput { .. } | Error::Store { .. } | Error::Coordinator { .. } => false,
            Error::Transport { delivery, .. } => *delivery != Delivery::NotSent,
            Error::SessionEnded { cause, .. } => cause
                .as_ref()
                .is_some_and(|cause| cause.may_have_reached_server()),
            _ => true,
        }
    }

    /// True when the server answered with success but its body could not be read (cut
    /// short, too large, or not the shape the contract says): it may have done what was
    /// asked, and for a refresh, spent the refresh token and issued a pair that was
    /// never seen.
    pub fn is_answer_lost(&self) -> bool {
        matches!(
            self,
            Error::Decode {
                status: 200..=299,
                ..
            } | Error::ResponseTooLarge {
                status: 200..=299,
                ..
            }
        )
    }

    /// True when the server refused the credentials the request carried (401), or what
    /// they may do (403).
    pub fn is_authentication(&self) -> bool {
        matches!(self, Error::Unauthorized { .. } | Error::Forbidden { .. })
    }

    /// The setting or argument an [`Error::InvalidInput`] names; `None` for every other
    /// error.
    ///
    /// ```
    /// let error = signalwire_fabric::Error::invalid_input("fingerprint", "is empty");
    /// assert_eq!(error.invalid_field(), Some("fingerprint"));
    /// ```
    pub fn invalid_field(&self) -> Option<&'static str> {
        match self {
            Error::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Why an [`Error::InvalidInput`] refused its field (it never quotes a secret);
    /// `None` for every other error.
    pub fn invalid_reason(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// True when a [`SubscriberSession`](crate::SubscriberSession) can no longer refresh
    /// ([`Error::SessionEnded`]): start a new one with a new subscriber token.
    pub fn is_session_ended(&self) -> bool {
        matches!(self, Error::SessionEnded { .. })
    }

    /// A [`Coordinator`](crate::Coordinator) failure (for implementations of it); add
    /// what caused it with [`Error::caused_by`].
    pub fn coordinator(message: impl Into<String>) -> Self {
        Error::Coordinator {
            message: message.into(),
            source: None,
        }
    }

    /// A [`TokenStore`](crate::TokenStore) failure (for implementations of it); add what
    /// caused it with [`Error::caused_by`].
    pub fn store(message: impl Into<String>) -> Self {
        Error::Store {
            message: message.into(),
            source: None,
        }
    }

    /// The same error with `source` as what caused it, where its kind keeps one (a
    /// coordinator, store or transport failure); other kinds are returned unchanged.
    /// Make sure the source says nothing secret.
    ///
    /// ```
    /// use signalwire_fabric::Error;
    ///
    /// let io = std::io::Error::other("connection reset");
    /// let error = Error::coordinator("Redis at 127.0.0.1:6379: load failed").caused_by(io);
    /// assert!(std::error::Error::source(&error).is_some());
    /// ```
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        match &mut self {
            Error::Coordinator { source: kept, .. }
            | Error::Store { source: kept, .. }
            | Error::Transport { source: kept, .. } => *kept = Some(Arc::new(source)),
            _ => {}
        }
        self
    }

    /// A setting or argument refused before anything was done, naming it (for
    /// implementations of [`Refresher`](crate::Refresher),
    /// [`TokenStore`](crate::TokenStore) and [`Coordinator`](crate::Coordinator) that
    /// check their own settings). Say why without quoting a secret.
    ///
    /// ```
    /// let error = signalwire_fabric::Error::invalid_input("key_prefix", "contains '{'");
    /// assert_eq!(error.to_string(), "invalid key_prefix: contains '{' (nothing was sent)");
    /// ```
    pub fn invalid_input(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

fn server_says(message: &Option<String>) -> String {
    match message {
        Some(message) if !message.is_empty() => format!(" (server says: {message})"),
        _ => String::new(),
    }
}

fn snippet(body: &Option<String>) -> String {
    match body {
        Some(body) if !body.is_empty() => format!("; body starts: {body:?}"),
        _ => String::new(),
    }
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("retry after {}s", wait.as_secs()),
        None => "retry later with backoff".to_owned(),
    }
}

fn dead_token_hint(errors: &[FieldError]) -> &'static str {
    if errors
        .iter()
        .any(|error| error.code.means_dead_refresh_token())
    {
        "; this refresh token will never work again: create a new subscriber token"
    } else {
        ""
    }
}

struct FieldErrors<'a>(&'a [FieldError]);

impl fmt::Display for FieldErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no reason given");
        }
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16) -> Error {
        Error::Decode {
            status,
            expected: "a token pair",
            reason: "cut short".to_owned(),
            body: None,
        }
    }

    #[test]
    fn errors_answer_questions_without_their_variants_being_matched() {
        assert!(decode(201).is_answer_lost());
        assert!(
            Error::ResponseTooLarge {
                status: 200,
                limit: 1
            }
            .is_answer_lost()
        );
        assert!(!decode(422).is_answer_lost(), "a refusal was read as such");
        assert!(!Error::server(503).is_answer_lost());

        assert!(Error::unauthorized().is_authentication());
        assert!(Error::Forbidden { message: None }.is_authentication());
        assert!(!Error::server(500).is_authentication());

        let invalid = Error::invalid_input("fingerprint", "is empty");
        assert_eq!(invalid.invalid_field(), Some("fingerprint"));
        assert_eq!(invalid.invalid_reason(), Some("is empty"));
        assert_eq!(Error::rate_limited().invalid_field(), None);
        assert_eq!(Error::rate_limited().invalid_reason(), None);

        let ended = Error::SessionEnded {
            reason: SessionEnd::Refused,
            cause: None,
        };
        assert!(ended.is_session_ended());
        assert!(!Error::RefreshInterrupted.is_session_ended());
    }

    #[test]
    fn caused_by_keeps_a_source_where_the_kind_has_one() {
        use std::error::Error as _;
        let io = || std::io::Error::other("reset");
        for kept in [
            Error::coordinator("down").caused_by(io()),
            Error::store("disk").caused_by(io()),
            Error::transport("no route", Delivery::NotSent).caused_by(io()),
        ] {
            assert_eq!(
                kept.source().map(ToString::to_string).as_deref(),
                Some("reset"),
                "{kept:?}"
            );
        }
        let unchanged = Error::server(500).caused_by(io());
        assert!(unchanged.source().is_none());
        assert_eq!(unchanged.status(), Some(500));
    }
}
