//! Who is asking: the app's own sign-in, turned into the subscriber whose tokens it may
//! have.

use std::fmt;
use std::sync::Arc;

use signalwire_fabric::{CreateSubscriberToken, SessionKey};

/// Turns a request's parts (the app's session cookie, its JWT, a header its proxy sets)
/// into the subscriber the signed-in user may have tokens for, or refuses.
///
/// This is the only place the endpoints learn who is asking: the request body can never
/// name a subscriber (its unknown fields are refused), so a user can only ever obtain or
/// refresh the tokens of the subscriber this returns for them.
///
/// ```
/// use axum::http::request::Parts;
/// use signalwire_fabric::SessionKey;
/// use signalwire_fabric_axum::{Authenticator, Refusal, SubscriberProfile};
///
/// /// The app's own sign-in: an opaque session id in a cookie, looked up server-side.
/// struct AppSessions;
///
/// impl AppSessions {
///     async fn user_for_cookie(&self, _cookie: &str) -> Option<(u64, String)> {
///         Some((42, "alice@example.com".to_owned())) // a database look-up in a real app
///     }
/// }
///
/// #[signalwire_fabric_axum::async_trait]
/// impl Authenticator for AppSessions {
///     async fn authenticate(&self, request: &Parts) -> Result<SubscriberProfile, Refusal> {
///         let cookie = request
///             .headers
///             .get(axum::http::header::COOKIE)
///             .and_then(|value| value.to_str().ok())
///             .ok_or(Refusal::Unauthenticated)?;
///         let (id, email) = self.user_for_cookie(cookie).await.ok_or(Refusal::Unauthenticated)?;
///         let key = SessionKey::new(format!("user-{id}")).map_err(|_| Refusal::Forbidden)?;
///         Ok(SubscriberProfile::new(key, email).display_name("Alice"))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The subscriber for the user who sent `request`, or why not.
    ///
    /// Called for every request that passed the content-type check, before its body is
    /// read and before the user's rate limit is counted.
    async fn authenticate(
        &self,
        request: &http::request::Parts,
    ) -> Result<SubscriberProfile, Refusal>;
}

#[async_trait::async_trait]
impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    async fn authenticate(
        &self,
        request: &http::request::Parts,
    ) -> Result<SubscriberProfile, Refusal> {
        (**self).authenticate(request).await
    }
}

/// Why an [`Authenticator`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Nobody is signed in (no session, an expired one, a bad signature): answered 401,
    /// code `unauthenticated`.
    Unauthenticated,
    /// Someone is signed in but may not have a subscriber token: answered 403, code
    /// `forbidden`.
    Forbidden,
}

/// The subscriber a signed-in user may have tokens for: where the service keeps its
/// session ([`SessionKey`]) and what a new subscriber token is created with.
///
/// One key must always mean one subscriber: the key finds the session (in this process
/// and in the [`Coordinator`](signalwire_fabric::Coordinator)), and a new subscriber
/// token is created for the `reference` only when no session has a live pair. Derive
/// the key from the app's user id (prefer an opaque id to an email address: a shared
/// coordinator may show keys to whoever can read it).
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriberProfile {
    key: SessionKey,
    reference: String,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
}

impl SubscriberProfile {
    /// The subscriber named by `reference` (SignalWire's subscriber reference, usually an
    /// email address), kept under `key`.
    pub fn new(key: SessionKey, reference: impl Into<String>) -> Self {
        Self {
            key,
            reference: reference.into(),
            first_name: None,
            last_name: None,
            display_name: None,
        }
    }

    /// The subscriber's first name, sent when a subscriber token is created.
    pub fn first_name(mut self, name: impl Into<String>) -> Self {
        self.first_name = Some(name.into());
        self
    }

    /// The subscriber's last name, sent when a subscriber token is created.
    pub fn last_name(mut self, name: impl Into<String>) -> Self {
        self.last_name = Some(name.into());
        self
    }

    /// The name shown for the subscriber, sent when a subscriber token is created.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Where the subscriber's session is kept.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// The subscriber's reference.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The request that creates a subscriber token for this profile.
    pub(crate) fn create_request(&self) -> CreateSubscriberToken {
        let mut request = CreateSubscriberToken::new(self.reference.as_str());
        if let Some(name) = &self.first_name {
            request = request.first_name(name.as_str());
        }
        if let Some(name) = &self.last_name {
            request = request.last_name(name.as_str());
        }
        if let Some(name) = &self.display_name {
            request = request.display_name(name.as_str());
        }
        request
    }
}

impl fmt::Debug for SubscriberProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberProfile")
            .field("key", &self.key)
            .field("reference", &self.reference)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}
