//! [`TokenService`]: the sessions, the limits and the decisions behind the endpoints.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use http::HeaderValue;
use signalwire_fabric::{
    AccessToken, Client, Coordinator, Error, InProcessCoordinator, RetryPolicy, Scope, SessionKey,
    SubscriberSession,
};

use crate::answer::{self, ErrorCode, Failure};
use crate::rate_limit::UserLimiter;
use crate::sessions::{Sessions, Slot};
use crate::{Authenticator, RateLimit, SubscriberProfile};

/// The longest request body the endpoints read by default, in bytes (8 KiB): room for
/// `{"refused": "<an access token>"}` (see [`TokenService::router`]), and far more than
/// `{"fingerprint": "<43 characters>"}` needs.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024;

/// How long before an access token expires the service refreshes it, by default: the
/// browser SDK asks 5 s before expiry and retries for 15 to 30 s more, so every ask and
/// retry finds the session's token either fresh or due.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// The token endpoints of SignalWire's browser SDK for one app: which user is asking
/// (the app's [`Authenticator`]), the subscriber sessions it keeps for them, and the
/// per-user limits. Clones share everything; [`TokenService::router`] serves it.
///
/// ```
/// # async fn run(client: signalwire_fabric::Client, sign_in: impl signalwire_fabric_axum::Authenticator) {
/// use signalwire_fabric_axum::TokenService;
///
/// let tokens = TokenService::builder(client, sign_in).build();
/// let app: axum::Router = axum::Router::new().nest("/signalwire", tokens.router());
/// # drop(app);
/// # }
/// ```
///
/// # What the endpoints do
///
/// For a user without a fingerprint (the browser SDK refreshes through the app), the
/// service answers with the access token of the user's [`SubscriberSession`]:
///
/// 1. this service's session for the user's [`SessionKey`], if it holds one;
/// 2. else the pair another instance published to the [`Coordinator`] under that key;
/// 3. else a new subscriber token, created for the profile's reference by exactly one of
///    the instances starting the user's session at once (it holds the coordinator's lease
///    while it creates; [`SubscriberSession::join_or_create`]), and published to the
///    coordinator for the others.
///
/// The session hands out its current token while it has more than the refresh-ahead
/// margin left and refreshes once when it is due, however many tabs, retries and
/// instances ask; its refresh token never leaves the server. When the session has ended
/// (SignalWire refused its refresh token, or nobody asked for longer than the refresh
/// token lives), the service drops it and creates a new subscriber token in the same
/// request: the user is signed in to the app, so they are entitled to one.
///
/// With a fingerprint, the service creates a client-bound token (the fingerprint and
/// `scope: "sat:refresh"`), answers with its access token and keeps nothing: the browser
/// SDK refreshes such a token itself once its connection to SignalWire is up. Until then
/// it calls `refresh()`, which is answered like any other, with the user's session token.
///
/// A refresh may name a token SignalWire refused (`{"refused": "<access token>"}`): the
/// session refreshes now if that is its current token, and otherwise answers its current
/// one (see the crate's docs, "A token SignalWire refused").
#[derive(Clone)]
pub struct TokenService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    client: Client,
    authenticator: Arc<dyn Authenticator>,
    coordinator: Arc<dyn Coordinator>,
    limiter: UserLimiter,
    sessions: Sessions,
    pub(crate) max_body_bytes: usize,
    pub(crate) allowed_origins: Vec<HeaderValue>,
    refresh_ahead: Duration,
    jitter: Option<Duration>,
    retry: Option<RetryPolicy>,
    token_lifetime: Option<Duration>,
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("TokenService")
            .field("coordinator", &inner.coordinator)
            .field("sessions", &inner.sessions.len())
            .field("limiter", &inner.limiter)
            .field("max_body_bytes", &inner.max_body_bytes)
            .field("allowed_origins", &inner.allowed_origins)
            .field("refresh_ahead", &inner.refresh_ahead)
            .field("retry", &inner.retry)
            .field("token_lifetime", &inner.token_lifetime)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenService`]; see [`TokenService::builder`].
pub struct TokenServiceBuilder {
    client: Client,
    authenticator: Arc<dyn Authenticator>,
    coordinator: Arc<dyn Coordinator>,
    rate_limit: RateLimit,
    max_body_bytes: usize,
    allowed_origins: Vec<HeaderValue>,
    refresh_ahead: Duration,
    jitter: Option<Duration>,
    retry: Option<RetryPolicy>,
    token_lifetime: Option<Duration>,
}

impl fmt::Debug for TokenServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenServiceBuilder")
            .field("coordinator", &self.coordinator)
            .field("rate_limit", &self.rate_limit)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("allowed_origins", &self.allowed_origins)
            .field("refresh_ahead", &self.refresh_ahead)
            .field("jitter", &self.jitter)
            .field("retry", &self.retry)
            .field("token_lifetime", &self.token_lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenServiceBuilder {
    /// Where the service's sessions share each user's pair (default: an
    /// [`InProcessCoordinator`] of its own). Give every instance of the app the same
    /// shared coordinator (for example `signalwire-fabric-redis`) so that any of them can
    /// answer any user, with one refresh per rotation between them. An
    /// `Arc<dyn Coordinator>` is a coordinator.
    pub fn coordinator(mut self, coordinator: impl Coordinator) -> Self {
        self.coordinator = Arc::new(coordinator);
        self
    }

    /// How often one user may ask (default [`RateLimit::default`]: 20 per minute). Over
    /// it, the endpoints answer 429 `rate_limited` with `Retry-After`.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// The longest body read, in bytes (default [`DEFAULT_MAX_BODY_BYTES`]); a longer one
    /// is answered 413 `body_too_large`.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Lets pages from `origin` (`https://app.example.com`: `http` or `https`, a host and
    /// a port, no path) call the endpoints from another origin, with their cookies. Call
    /// it once per origin. Without any, no CORS headers are sent and browsers keep other
    /// origins out (pages served by the app itself need none).
    ///
    /// The origin is kept as browsers write the `Origin` they send: the scheme and host
    /// in lower case and without the scheme's default port, so
    /// `https://App.Example.com:443` allows `https://app.example.com`. Write a host
    /// outside ASCII in its `xn--` form, which is how browsers send it.
    ///
    /// Anything else is ignored, and logged as an error: `*` (a credential endpoint open
    /// to every site), `null` (the origin of sandboxed frames and local files), a path,
    /// a query, user info, another scheme, a port that is not 1 to 65535, or a host with
    /// characters other than ASCII letters, digits, `.` and `-` (or an IPv6 address in
    /// brackets).
    pub fn allow_origin(mut self, origin: &str) -> Self {
        match checked_origin(origin) {
            Some(value) => self.allowed_origins.push(value),
            None => tracing::error!(
                origin,
                "an allowed origin must be http(s)://host[:port]; this one was ignored"
            ),
        }
        self
    }

    /// How long before an access token expires its session refreshes it (default
    /// [`DEFAULT_REFRESH_AHEAD`]); capped at half the token's life by the session. Keep it
    /// above 5 s, when the browser SDK asks.
    pub fn refresh_ahead(mut self, margin: Duration) -> Self {
        self.refresh_ahead = margin;
        self
    }

    /// The most random time added to the refresh-ahead margin of each session (default:
    /// the session's own, [`signalwire_fabric::DEFAULT_JITTER`]).
    pub fn jitter(mut self, max: Duration) -> Self {
        self.jitter = Some(max);
        self
    }

    /// How each user's session retries a refresh that SignalWire failed (default: the
    /// session's own, [`RetryPolicy::default`], waits of up to 0.5 s doubling to at most
    /// 30 s).
    ///
    /// While SignalWire is down and the user's token still has time left, the service
    /// answers that token and the browser SDK, seeing less than 5 s left, asks again every
    /// second; once the token has expired the service answers 503 `upstream_unavailable`
    /// between the session's retries (without asking SignalWire), and the SDK retries after
    /// 1–2, 2–4, 4–8 and 8–16 s, then gives up and disconnects: 15 to 30 s after the
    /// expiry. A SignalWire that comes back is noticed at the session's next retry, so a
    /// `max` well under 15 s keeps that within the SDK's patience, at the price of more
    /// attempts per user while SignalWire is down.
    ///
    /// ```
    /// # fn run(client: signalwire_fabric::Client, sign_in: impl signalwire_fabric_axum::Authenticator) {
    /// use std::time::Duration;
    /// use signalwire_fabric::RetryPolicy;
    /// use signalwire_fabric_axum::TokenService;
    ///
    /// let retry = RetryPolicy { initial: Duration::from_millis(500), max: Duration::from_secs(4) };
    /// let tokens = TokenService::builder(client, sign_in).retry(retry).build();
    /// # drop(tokens);
    /// # }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Asks SignalWire for access tokens that live `lifetime` (rounded up to whole
    /// seconds, at most a year) when creating subscriber tokens, instead of its default of two hours.
    /// Refreshed tokens live as SignalWire decides. Meant for demos and tests that want
    /// to see a refresh within seconds.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = Some(lifetime);
        self
    }

    /// Builds the service. Nothing is sent until the first request.
    pub fn build(self) -> TokenService {
        TokenService {
            inner: Arc::new(Inner {
                client: self.client,
                authenticator: self.authenticator,
                coordinator: self.coordinator,
                limiter: UserLimiter::new(self.rate_limit),
                sessions: Sessions::default(),
                max_body_bytes: self.max_body_bytes,
                allowed_origins: self.allowed_origins,
                refresh_ahead: self.refresh_ahead,
                jitter: self.jitter,
                retry: self.retry,
                token_lifetime: self.token_lifetime,
            }),
        }
    }
}

impl TokenService {
    /// Starts configuring a service that creates and refreshes subscriber tokens with
    /// `client` for the users `authenticator` lets in.
    pub fn builder(client: Client, authenticator: impl Authenticator) -> TokenServiceBuilder {
        TokenServiceBuilder {
            client,
            authenticator: Arc::new(authenticator),
            coordinator: Arc::new(InProcessCoordinator::new()),
            rate_limit: RateLimit::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allowed_origins: Vec::new(),
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            jitter: None,
            retry: None,
            token_lifetime: None,
        }
    }

    /// The session this service holds for `key`'s user, if it started one: for the app's
    /// own server-side calls (for example [`SubscriberSession::invite_token`]) and its
    /// health checks.
    pub fn session(&self, key: &SessionKey) -> Option<SubscriberSession> {
        self.inner.sessions.get(key)
    }

    pub(crate) async fn authenticate_user(
        &self,
        request: &http::request::Parts,
    ) -> Result<SubscriberProfile, Failure> {
        self.inner
            .authenticator
            .authenticate(request)
            .await
            .map_err(|refusal| match refusal {
                crate::Refusal::Forbidden => Failure::new(
                    ErrorCode::Forbidden,
                    "this user may not have a subscriber token",
                ),
                _ => Failure::new(ErrorCode::Unauthenticated, "sign in first"),
            })
    }

    pub(crate) fn count_request(&self, profile: &SubscriberProfile) -> Result<(), Failure> {
        self.inner.limiter.check(profile.key()).map_err(|wait| {
            tracing::warn!(key = %profile.key(), wait_ms = wait.as_millis() as u64, "a user asked for tokens too often");
            Failure::new(
                ErrorCode::RateLimited,
                "too many token requests; ask again after Retry-After seconds",
            )
            .retry_after(Some(wait))
        })
    }

    /// The user's session token: see the type's docs. With `refused` (a token the browser
    /// says SignalWire refused), the session refreshes now if that is its current token,
    /// and answers its newer token if it has moved past it
    /// ([`SubscriberSession::refresh_if_current`]); it never answers `refused` itself
    /// unless a refresh handed it out again.
    pub(crate) async fn session_token(
        &self,
        profile: &SubscriberProfile,
        refused: Option<&AccessToken>,
    ) -> Result<Response, Failure> {
        let key = profile.key();
        // The generation of a session that ended here: never join it again.
        let mut ended: Option<u64> = None;
        let mut last_error = None;
        for _ in 0..2 {
            let (slot, prune) = self.inner.sessions.slot(key);
            if prune {
                self.inner.sessions.prune();
            }
            let session = match slot.get() {
                Some(session) => session.clone(),
                None => self.started_session(profile, ended, &slot).await?,
            };
            let token = match refused {
                Some(refused) => session.refresh_if_current(refused).await,
                None => session.access_token().await,
            };
            match token {
                Ok(_) => return Ok(answer::credential(&session.pair())),
                Err(error @ Error::SessionEnded { .. }) => {
                    tracing::warn!(%key, error = %error, "the user's subscriber session ended; starting a new one");
                    ended = Some(session.status().generation);
                    self.inner.sessions.remove(key, &slot);
                    last_error = Some(error);
                }
                Err(error) => return Err(upstream_failure(key, &error)),
            }
        }
        let error = last_error.unwrap_or(Error::RefreshInterrupted);
        Err(upstream_failure(key, &error))
    }

    /// The session `slot` holds once it is started, starting it if nobody is. The start
    /// runs in a task of its own, which the request only waits for: a request given up
    /// on (a closed tab, a reload, a proxy's timeout) would otherwise abandon a
    /// subscriber token half made, with the coordinator's lease still taken, and the
    /// user's next request would wait out the lease and create another. The task
    /// finishes creating and publishing the pair and fills the slot, so the next request
    /// finds the session (or waits for the same start) and nothing is created twice.
    async fn started_session(
        &self,
        profile: &SubscriberProfile,
        ended: Option<u64>,
        slot: &Slot,
    ) -> Result<SubscriberSession, Failure> {
        let key = profile.key();
        let service = self.clone();
        let owned = profile.clone();
        let slot = Arc::clone(slot);
        let start = tokio::spawn(async move {
            slot.get_or_try_init(|| service.start_session(&owned, ended))
                .await
                .cloned()
        });
        match start.await {
            Ok(started) => started,
            // The start panicked (a coordinator's bug, say): nothing was kept, and the
            // next request starts again. The panic's message is not logged: it could
            // quote anything.
            Err(_) => {
                tracing::error!(%key, "the task starting the user's session panicked");
                Err(Error::RefreshInterrupted)
            }
        }
        .map_err(|error| upstream_failure(key, &error))
    }

    /// A session for the user: joined from the coordinator, or on a new subscriber token
    /// that exactly one instance creates ([`SubscriberSession::join_or_create`]). After a
    /// session ended at generation `ended`, only a newer pair is joined.
    async fn start_session(
        &self,
        profile: &SubscriberProfile,
        ended: Option<u64>,
    ) -> Result<SubscriberSession, Error> {
        let inner = &self.inner;
        let key = profile.key();
        let request = self.create_request(profile)?;
        let client = inner.client.clone();
        let builder = SubscriberSession::join_or_create(
            inner.client.clone(),
            Arc::clone(&inner.coordinator),
            key.clone(),
            ended.unwrap_or(0),
            || async move {
                let created = client.subscriber_tokens().create(request).await?;
                tracing::info!(%key, "created a subscriber token for the user");
                Ok(created.pair)
            },
        )
        .await?
        .refresh_ahead(inner.refresh_ahead);
        let builder = match inner.jitter {
            Some(jitter) => builder.jitter(jitter),
            None => builder,
        };
        Ok(match inner.retry {
            Some(retry) => builder.retry(retry),
            None => builder,
        }
        .build())
    }

    /// A client-bound token for the device with `fingerprint`; nothing is kept.
    pub(crate) async fn client_bound_token(
        &self,
        profile: &SubscriberProfile,
        fingerprint: &str,
    ) -> Result<Response, Failure> {
        let request = self
            .create_request(profile)
            .map_err(|error| upstream_failure(profile.key(), &error))?
            .fingerprint(fingerprint)
            .scope(Scope::SatRefresh);
        match self.inner.client.subscriber_tokens().create(request).await {
            Ok(created) => {
                tracing::info!(key = %profile.key(), "created a client-bound subscriber token");
                Ok(answer::credential(&created.pair))
            }
            Err(Error::InvalidInput {
                field: "fingerprint",
                reason,
                ..
            }) => Err(
                Failure::new(ErrorCode::InvalidBody, format!("fingerprint {reason}"))
                    .field("fingerprint"),
            ),
            Err(error) => Err(upstream_failure(profile.key(), &error)),
        }
    }

    fn create_request(
        &self,
        profile: &SubscriberProfile,
    ) -> Result<signalwire_fabric::CreateSubscriberToken, Error> {
        let request = profile.create_request();
        Ok(match self.inner.token_lifetime {
            Some(lifetime) => request.expire_at(whole_seconds_from_now(lifetime)),
            None => request,
        })
    }
}

/// The longest [`TokenServiceBuilder::token_lifetime`] asked for.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// `http(s)://host[:port]` as a header value, written as browsers send an `Origin`
/// (scheme and host in lower case, no default port), or `None`.
fn checked_origin(origin: &str) -> Option<HeaderValue> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    // The host, and the port after it if any: `[v6]:port` or `name:port`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (address, after) = v6.split_once(']')?;
            let ok =
                !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
            if !ok {
                return None;
            }
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':')?),
            };
            (&authority[..address.len() + 2], port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if !ok {
                return None;
            }
            (host, port)
        }
    };
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            match digits.parse::<u16>().ok()? {
                0 => return None,
                port if port == default_port => None,
                port => Some(port),
            }
        }
        Some(_) => return None,
    };
    let host = host.to_ascii_lowercase();
    let normal = match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    HeaderValue::from_str(&normal).ok()
}

/// `lifetime` from now (at most [`MAX_TOKEN_LIFETIME`]), as a whole number of Unix
/// seconds (what SignalWire's `expire_at` holds), so the expiry the SDK computes is the
/// server's.
fn whole_seconds_from_now(lifetime: Duration) -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let lifetime = lifetime.min(MAX_TOKEN_LIFETIME);
    let lifetime_seconds = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
    UNIX_EPOCH + Duration::from_secs(now.as_secs() + 1 + lifetime_seconds.max(1))
}

/// What a failure of SignalWire, the coordinator or the app's settings is answered with.
/// The error is logged (errors never hold secrets); the answer says only what kind it was.
fn upstream_failure(key: &SessionKey, error: &Error) -> Failure {
    match error {
        Error::InvalidInput { field, .. } => {
            tracing::error!(%key, field, error = %error, "a subscriber token could not be requested for the user's profile");
            Failure::new(
                ErrorCode::Internal,
                "the app's subscriber profile for this user was refused; see the server's log",
            )
        }
        error if error.is_retryable() || matches!(error, Error::RefreshInterrupted) => {
            tracing::warn!(%key, error = %error, "SignalWire or the coordinator is unavailable for now");
            Failure::new(
                ErrorCode::UpstreamUnavailable,
                "SignalWire could not be reached for now; ask again later",
            )
            .retry_after(error.retry_after())
        }
        error => {
            tracing::error!(%key, error = %error, "SignalWire refused a token request");
            Failure::new(
                ErrorCode::UpstreamRefused,
                "SignalWire refused the token request; see the server's log",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_origins_with_a_host_are_allowed() {
        for allowed in [
            "https://app.example.com",
            "https://app.example.com/",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
        ] {
            assert!(checked_origin(allowed).is_some(), "{allowed}");
        }
        for refused in [
            "*",
            "null",
            "https://",
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com?x",
            "https://*.example.com",
            "https://app.example.com\r\nX: y",
            "https://app.example.com:",
            "https://app.example.com:0",
            "https://app.example.com:65536",
            "https://app.example.com:44a",
            "https://app.example.com:443:443",
            "https://[::1]x",
            "https://[]",
            "https://[::1",
            "https://bücher.example",
        ] {
            assert!(checked_origin(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        for (configured, sent) in [
            ("https://APP2.example.com", "https://app2.example.com"),
            ("HTTPS://App.Example.COM/", "https://app.example.com"),
            ("https://app3.example.com:443", "https://app3.example.com"),
            ("http://localhost:80", "http://localhost"),
            ("http://app.example.com:443", "http://app.example.com:443"),
            ("https://app.example.com:80", "https://app.example.com:80"),
            (
                "https://app.example.com:08443",
                "https://app.example.com:8443",
            ),
            ("http://[::1]:80", "http://[::1]"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[FE80::1]", "http://[fe80::1]"),
        ] {
            assert_eq!(
                checked_origin(configured)
                    .as_ref()
                    .map(HeaderValue::as_bytes),
                Some(sent.as_bytes()),
                "{configured}"
            );
        }
    }

    #[test]
    fn token_lifetimes_are_whole_seconds_ahead_and_never_overflow() {
        let now = SystemTime::now();
        let ahead = |lifetime| {
            whole_seconds_from_now(lifetime)
                .duration_since(now)
                .expect("in the future")
        };
        let twelve = ahead(Duration::from_millis(11_500));
        assert!(twelve >= Duration::from_secs(12) && twelve <= Duration::from_secs(13));
        assert!(ahead(Duration::ZERO) >= Duration::from_secs(1));
        assert!(ahead(Duration::MAX) <= MAX_TOKEN_LIFETIME + Duration::from_secs(2));
        let at = whole_seconds_from_now(Duration::from_secs(60));
        assert_eq!(
            at.duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .subsec_nanos(),
            0
        );
    }
}
