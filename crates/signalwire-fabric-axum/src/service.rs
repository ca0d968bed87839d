//! [`TokenService`]: the parts one app's token endpoints are made of (who may ask, which
//! origins, the users' sessions, new tokens), and what the app can do with it.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use signalwire_fabric::{Client, SessionKey, SubscriberSession};

use crate::admission::Admission;
use crate::endpoints;
use crate::origin::AllowedOrigins;
use crate::sessions::UserSessions;
use crate::tokens::NewTokens;
use crate::{Authenticator, TokenServiceBuilder};

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
/// 2. else the pair another instance published to the [`Coordinator`](signalwire_fabric::Coordinator) under that key;
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
    /// Who may ask, how often, and how much they may send.
    pub(crate) admission: Admission,
    /// Which other origins' pages may call the endpoints.
    pub(crate) origins: AllowedOrigins,
    /// One session per user.
    pub(crate) sessions: UserSessions,
    /// New subscriber tokens (client-bound ones; sessions create theirs through it too).
    pub(crate) tokens: NewTokens,
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let start = &inner.sessions.start;
        f.debug_struct("TokenService")
            .field("coordinator", &start.coordinator)
            .field("sessions", &inner.sessions.len())
            .field("limiter", &inner.admission.limiter)
            .field("max_body_bytes", &inner.admission.max_body_bytes)
            .field("allowed_origins", &inner.origins)
            .field("refresh_ahead", &start.refresh_ahead)
            .field("retry", &start.retry)
            .field("token_lifetime", &inner.tokens.lifetime)
            .field("client_bound", &inner.tokens.client_bound)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// Starts configuring a service that creates and refreshes subscriber tokens with
    /// `client` for the users `authenticator` lets in.
    pub fn builder(client: Client, authenticator: impl Authenticator) -> TokenServiceBuilder {
        TokenServiceBuilder::new(client, Arc::new(authenticator))
    }

    /// The endpoints, to mount anywhere with [`Router::nest`]:
    ///
    /// - `POST {mount}/authenticate` with `{}` or `{"fingerprint": "..."}`: the browser
    ///   SDK's `authenticate({fingerprint})`;
    /// - `POST {mount}/refresh` with `{}`: its `refresh()`; with `{"refused": "<access
    ///   token>"}`, the app's report that SignalWire refused that token (see the crate's
    ///   docs, "A token SignalWire refused"): the user's session refreshes now if it is its
    ///   current token, once however many tabs and instances report it.
    ///
    /// Both answer `200 {"token": "...", "expiry_at": <ms since the epoch>}` or a JSON
    /// error (see [`ErrorCode`](crate::ErrorCode)), always with `Cache-Control: no-store`. Requests must
    /// say `Content-Type: application/json`; other methods are answered 405. With
    /// origins allowed ([`TokenServiceBuilder::allow_origin`](crate::TokenServiceBuilder::allow_origin)),
    /// an `OPTIONS` carrying `Access-Control-Request-Method` is a CORS preflight,
    /// answered by the CORS rules; any other `OPTIONS` is 405 too. Any other path below
    /// the mount point (`{mount}/anything`, and `{mount}` itself) is answered 404, for
    /// every method, preflights included,
    /// `not_found`, with `no-store` as well; `{mount}/` with nothing after it is not
    /// nested by axum, so the app's own fallback answers it.
    ///
    /// Mount it with [`Router::nest`]: the 404 is the router's own fallback, which a
    /// nested router keeps to its own paths (merged into another router with
    /// [`Router::merge`], it would answer that router's unknown paths too).
    pub fn router(&self) -> Router {
        endpoints::router(self.clone())
    }

    /// The session this service holds for `key`'s user, if it started one: for the app's
    /// own server-side calls (for example [`SubscriberSession::invite_token`]) and its
    /// health checks.
    pub fn session(&self, key: &SessionKey) -> Option<SubscriberSession> {
        self.inner.sessions.get(key)
    }

    /// A service of these parts, for [`TokenServiceBuilder::build`].
    pub(crate) fn new(
        admission: Admission,
        origins: AllowedOrigins,
        sessions: UserSessions,
        tokens: NewTokens,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                admission,
                origins,
                sessions,
                tokens,
            }),
        }
    }
}
