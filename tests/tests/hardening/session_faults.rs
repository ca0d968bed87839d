//! A session's bad days against the fake space: the process restarting between a refresh
//! and its save.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signalwire_fabric::{
    Error, MemoryStore, StoredTokenPair, SubscriberSession, TokenPair, TokenStore,
};
use signalwire_fabric_fake::FakeSpace;
use tokio::time::Instant;

/// A memory store whose saves can be made to fail.
#[derive(Clone, Default)]
struct SwitchableStore {
    inner: Arc<MemoryStore>,
    failing: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl TokenStore for SwitchableStore {
    async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
        self.inner.load().await
    }
    async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::store("disk unavailable"));
        }
        self.inner.save(pair).await
    }
}

use signalwire_fabric::testing::{create_subscriber_token, due_now};

#[tokio::test]
async fn a_restart_between_a_refresh_and_its_save_ends_in_a_typed_error_and_a_new_token_recovers() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let created = create_subscriber_token(&client, "dana@example.com").await;
    let store = SwitchableStore::default();
    store
        .save(&due_now(&created.pair).to_stored())
        .await
        .expect("the first pair is stored");

    // The session refreshes, but the save of the new pair fails, and then the process dies.
    store.failing.store(true, Ordering::SeqCst);
    let session = SubscriberSession::restore(client.clone(), store.clone())
        .await
        .expect("stored")
        .build();
    let fresh = session
        .access_token()
        .await
        .expect("the new pair is served from memory");
    assert!(!session.status().saved);
    drop(session);
    drop(fresh);

    // After the restart the store still holds the spent refresh token.
    store.failing.store(false, Ordering::SeqCst);
    let restarted = SubscriberSession::restore(client.clone(), store.clone())
        .await
        .expect("stored")
        .build();
    let error = restarted
        .access_token()
        .await
        .expect_err("the stored refresh token was spent");
    assert!(matches!(error, Error::SessionEnded { .. }), "{error:?}");
    assert!(error.requires_new_subscriber_token(), "{error}");

    // The documented recovery: a new subscriber token.
    let again = create_subscriber_token(&client, "dana@example.com").await;
    assert_eq!(
        again.subscriber_id, created.subscriber_id,
        "same subscriber"
    );
}

#[tokio::test]
async fn a_restart_after_the_save_continues_with_the_newest_refresh_token() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let created = create_subscriber_token(&client, "erin@example.com").await;
    let store = SwitchableStore::default();
    store
        .save(&due_now(&created.pair).to_stored())
        .await
        .expect("stored");

    let session = SubscriberSession::restore(client.clone(), store.clone())
        .await
        .expect("stored")
        .build();
    session.access_token().await.expect("refreshed");
    assert!(session.status().saved);
    drop(session);

    let restarted = SubscriberSession::restore(client.clone(), store.clone())
        .await
        .expect("stored")
        .build();
    let newest = restarted.pair();
    assert_ne!(
        newest.refresh_token(),
        created.pair.refresh_token(),
        "the rotated token was stored"
    );
    client
        .subscriber_tokens()
        .refresh(newest.refresh_token())
        .await
        .expect("the stored refresh token is the live one");
}

/// Runs `future` for at most ten seconds of real time; a wedged session shows up here.
async fn promptly<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), future)
        .await
        .expect("answered instead of hanging")
}

#[tokio::test]
async fn an_endless_retry_after_from_a_real_server_neither_panics_nor_wedges_the_session() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let fake = FakeSpace::start().await;
    let seeded = fake.create_subscriber_token("erin@example.com");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "18446744073709551615")
                .set_body_string("down"),
        )
        .mount(&server)
        .await;
    let client = signalwire_fabric::Client::builder()
        .base_url(server.uri())
        .project_id(fake.project_id())
        .api_token(fake.api_token())
        .build()
        .expect("valid");
    // The access token has expired; the refresh token has an hour left.
    let now = Instant::now();
    let pair = TokenPair::new(
        seeded.token.parse().expect("access"),
        seeded.refresh_token.parse().expect("refresh"),
        now,
        now + std::time::Duration::from_secs(3600),
    );
    let session = client.session(pair).build();
    for call in 0..3 {
        let error = promptly(session.access_token())
            .await
            .expect_err("no valid token");
        assert_eq!(error.status(), Some(503), "call {call}: {error:?}");
        assert_eq!(
            error.retry_after(),
            Some(std::time::Duration::from_secs(24 * 60 * 60)),
            "an endless Retry-After is read as a day"
        );
    }
    let status = session.status();
    assert!(
        !status.ended,
        "one last attempt is still to come: {status:?}"
    );
    assert_eq!(
        server.received_requests().await.expect("recording").len(),
        1,
        "the server's wait is honoured until the last safe moment"
    );
}
