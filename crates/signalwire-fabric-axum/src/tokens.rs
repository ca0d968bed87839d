//! New subscriber tokens from SignalWire: the request for a user's profile, with the
//! lifetime the app asked for, and client-bound tokens (minted with the browser's
//! fingerprint, and answered again to the same user and fingerprint while they have
//! enough life left: see [`client_bound`](crate::client_bound)).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use signalwire_fabric::{AccessToken, Client, CreateSubscriberToken, Scope, SessionKey};

use crate::SubscriberProfile;
use crate::answer;
use crate::client_bound::{ClientBoundCache, Minted};
use crate::failure::Failure;
use crate::metrics::{self, Created};

/// The longest [`TokenServiceBuilder::token_lifetime`](crate::TokenServiceBuilder::token_lifetime)
/// asked for.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// How this service has SignalWire create subscriber tokens.
#[derive(Clone)]
pub(crate) struct NewTokens {
    client: Client,
    /// How long their access tokens live, when the app chose (SignalWire's default
    /// otherwise).
    pub(crate) lifetime: Option<Duration>,
    /// Client-bound tokens minted, for browsers that authenticate again.
    pub(crate) client_bound: Arc<ClientBoundCache>,
}

impl NewTokens {
    pub(crate) fn new(
        client: Client,
        lifetime: Option<Duration>,
        client_bound: ClientBoundCache,
    ) -> Self {
        Self {
            client,
            lifetime,
            client_bound: Arc::new(client_bound),
        }
    }

    /// The client that creates and refreshes tokens.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The request that creates a subscriber token for `profile`, expiring after the
    /// configured lifetime (from now) if there is one.
    pub(crate) fn request(&self, profile: &SubscriberProfile) -> CreateSubscriberToken {
        let request = profile.create_request();
        match self.lifetime {
            Some(lifetime) => request.expire_at(whole_seconds_from_now(lifetime)),
            None => request,
        }
    }

    /// A client-bound token for the device with `fingerprint`: the one minted for this
    /// user and fingerprint while it has more than the cache's margin left, else a new
    /// one (minted once however many of the device's requests ask at once).
    pub(crate) async fn client_bound(
        &self,
        profile: &SubscriberProfile,
        fingerprint: &str,
    ) -> Result<Response, Failure> {
        let cache = &self.client_bound;
        // A slot whose token ran short is replaced once; a second short one (a token
        // SignalWire minted with less life than the margin) is answered as it is.
        for _ in 0..2 {
            let Some(slot) = cache.slot(profile, fingerprint) else {
                break;
            };
            let mut minted_here = false;
            let minted = slot
                .get_or_try_init(|| {
                    minted_here = true;
                    self.mint(profile, fingerprint)
                })
                .await?;
            if minted_here || cache.fresh(minted) {
                metrics::client_bound(!minted_here);
                return Ok(answer::access(&minted.token, minted.expires_at));
            }
            cache.remove(profile.key(), &slot);
        }
        let minted = self.mint(profile, fingerprint).await?;
        metrics::client_bound(false);
        Ok(answer::access(&minted.token, minted.expires_at))
    }

    /// Forgets a client-bound token of `key`'s user that SignalWire refused, so that the
    /// browser's next authenticate mints another.
    pub(crate) fn forget_refused(&self, key: &SessionKey, refused: &AccessToken) {
        if self.client_bound.forget_token(key, refused) {
            tracing::info!(%key, "forgot a client-bound token SignalWire refused");
        }
    }

    /// A new client-bound token at SignalWire: the fingerprint and `sat:refresh`.
    async fn mint(
        &self,
        profile: &SubscriberProfile,
        fingerprint: &str,
    ) -> Result<Minted, Failure> {
        let request = self
            .request(profile)
            .fingerprint(fingerprint)
            .scope(Scope::SatRefresh);
        match self.client.subscriber_tokens().create(request).await {
            Ok(created) => {
                metrics::created(Created::ClientBound);
                tracing::info!(key = %profile.key(), "created a client-bound subscriber token");
                Ok(Minted {
                    token: created.pair.access_token().clone(),
                    expires_at: created.pair.access_expires_at(),
                })
            }
            Err(error) => Err(Failure::client_bound(profile.key(), &error)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
