//! [`Refresher`]: where a session gets new pairs.

use crate::{Client, Error, RefreshToken, TokenPair};

/// Where a session gets new pairs: [`Client`] by default.
///
/// Implement it to refresh through something else (a proxy of your own, or a scripted
/// double in tests).
#[async_trait::async_trait]
pub trait Refresher: Send + Sync + 'static {
    /// Exchanges `refresh_token` for a new pair.
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error>;

    /// The client behind this refresher, if it is one; sessions use it for
    /// [`SubscriberSession::invite_token`](super::SubscriberSession::invite_token).
    fn client(&self) -> Option<&Client> {
        None
    }
}

#[async_trait::async_trait]
impl Refresher for Client {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        self.subscriber_tokens().refresh(refresh_token).await
    }

    fn client(&self) -> Option<&Client> {
        Some(self)
    }
}
