//! [`FailingCoordinator`]: a coordinator whose operations can be made to fail.

use std::sync::Arc;
use std::time::Duration;

use crate::{CommitOutcome, Coordinator, LeaseOutcome, SessionKey, StoredTokenPair};

/// A [`Coordinator`] wrapper whose operations can be made to fail: all of them while it is
/// [down](FailingCoordinator::set_down), or the next few commits. Clones share the
/// switches.
#[derive(Debug, Clone)]
pub struct FailingCoordinator<C> {
    inner: C,
    down: Arc<std::sync::atomic::AtomicBool>,
    failing_commits: Arc<std::sync::atomic::AtomicU32>,
}

impl<C: Coordinator> FailingCoordinator<C> {
    /// `inner`, working until told otherwise.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            down: Default::default(),
            failing_commits: Default::default(),
        }
    }

    /// The wrapped coordinator, to look behind the failures.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Every operation fails with [`Error::Coordinator`](crate::Error::Coordinator) while
    /// `down` is true.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next `count` commits fail before reaching the inner coordinator.
    pub fn fail_next_commits(&self, count: u32) {
        self.failing_commits
            .store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many of those commits are still to fail.
    pub fn commits_left_to_fail(&self) -> u32 {
        self.failing_commits
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), crate::Error> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::Error::coordinator(
                "the test's coordinator is unreachable",
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl<C: Coordinator> Coordinator for FailingCoordinator<C> {
    async fn load(&self, key: &SessionKey) -> Result<Option<crate::SharedPair>, crate::Error> {
        self.check()?;
        self.inner.load(key).await
    }

    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, crate::Error> {
        self.check()?;
        self.inner.try_lease(key, seen, ttl).await
    }

    async fn commit(
        &self,
        key: &SessionKey,
        lease: &crate::Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, crate::Error> {
        use std::sync::atomic::Ordering;

        self.check()?;
        let failing = self.failing_commits.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_commits.store(failing - 1, Ordering::SeqCst);
            return Err(crate::Error::coordinator(
                "the test's coordinator refuses a commit",
            ));
        }
        self.inner.commit(key, lease, seen, pair).await
    }

    async fn release(
        &self,
        key: &SessionKey,
        lease: &crate::Lease,
    ) -> Result<crate::Released, crate::Error> {
        self.check()?;
        self.inner.release(key, lease).await
    }

    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, crate::Error> {
        self.check()?;
        self.inner.publish(key, pair).await
    }
}
