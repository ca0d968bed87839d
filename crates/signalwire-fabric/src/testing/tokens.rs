//! Tokens and pairs with the shape SignalWire's have, so a test needs no real token; and
//! the credentials every suite's client is configured with ([`client_for`]), and a
//! subscriber token created for a test ([`create_subscriber_token`]).

use base64::Engine as _;
use tokio::time::Instant;

use crate::{
    AccessToken, Client, CreateSubscriberToken, CreatedSubscriberToken, RefreshToken, TokenPair,
};

/// The project id the workspace's test suites and benchmarks configure their clients with
/// (the Basic credentials' user name). A UUID, like a real one.
pub const PROJECT_ID: &str = "8c2b3f1e-0d4a-4b6e-9f7a-1e2d3c4b5a69";

/// The API token the workspace's test suites and benchmarks configure their clients with
/// (the Basic credentials' password): `PT` and 48 hexadecimal digits, like a real one, so
/// a test that looks for it in an error, a log or a snapshot looks for a realistic secret.
///
/// ```
/// use signalwire_fabric::testing::{API_TOKEN, PROJECT_ID};
///
/// let client = signalwire_fabric::Client::builder()
///     .base_url("http://127.0.0.1:9")
///     .project_id(PROJECT_ID)
///     .api_token(API_TOKEN)
///     .build()
///     .expect("valid settings");
/// assert!(!format!("{client:?}").contains(API_TOKEN));
/// ```
pub const API_TOKEN: &str = "PTa1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7";

/// A client for `base_url` (a loopback server standing in for SignalWire) with the suites'
/// credentials, [`PROJECT_ID`] and [`API_TOKEN`]. Panics when `base_url` is refused.
///
/// ```
/// let client = signalwire_fabric::testing::client_for("http://127.0.0.1:9");
/// assert!(client.base_url().starts_with("http://127.0.0.1:9"));
/// ```
#[track_caller]
pub fn client_for(base_url: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN)
        .build()
        .unwrap_or_else(|error| panic!("a client for {base_url}: {error}"))
}

/// Has `client`'s space create a subscriber token for `reference` (with nothing else
/// set), as a test's setup does; panics, naming the error, when that fails.
///
/// ```no_run
/// # async fn run(client: signalwire_fabric::Client) {
/// let created = signalwire_fabric::testing::create_subscriber_token(&client, "alice@example.com").await;
/// assert!(!created.pair.access_token().expose_secret().is_empty());
/// # }
/// ```
pub async fn create_subscriber_token(client: &Client, reference: &str) -> CreatedSubscriberToken {
    client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new(reference))
        .await
        .unwrap_or_else(|error| panic!("creating a subscriber token for {reference}: {error}"))
}

/// A token shaped like SignalWire's, made unique by `seed`: a JWE compact serialisation
/// (five base64url segments, the key segment empty) whose readable protected header is
/// `{"alg":"dir","enc":"A256GCM","typ":<typ>,"ch":"puc.signalwire.com"}`, with a 12-byte
/// IV, 450 bytes of "ciphertext" and a 16-byte tag: about 700 characters, like real ones.
///
/// ```
/// let token = signalwire_fabric::testing::jwe("Refresh", "alice-1");
/// assert_eq!(token.split('.').count(), 5);
/// assert!(token.parse::<signalwire_fabric::RefreshToken>().is_ok());
/// ```
pub fn jwe(typ: &str, seed: &str) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let sized =
        |prefix: &str, len: usize| -> Vec<u8> { prefix.bytes().cycle().take(len).collect() };
    let header =
        format!(r#"{{"alg":"dir","enc":"A256GCM","typ":"{typ}","ch":"puc.signalwire.com"}}"#);
    format!(
        "{}..{}.{}.{}",
        b64(header.as_bytes()),
        b64(&sized(&format!("iv-{seed}-"), 12)),
        b64(&sized(&format!("ciphertext-of-{seed}-"), 450)),
        b64(&sized(&format!("tag-{seed}-"), 16)),
    )
}

/// An access token (`typ` "SAT") made unique by `seed`.
pub fn access_token(seed: &str) -> AccessToken {
    AccessToken::parse(jwe("SAT", seed)).unwrap_or_else(|_| unreachable!("well-formed"))
}

/// A refresh token (`typ` "Refresh") made unique by `seed`.
pub fn refresh_token(seed: &str) -> RefreshToken {
    RefreshToken::parse(jwe("Refresh", seed)).unwrap_or_else(|_| unreachable!("well-formed"))
}

/// A pair made unique by `seed`, issued now (on tokio's clock) with the documented
/// lifetimes.
pub fn pair(seed: &str) -> TokenPair {
    TokenPair::issued_at(access_token(seed), refresh_token(seed), Instant::now())
}

/// `pair` with its access token expiring now, so a session refreshes it at once; the
/// refresh token keeps its expiry.
pub fn due_now(pair: &TokenPair) -> TokenPair {
    TokenPair::new(
        pair.access_token().clone(),
        pair.refresh_token().clone(),
        Instant::now(),
        pair.refresh_expires_at(),
    )
}
