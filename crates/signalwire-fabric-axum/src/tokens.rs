//! New subscriber tokens from SignalWire: the request for a user's profile, with the
//! lifetime the app asked for, and client-bound tokens (minted with the browser's
//! fingerprint for each request, and not kept).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use signalwire_fabric::{Client, CreateSubscriberToken, Scope};

use crate::SubscriberProfile;
use crate::answer;
use crate::failure::Failure;

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
}

impl NewTokens {
    pub(crate) fn new(client: Client, lifetime: Option<Duration>) -> Self {
        Self { client, lifetime }
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

    /// A client-bound token for the device with `fingerprint`; nothing is kept.
    pub(crate) async fn client_bound(
        &self,
        profile: &SubscriberProfile,
        fingerprint: &str,
    ) -> Result<Response, Failure> {
        let request = self
            .request(profile)
            .fingerprint(fingerprint)
            .scope(Scope::SatRefresh);
        match self.client.subscriber_tokens().create(request).await {
            Ok(created) => {
                tracing::info!(key = %profile.key(), "created a client-bound subscriber token");
                Ok(answer::credential(&created.pair))
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
