//! Small helpers around `signalwire_fabric::testing`'s stand-ins (`RefreshEndpoint`,
//! `FailingCoordinator`), which the facade's own coordination tests use too.

use std::time::Duration;

use signalwire_fabric::{AccessToken, testing};

/// SignalWire's refresh endpoint in process, with single-use refresh tokens and a short
/// latency: these tests run on real time.
pub fn space() -> testing::RefreshEndpoint {
    testing::RefreshEndpoint::single_use().latency(Duration::from_millis(20))
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
