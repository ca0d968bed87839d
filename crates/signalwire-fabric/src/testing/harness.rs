//! [`ConformanceHarness`]: what the shared suites ([`conformance`](super::conformance),
//! [`scenarios`](super::scenarios), [`replay_store_rules`](super::replay_store_rules)) need
//! of a coordinator under test; and [`InProcessHarness`], the one for
//! [`InProcessCoordinator`].

use crate::{Coordinator, InProcessCoordinator, SessionKey};

/// What the shared suites need besides the coordinator: ways to make time pass and data
/// disappear that no well-behaved caller has.
#[async_trait::async_trait]
pub trait ConformanceHarness: Send + Sync {
    /// The coordinator under test.
    type Coordinator: Coordinator + Clone;

    /// A coordinator on the harness's store, which holds nothing yet for the keys the
    /// suites use (each suite makes its own unique keys). The conformance rules and the
    /// replay ask once per rule or trace; the session scenarios ask once per session and
    /// need every answer to be a client of the same store, as another app instance's
    /// would be (what one stores, the next one loads).
    async fn coordinator(&self) -> Self::Coordinator;

    /// Ends `key`'s lease now, as if its time had run out, leaving the in-flight mark.
    async fn expire_lease(&self, coordinator: &Self::Coordinator, key: &SessionKey);

    /// Loses everything stored for `key`, as a store restarted without its data would.
    async fn lose_everything(&self, coordinator: &Self::Coordinator, key: &SessionKey);
}

/// The harness over one [`InProcessCoordinator`]: every call gives a clone of it, as the
/// sessions of one process share one.
///
/// ```
/// use signalwire_fabric::testing::{ConformanceHarness, InProcessHarness, pair};
/// use signalwire_fabric::{Coordinator, SessionKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// let harness = InProcessHarness::default();
/// let key = SessionKey::new("user-1")?;
/// harness.coordinator().await.publish(&key, &pair("a").to_stored()).await?;
/// assert!(harness.coordinator().await.load(&key).await?.is_some(), "one store");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct InProcessHarness {
    /// The coordinator every call shares.
    pub coordinator: InProcessCoordinator,
}

#[async_trait::async_trait]
impl ConformanceHarness for InProcessHarness {
    type Coordinator = InProcessCoordinator;

    async fn coordinator(&self) -> InProcessCoordinator {
        self.coordinator.clone()
    }

    async fn expire_lease(&self, coordinator: &InProcessCoordinator, key: &SessionKey) {
        coordinator.expire_lease(key);
    }

    async fn lose_everything(&self, coordinator: &InProcessCoordinator, key: &SessionKey) {
        coordinator.forget(key);
    }
}
