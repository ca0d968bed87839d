//! In-process stand-ins: a refresher with single-use (or reusable) refresh tokens that
//! counts what it is sent, and a coordinator wrapper whose commits can be made to fail.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signalwire_fabric::{
    AccessToken, CommitOutcome, Coordinator, Error, ErrorCode, FieldError, Lease, LeaseOutcome,
    RefreshToken, Refresher, SessionKey, SharedPair, StoredTokenPair, TokenPair, testing,
};
use tokio::sync::Semaphore;

/// Stands in for SignalWire's refresh endpoint: each refresh token it issued works once
/// (unless `reusable`), and every request is counted. A gate can hold the first answer
/// back after the exchange is done.
#[derive(Clone)]
pub struct Space {
    inner: Arc<SpaceInner>,
}

struct SpaceInner {
    live: Mutex<HashSet<String>>,
    issued: AtomicUsize,
    refused: AtomicUsize,
    requests: AtomicUsize,
    reusable: bool,
    gate: Option<Arc<Semaphore>>,
    seed: String,
}

impl Space {
    pub fn new(reusable: bool, gate: Option<Arc<Semaphore>>) -> Self {
        Self {
            inner: Arc::new(SpaceInner {
                live: Mutex::new(HashSet::new()),
                issued: AtomicUsize::new(0),
                refused: AtomicUsize::new(0),
                requests: AtomicUsize::new(0),
                reusable,
                gate,
                seed: format!("{:08x}", std::process::id() ^ fastrand_u32()),
            }),
        }
    }

    pub fn single_use() -> Self {
        Self::new(false, None)
    }

    /// A first pair, as a create would give.
    pub fn create(&self) -> TokenPair {
        self.issue("created")
    }

    fn issue(&self, name: &str) -> TokenPair {
        let pair = testing::pair(&format!("{}-{name}", self.inner.seed));
        self.inner
            .live
            .lock()
            .expect("not poisoned")
            .insert(pair.refresh_token().expose_secret().to_owned());
        pair
    }

    /// Successful refreshes (rotations).
    pub fn refreshes(&self) -> usize {
        self.inner.issued.load(Ordering::SeqCst)
    }

    /// Refresh requests refused as spent or unknown.
    pub fn refused(&self) -> usize {
        self.inner.refused.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }
}

fn fastrand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos())
}

#[async_trait::async_trait]
impl Refresher for Space {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        let request = self.inner.requests.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let text = refresh_token.expose_secret();
        let accepted = {
            let mut live = self.inner.live.lock().expect("not poisoned");
            if self.inner.reusable {
                live.contains(text)
            } else {
                live.remove(text)
            }
        };
        if !accepted {
            self.inner.refused.fetch_add(1, Ordering::SeqCst);
            return Err(Error::rejected([FieldError::new(
                ErrorCode::TokenInvalid,
                "Token is invalid.",
            )
            .with_attribute("refresh_token")]));
        }
        let number = self.inner.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let pair = self.issue(&format!("rotation-{number}"));
        if let Some(gate) = self.inner.gate.as_ref().filter(|_| request == 1) {
            gate.acquire().await.expect("open").forget();
        }
        Ok(pair)
    }
}

/// A coordinator whose next commits fail (before reaching the inner one).
#[derive(Debug, Clone)]
pub struct Flaky<C> {
    pub inner: C,
    pub failing_commits: Arc<AtomicU32>,
}

impl<C> Flaky<C> {
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            failing_commits: Arc::new(AtomicU32::new(0)),
        }
    }
}

#[async_trait::async_trait]
impl<C: Coordinator + Clone> Coordinator for Flaky<C> {
    async fn load(&self, key: &SessionKey) -> Result<Option<SharedPair>, Error> {
        self.inner.load(key).await
    }
    async fn try_lease(
        &self,
        key: &SessionKey,
        seen: u64,
        ttl: Duration,
    ) -> Result<LeaseOutcome, Error> {
        self.inner.try_lease(key, seen, ttl).await
    }
    async fn commit(
        &self,
        key: &SessionKey,
        lease: &Lease,
        seen: u64,
        pair: &StoredTokenPair,
    ) -> Result<CommitOutcome, Error> {
        let failing = self.failing_commits.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_commits.store(failing - 1, Ordering::SeqCst);
            return Err(Error::coordinator(
                "the test's coordinator refuses a commit",
            ));
        }
        self.inner.commit(key, lease, seen, pair).await
    }
    async fn release(&self, key: &SessionKey, lease: &Lease) -> Result<(), Error> {
        self.inner.release(key, lease).await
    }
    async fn publish(&self, key: &SessionKey, pair: &StoredTokenPair) -> Result<u64, Error> {
        self.inner.publish(key, pair).await
    }
}

/// A short, stable stand-in for a token in test output: a hash of its text (the token
/// itself is never printed).
pub fn fingerprint(token: &AccessToken) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    token.expose_secret().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

pub fn text(token: &AccessToken) -> String {
    token.expose_secret().to_owned()
}
