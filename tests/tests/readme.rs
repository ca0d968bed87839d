//! The Rust snippets of README.md and the crates' READMEs, compiled against the public API
//! as a user writes them, and run against the fake space where they can run without
//! credentials. Each snippet sits here verbatim (the xtask test
//! `readme_snippets::every_readme_rust_block_is_compiled_in_tests_readme` checks that),
//! inside a function whose parameters are the names the snippet takes as given.

use signalwire_fabric::{
    Client, CreateSubscriberToken, Error, FileStore, InProcessCoordinator, SessionKey,
    StoredTokenPair, SubscriberSession, TokenPair,
};
use signalwire_fabric_fake::{FakeSpace, Operation};

type Failure = Box<dyn std::error::Error + Send + Sync>;

// README.md, "Using the SDK": one refresh.
#[allow(dead_code)] // needs SIGNALWIRE_* in the environment: compiled, not run
async fn readme_refresh(
    stored_refresh_token: &str,
    save: impl FnOnce(StoredTokenPair) -> Result<(), Failure>,
) -> Result<(), Failure> {
    use signalwire_fabric::{Client, RefreshToken};

    let client = Client::from_env()?; // SIGNALWIRE_SPACE, SIGNALWIRE_PROJECT_ID, SIGNALWIRE_API_TOKEN
    let old: RefreshToken = stored_refresh_token.parse()?;
    let pair = client.subscriber_tokens().refresh(&old).await?;
    save(pair.to_stored())?; // the old refresh token is spent: store the new pair first
    Ok(())
}

// crates/signalwire-fabric/README.md
#[allow(dead_code)] // needs SIGNALWIRE_* in the environment: compiled, not run
async fn facade_readme_refresh(stored_refresh_token: &str) -> Result<TokenPair, Failure> {
    use signalwire_fabric::{Client, RefreshToken};

    // Reads SIGNALWIRE_SPACE, SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN.
    let client = Client::from_env()?;
    let old: RefreshToken = stored_refresh_token.parse()?;
    let pair = client.subscriber_tokens().refresh(&old).await?;
    // The old refresh token is spent now: store the new pair before using it.
    Ok(pair)
}

// README.md: a session with a file store.
async fn readme_session(client: Client, pair: TokenPair) -> Result<SubscriberSession, Failure> {
    let session = client
        .session(pair)
        .store(FileStore::new("tokens.json"))
        .build();
    let _auto = session.spawn_auto_refresh(); // optional: refresh in the background
    let token = session.access_token().await?; // always a token with time left
    drop(token);
    Ok(session)
}

// README.md: sessions sharing one coordinator.
async fn readme_join_or_create(client: Client) -> Result<SubscriberSession, Failure> {
    let coordinator = InProcessCoordinator::new(); // one process; signalwire-fabric-redis for many
    let key: SessionKey = "user-42".parse()?;
    let tokens = client.clone();
    let session = SubscriberSession::join_or_create(client, coordinator, key, 0, || async move {
        let created = tokens
            .subscriber_tokens()
            .create(CreateSubscriberToken::new("user-42@example.com"))
            .await?;
        Ok(created.pair)
    })
    .await?
    .build();
    Ok(session)
}

// README.md: the Redis coordinator.
#[allow(dead_code)] // needs a Redis with TLS at that name: compiled, not run
fn readme_redis() -> Result<(), Failure> {
    use signalwire_fabric_redis::RedisCoordinator;

    let coordinator = RedisCoordinator::builder("rediss://redis.internal:6380").build()?;
    drop(coordinator);
    Ok(())
}

// crates/signalwire-fabric-redis/README.md
#[allow(dead_code)] // needs a Redis with TLS at that name: compiled, not run
async fn redis_readme<Created>(
    client: Client,
    sealing_key_text: String,
    create: impl FnOnce() -> Created,
) -> Result<(), Failure>
where
    Created: std::future::Future<Output = Result<TokenPair, Error>>,
{
    use signalwire_fabric::SubscriberSession;
    use signalwire_fabric_redis::{RedisCoordinator, SealingKey};

    let coordinator = RedisCoordinator::builder("rediss://redis.internal:6380")
        .key_prefix("myapp:signalwire:")
        .sealing_key(SealingKey::from_base64(&sealing_key_text)?)
        .build()?;
    // Joins the pair another instance stored, or creates the subscriber's first token
    // (exactly one instance does, however many start at once).
    let session =
        SubscriberSession::join_or_create(client, coordinator, "user-42".parse()?, 0, create)
            .await?
            .build();
    let token = session.access_token().await?; // cached; Redis is used only to refresh
    drop(token);
    Ok(())
}

// crates/signalwire-fabric-axum/README.md
#[allow(clippy::let_and_return)] // the snippet names the router it builds
fn axum_readme(client: Client) -> axum::Router {
    use signalwire_fabric_axum::TokenService;

    let tokens = TokenService::builder(client, MySignIn).build(); // MySignIn: impl Authenticator
    let app = axum::Router::new().nest("/api/signalwire", tokens.router());
    app
}

/// The sign-in the axum README leaves to the app: every request is user 42.
struct MySignIn;

#[signalwire_fabric_axum::async_trait]
impl signalwire_fabric_axum::Authenticator for MySignIn {
    async fn authenticate(
        &self,
        _request: &axum::http::request::Parts,
    ) -> Result<signalwire_fabric_axum::SubscriberProfile, signalwire_fabric_axum::Refusal> {
        let key = SessionKey::new("user-42").expect("a valid key");
        Ok(signalwire_fabric_axum::SubscriberProfile::new(
            key,
            "user-42@example.com",
        ))
    }
}

// crates/signalwire-fabric-fake/README.md
async fn fake_readme() -> Result<(FakeSpace, signalwire_fabric::CreatedSubscriberToken), Failure> {
    use signalwire_fabric::CreateSubscriberToken;
    use signalwire_fabric_fake::FakeSpace;

    let fake = FakeSpace::start().await;
    let client = fake.client(); // a signalwire_fabric::Client aimed at the fake
    let created = client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("alice@example.com"))
        .await?;
    Ok((fake, created))
}

#[tokio::test]
async fn the_fake_readme_creates_a_subscriber_token_on_the_fake() {
    let (fake, created) = fake_readme().await.expect("the snippet runs");
    assert_eq!(fake.request_count(Operation::Create), 1);
    assert!(created.pair.access_expires_in() > std::time::Duration::ZERO);
}

#[tokio::test]
async fn the_readme_session_snippet_serves_the_pair_and_saves_it_to_the_file() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let created =
        signalwire_fabric::testing::create_subscriber_token(&client, "alice@example.com").await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let here = std::env::current_dir().expect("the working directory");
    // The snippet's store is `tokens.json` in the working directory: run it in a scratch
    // one (no other test in this binary uses the working directory), and stay there until
    // the session has saved.
    std::env::set_current_dir(dir.path()).expect("cd");
    let session = readme_session(client, created.pair.clone()).await;
    let saved = match &session {
        Ok(session) => {
            tokio::time::timeout(std::time::Duration::from_secs(10), async {
                while !session.status().saved {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
            .await
        }
        Err(_) => Ok(()),
    };
    std::env::set_current_dir(here).expect("cd back");
    let session = session.expect("the snippet runs");
    saved.expect("the session saves its pair within 10 s");
    // The pair was fresh: nothing was refreshed, and the file holds the very pair.
    assert_eq!(fake.refresh_count(), 0);
    let stored = FileStore::new(dir.path().join("tokens.json"));
    let stored = signalwire_fabric::TokenStore::load(&stored)
        .await
        .expect("readable")
        .expect("a pair");
    assert_eq!(
        TokenPair::from_stored(stored)
            .refresh_token()
            .expose_secret(),
        created.pair.refresh_token().expose_secret()
    );
    drop(session);
}

#[tokio::test]
async fn the_readme_join_or_create_snippet_creates_the_subscribers_first_token() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let session = readme_join_or_create(client)
        .await
        .expect("the snippet runs");
    session.access_token().await.expect("a token");
    // Nothing was shared yet, so the closure created the subscriber's first token, once,
    // and the session published it as the coordinator's first generation.
    assert_eq!(fake.request_count(Operation::Create), 1);
    assert_eq!(fake.refresh_count(), 0);
}

#[tokio::test]
async fn the_axum_readme_router_answers_under_its_nested_path() {
    let fake = FakeSpace::start().await;
    let app = axum_readme(fake.client());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let answer = reqwest::Client::new()
        .post(format!("http://{address}/api/signalwire/authenticate"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("an answer");
    server.abort();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    assert!(body["token"].is_string());
    assert!(body["expiry_at"].is_u64());
    assert_eq!(fake.request_count(Operation::Create), 1);
}
