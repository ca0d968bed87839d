//! [`RefreshEndpoint`]: SignalWire's refresh endpoint in process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::pair;
use crate::{RefreshToken, TokenPair};

/// Stands in for SignalWire's refresh endpoint, in process: every refresh token it issued
/// works once (or, for a [`RefreshEndpoint::reusable`] one, again and again), each
/// exchange takes [`RefreshEndpoint::latency`] on tokio's clock, and every request is
/// counted. Clones share the tokens and the counts. Use it as the
/// [`Refresher`](crate::Refresher) of sessions under test.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// use signalwire_fabric::{Refresher, testing::RefreshEndpoint};
///
/// let endpoint = RefreshEndpoint::single_use();
/// let first = endpoint.create();
/// let second = endpoint.refresh(first.refresh_token()).await?;
/// assert!(endpoint.refresh(first.refresh_token()).await.is_err(), "spent");
/// assert_eq!((endpoint.refreshes(), endpoint.refused()), (1, 1));
/// # drop(second);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RefreshEndpoint {
    shared: Arc<Endpoint>,
    reusable: bool,
    latency: Duration,
    first_answer_gate: Option<Arc<tokio::sync::Semaphore>>,
}

#[derive(Debug)]
struct Endpoint {
    live: Mutex<std::collections::HashSet<String>>,
    issued: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicUsize,
    requests: std::sync::atomic::AtomicUsize,
    /// Makes this endpoint's tokens differ from every other endpoint's.
    seed: String,
}

impl RefreshEndpoint {
    fn with(reusable: bool) -> Self {
        Self {
            shared: Arc::new(Endpoint {
                live: Mutex::new(std::collections::HashSet::new()),
                issued: Default::default(),
                refused: Default::default(),
                requests: Default::default(),
                seed: format!("{:016x}", fastrand::u64(..)),
            }),
            reusable,
            latency: Duration::from_millis(100),
            first_answer_gate: None,
        }
    }

    /// Refresh tokens that work once, as SignalWire's are assumed to.
    pub fn single_use() -> Self {
        Self::with(false)
    }

    /// Refresh tokens that can be exchanged again (a server with a grace window): two
    /// sessions that both refresh the same token both get a pair.
    pub fn reusable() -> Self {
        Self::with(true)
    }

    /// How long each exchange takes (on tokio's clock); 100 ms by default.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Holds the answer to the first request back, after the exchange is done at the
    /// "server", until `gate` has a permit: a stalled holder, for tests of what its
    /// siblings do meanwhile.
    pub fn hold_first_answer(mut self, gate: Arc<tokio::sync::Semaphore>) -> Self {
        self.first_answer_gate = Some(gate);
        self
    }

    /// A first pair, as creating a subscriber token would give.
    pub fn create(&self) -> TokenPair {
        self.issue("created")
    }

    fn issue(&self, name: &str) -> TokenPair {
        let pair = pair(&format!("{}-{name}", self.shared.seed));
        self.shared
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pair.refresh_token().expose_secret().to_owned());
        pair
    }

    /// Refreshes that succeeded (rotations).
    pub fn refreshes(&self) -> usize {
        self.shared.issued.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Refresh requests refused as spent or unknown.
    pub fn refused(&self) -> usize {
        self.shared
            .refused
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every refresh request received.
    pub fn requests(&self) -> usize {
        self.shared
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl crate::Refresher for RefreshEndpoint {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, crate::Error> {
        use std::sync::atomic::Ordering;

        let request = self.shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.latency).await;
        let text = refresh_token.expose_secret();
        let accepted = {
            let mut live = self.shared.live.lock().unwrap_or_else(|p| p.into_inner());
            if self.reusable {
                live.contains(text)
            } else {
                live.remove(text)
            }
        };
        if !accepted {
            self.shared.refused.fetch_add(1, Ordering::SeqCst);
            return Err(crate::Error::rejected([crate::FieldError::new(
                crate::ErrorCode::TokenInvalid,
                "Token is invalid.",
            )
            .with_attribute("refresh_token")]));
        }
        let number = self.shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let pair = self.issue(&format!("rotation-{number}"));
        if let Some(gate) = self.first_answer_gate.as_ref().filter(|_| request == 1)
            && let Ok(permit) = gate.acquire().await
        {
            permit.forget();
        }
        Ok(pair)
    }
}
