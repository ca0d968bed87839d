//! [`TokenServiceBuilder`]: the settings of a [`TokenService`], their defaults, and the
//! parts of the service it builds from them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use signalwire_fabric::{
    Client, Coordinator, InProcessCoordinator, InProcessRateLimiter, RateLimiter, RetryPolicy,
};

use crate::admission::Admission;
use crate::client_bound::ClientBoundCache;
use crate::origin::AllowedOrigins;
use crate::rate_limit::UserLimiter;
use crate::sessions::{SessionStart, UserSessions};
use crate::tokens::NewTokens;
use crate::{Authenticator, RateLimit, TokenService};

/// The longest request body the endpoints read by default, in bytes (8 KiB): room for
/// `{"refused": "<an access token>"}` (see [`TokenService::router`]), and far more than
/// `{"fingerprint": "<43 characters>"}` needs.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024;

/// How long before an access token expires the service refreshes it, by default: the
/// browser SDK asks 5 s before expiry and retries for 15 to 30 s more, so every ask and
/// retry finds the session's token either fresh or due.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// How many client-bound tokens a service keeps by default, for browsers that
/// authenticate again ([`TokenServiceBuilder::client_bound_cache`]): about a kilobyte
/// each, so about 100 MB when full.
pub const DEFAULT_CLIENT_BOUND_CACHE: usize = 100_000;

/// Configures a [`TokenService`]; see [`TokenService::builder`].
pub struct TokenServiceBuilder {
    client: Client,
    authenticator: Arc<dyn Authenticator>,
    coordinator: Arc<dyn Coordinator>,
    rate_limit: RateLimit,
    rate_limiter: Option<Arc<dyn RateLimiter>>,
    client_bound_cache: usize,
    max_body_bytes: usize,
    allowed_origins: AllowedOrigins,
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
            .field("rate_limiter", &self.rate_limiter)
            .field("client_bound_cache", &self.client_bound_cache)
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
    /// The defaults, for [`TokenService::builder`].
    pub(crate) fn new(client: Client, authenticator: Arc<dyn Authenticator>) -> Self {
        Self {
            client,
            authenticator,
            coordinator: Arc::new(InProcessCoordinator::new()),
            rate_limit: RateLimit::default(),
            rate_limiter: None,
            client_bound_cache: DEFAULT_CLIENT_BOUND_CACHE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allowed_origins: AllowedOrigins::default(),
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            jitter: None,
            retry: None,
            token_lifetime: None,
        }
    }
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
    ///
    /// The limit holds across every instance that shares the rate limiter
    /// ([`TokenServiceBuilder::rate_limiter`]): by default the coordinator's, so
    /// instances sharing a Redis coordinator give a user the limit once between them,
    /// not once each.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Where users' requests are counted against the [rate limit](Self::rate_limit).
    /// By default, the coordinator's own limiter
    /// ([`Coordinator::rate_limiter`]): in Redis for `signalwire-fabric-redis`'s
    /// coordinator (scripts on the Redis server's clock, each request decided on its
    /// own; the requests of one turn of the runtime share a script), shared in
    /// process for an [`InProcessCoordinator`]; a coordinator that offers none gets an
    /// [`InProcessRateLimiter`] of the service's own. When the limiter cannot be reached,
    /// the service counts the request in its own process instead (the user then gets the
    /// limit once per instance for that while) and logs a warning.
    ///
    /// ```
    /// # fn run(client: signalwire_fabric::Client, sign_in: impl signalwire_fabric_axum::Authenticator) {
    /// use signalwire_fabric::InProcessRateLimiter;
    /// use signalwire_fabric_axum::TokenService;
    ///
    /// // Every service given this limiter counts a user's requests once between them.
    /// let limiter = InProcessRateLimiter::new();
    /// let tokens = TokenService::builder(client, sign_in).rate_limiter(limiter.clone()).build();
    /// # drop(tokens);
    /// # }
    /// ```
    pub fn rate_limiter(mut self, limiter: impl RateLimiter) -> Self {
        self.rate_limiter = Some(Arc::new(limiter));
        self
    }

    /// How many client-bound tokens the service keeps to answer again (default
    /// [`DEFAULT_CLIENT_BOUND_CACHE`]; 0 keeps none). The browser SDK authenticates again,
    /// with its fingerprint, every time it reconnects: a token minted for the same user
    /// and fingerprint is bound to the same browser's key pair, so while it has more than
    /// the [refresh-ahead margin](Self::refresh_ahead) left it is answered again instead
    /// of minting another at SignalWire. At most 16 are kept per user; when the cache is
    /// full of tokens that are all still good, new ones are minted without being kept.
    /// The cache is this instance's: a browser whose reconnects land on N instances
    /// costs up to N tokens per token lifetime.
    pub fn client_bound_cache(mut self, capacity: usize) -> Self {
        self.client_bound_cache = capacity;
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
        self.allowed_origins.allow(origin);
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
        let client_bound = ClientBoundCache::new(self.client_bound_cache, self.refresh_ahead);
        let tokens = NewTokens::new(self.client, self.token_lifetime, client_bound);
        let limiter = self
            .rate_limiter
            .or_else(|| self.coordinator.rate_limiter())
            .unwrap_or_else(|| Arc::new(InProcessRateLimiter::new()));
        TokenService::new(
            Admission {
                authenticator: self.authenticator,
                limiter: UserLimiter::new(self.rate_limit, limiter),
                max_body_bytes: self.max_body_bytes,
            },
            self.allowed_origins,
            UserSessions::new(SessionStart {
                coordinator: self.coordinator,
                tokens: tokens.clone(),
                refresh_ahead: self.refresh_ahead,
                jitter: self.jitter,
                retry: self.retry,
            }),
            tokens,
        )
    }
}
