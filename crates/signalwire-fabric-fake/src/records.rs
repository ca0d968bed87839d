//! What a [`FakeSpace`](crate::FakeSpace) reports about what it issued and holds.

use std::fmt;

use uuid::Uuid;

use crate::store::SubscriberRecord;

/// A token pair issued by [`FakeSpace::create_subscriber_token`](crate::FakeSpace::create_subscriber_token).
///
/// `Debug` shows the subscriber id, never the tokens.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedPair {
    /// The subscriber the pair belongs to.
    pub subscriber_id: Uuid,
    /// The access token (`typ` "SAT").
    pub token: String,
    /// The refresh token (`typ` "Refresh").
    pub refresh_token: String,
}

impl fmt::Debug for IssuedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedPair")
            .field("subscriber_id", &self.subscriber_id)
            .field("token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// A subscriber the fake holds, as [`FakeSpace::subscriber`](crate::FakeSpace::subscriber)
/// and friends report it: a snapshot, not a live view.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fake = signalwire_fabric_fake::FakeSpace::start().await;
/// let alice = fake.create_subscriber("alice@example.com");
/// assert_ne!(alice.resource_id, alice.subscriber_id);
/// assert_eq!(alice.address_ids.len(), 1, "every subscriber starts with one address");
/// assert_eq!(fake.subscriber("alice@example.com"), Some(alice));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeSubscriber {
    /// The resource id: what `/api/fabric/resources/subscribers/{id}` takes.
    pub resource_id: Uuid,
    /// The subscriber id: what token responses name (`subscriber_id`).
    pub subscriber_id: Uuid,
    /// The email the fake keys the subscriber by (a token request's `reference`).
    pub email: String,
    /// The subscriber's address ids, oldest first.
    pub address_ids: Vec<Uuid>,
}

impl From<&SubscriberRecord> for FakeSubscriber {
    fn from(record: &SubscriberRecord) -> Self {
        Self {
            resource_id: record.resource_id,
            subscriber_id: record.subscriber_id,
            email: record.details.email.clone(),
            address_ids: record.addresses.iter().map(|address| address.id).collect(),
        }
    }
}
