//! Joining a subscriber that other sessions share through a [`Coordinator`], or creating
//! its first pair when none is stored, exactly once among the sessions starting at once.

use std::sync::Arc;

use super::coordinator::{self, CommitOutcome, Coordinator, LeaseOutcome, SessionKey};
use super::{DEFAULT_LEASE, Refresher, SessionBuilder, SubscriberSession, lease_wait};
use crate::{Error, TokenPair};

impl SubscriberSession {
    /// A session for the subscriber `coordinator` holds a pair for under `key` (another
    /// session, perhaps in another process, published it), sharing it from now on; `None`
    /// when the coordinator holds no pair for `key` (create a subscriber token and build a
    /// session with [`SessionBuilder::coordinator`] instead). When several sessions may
    /// start at once with nothing shared yet (instances of a web backend signing the same
    /// user in), use [`SubscriberSession::join_or_create`]: with `join`, each of them can
    /// find nothing and create its own subscriber token.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client, coordinator: signalwire_fabric::InProcessCoordinator) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::{CreateSubscriberToken, SessionKey, SubscriberSession};
    ///
    /// let key: SessionKey = "user-42".parse()?;
    /// let session = match SubscriberSession::join(client.clone(), coordinator.clone(), key.clone()).await? {
    ///     Some(joined) => joined.build(),
    ///     None => {
    ///         let created = client
    ///             .subscriber_tokens()
    ///             .create(CreateSubscriberToken::new("user-42@example.com"))
    ///             .await?;
    ///         client.session(created.pair).coordinator(coordinator, key).build()
    ///     }
    /// };
    /// # drop(session);
    /// # Ok(()) }
    /// ```
    pub async fn join(
        refresher: impl Refresher,
        coordinator: impl Coordinator,
        key: SessionKey,
    ) -> Result<Option<SessionBuilder>, Error> {
        let Some(shared) = coordinator.load(&key).await? else {
            return Ok(None);
        };
        let mut builder = Self::builder(refresher, TokenPair::from_stored(shared.pair))
            .coordinator(coordinator, key);
        builder.generation = shared.generation;
        Ok(Some(builder))
    }

    /// Like [`SubscriberSession::join`], but when `coordinator` holds no pair for `key`
    /// newer than generation `newer_than` (0: none at all), the pair comes from `create`
    /// (a new subscriber token), called by exactly one of the sessions starting at once,
    /// in this process or any other sharing the coordinator: the creator holds the
    /// coordinator's lease while it creates, stores the pair as the next generation, and
    /// every other starter adopts it. If `create` fails, panics, or this future is dropped
    /// before the pair is stored (a web request cancelled mid-sign-in), the lease is let
    /// go of at once, so the next starter creates without waiting for it to run out. Pass
    /// the generation of a session that ended as `newer_than` to start a new chain rather
    /// than rejoin the dead one.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client, coordinator: signalwire_fabric::InProcessCoordinator) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::{CreateSubscriberToken, SubscriberSession};
    ///
    /// let tokens = client.clone();
    /// let session = SubscriberSession::join_or_create(client, coordinator, "user-42".parse()?, 0, || async move {
    ///     let created = tokens
    ///         .subscriber_tokens()
    ///         .create(CreateSubscriberToken::new("user-42@example.com"))
    ///         .await?;
    ///     Ok(created.pair)
    /// })
    /// .await?
    /// .build();
    /// # drop(session);
    /// # Ok(()) }
    /// ```
    pub async fn join_or_create<C, Created>(
        refresher: impl Refresher,
        coordinator: C,
        key: SessionKey,
        newer_than: u64,
        create: impl FnOnce() -> Created,
    ) -> Result<SessionBuilder, Error>
    where
        C: Coordinator,
        Created: std::future::Future<Output = Result<TokenPair, Error>>,
    {
        let coordinator = Arc::new(coordinator);
        let outcome =
            lease_wait::lease_or_newer(&*coordinator, &key, newer_than, DEFAULT_LEASE, None)
                .await?;
        let (pair, generation) = match outcome {
            Some(LeaseOutcome::Newer(shared)) => {
                (TokenPair::from_stored(shared.pair), shared.generation)
            }
            Some(LeaseOutcome::Granted(lease)) => {
                // Whatever ends this future before the commit (an error, a panic in
                // `create`, or the caller dropping it: a web request cancelled while
                // the token is created), the lease is let go of at once instead of
                // making every other starter wait for it to run out.
                let mut held = HeldLease::new(coordinator.clone(), key.clone(), lease);
                let pair = match create().await {
                    Ok(pair) => pair,
                    Err(error) => {
                        let _ = held.release().await;
                        return Err(error);
                    }
                };
                match coordinator
                    .commit(&key, held.lease(), newer_than, &pair.to_stored())
                    .await
                {
                    // The commit let go of the lease.
                    Ok(CommitOutcome::Committed { generation }) => {
                        held.disarm();
                        (pair, generation)
                    }
                    Ok(CommitOutcome::Superseded(newer)) => {
                        held.disarm();
                        (TokenPair::from_stored(newer.pair), newer.generation)
                    }
                    // Not stored yet: the session publishes it when it first runs.
                    Err(_) => {
                        let _ = held.release().await;
                        (pair, 0)
                    }
                }
            }
            other => {
                return Err(Error::coordinator(format!(
                    "answered a lease request with {other:?}"
                )));
            }
        };
        let mut builder = Self::builder(refresher, pair).coordinator(coordinator, key);
        builder.generation = generation;
        Ok(builder)
    }
}

/// A lease [`SubscriberSession::join_or_create`] holds while it creates a pair, let go of
/// when it is dropped still armed (the future was cancelled or panicked): the release
/// runs on a spawned task, since a destructor cannot wait.
struct HeldLease<C: Coordinator> {
    coordinator: Arc<C>,
    key: SessionKey,
    lease: coordinator::Lease,
    armed: bool,
}

impl<C: Coordinator> HeldLease<C> {
    fn new(coordinator: Arc<C>, key: SessionKey, lease: coordinator::Lease) -> Self {
        Self {
            coordinator,
            key,
            lease,
            armed: true,
        }
    }

    fn lease(&self) -> &coordinator::Lease {
        &self.lease
    }

    /// The lease was let go of by the coordinator (a commit).
    fn disarm(&mut self) {
        self.armed = false;
    }

    async fn release(&mut self) -> Result<(), Error> {
        if !self.armed {
            return Ok(());
        }
        // Still armed while it runs: if this future is dropped meanwhile, so is the lease.
        let released = self.coordinator.release(&self.key, &self.lease).await;
        self.armed = false;
        released.map(drop)
    }
}

impl<C: Coordinator> Drop for HeldLease<C> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime left: the lease runs out on its own
        };
        let coordinator = self.coordinator.clone();
        let key = self.key.clone();
        let lease = self.lease.clone();
        runtime.spawn(async move {
            let _ = coordinator.release(&key, &lease).await;
        });
    }
}
