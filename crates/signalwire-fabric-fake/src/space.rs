//! [`FakeSpace`]: a running fake, and how to configure and start one.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;
use wiremock::MockServer;

use crate::state::Shared;
use crate::{FakeClock, Fault, JournalEntry, Operation, RotationPolicy, server};

/// A fake SignalWire space serving `create_subscriber_token` and
/// `refresh_subscriber_token` on a loopback port, with state: it remembers the tokens it
/// issued, checks their kind and expiry on its own [`FakeClock`], applies a
/// [`RotationPolicy`], serves injected [`Fault`]s and journals every request.
///
/// The server stops when the `FakeSpace` is dropped. `Debug` shows where it listens and
/// the project id, never the API token or any token.
///
/// ```
/// use signalwire_fabric::CreateSubscriberToken;
/// use signalwire_fabric_fake::{FakeSpace, Operation};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), signalwire_fabric::Error> {
/// let fake = FakeSpace::start().await;
/// let tokens = fake.client();
/// let created = tokens
///     .subscriber_tokens()
///     .create(CreateSubscriberToken::new("alice@example.com"))
///     .await?;
/// let pair = tokens
///     .subscriber_tokens()
///     .refresh(created.pair.refresh_token())
///     .await?;
/// assert_eq!(fake.refresh_count(), 1);
/// assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
/// # drop(pair);
/// # Ok(()) }
/// ```
pub struct FakeSpace {
    server: MockServer,
    shared: Arc<Shared>,
    base_url: String,
}

impl FakeSpace {
    /// Starts a fake on a random loopback port with generated credentials and the
    /// default [`RotationPolicy::SingleUse`].
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound at all. Use [`FakeSpace::builder`] to get an
    /// error instead.
    pub async fn start() -> FakeSpace {
        match Self::builder().start().await {
            Ok(fake) => fake,
            Err(error) => panic!("the fake could not bind a loopback port: {error}"),
        }
    }

    /// Starts configuring a fake.
    pub fn builder() -> FakeSpaceBuilder {
        FakeSpaceBuilder::default()
    }

    /// A facade client pointed at this fake with its credentials.
    pub fn client(&self) -> signalwire_fabric::Client {
        match self.client_builder().build() {
            Ok(client) => client,
            // The base URL is http on 127.0.0.1 and the credentials were checked by
            // `FakeSpaceBuilder::start` against the same rules the client applies.
            Err(error) => panic!("the fake's settings are always a valid client: {error}"),
        }
    }

    /// A facade client builder already pointed at this fake with its credentials, for
    /// setting timeouts or limits before building.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), signalwire_fabric::Error> {
    /// # let fake = signalwire_fabric_fake::FakeSpace::start().await;
    /// let impatient = fake
    ///     .client_builder()
    ///     .timeout(std::time::Duration::from_millis(200))
    ///     .build()?;
    /// # drop(impatient);
    /// # Ok(()) }
    /// ```
    pub fn client_builder(&self) -> signalwire_fabric::ClientBuilder {
        signalwire_fabric::Client::builder()
            .base_url(self.base_url.as_str())
            .project_id(self.shared.project_id.as_str())
            .api_token(self.shared.api_token.as_str())
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The loopback address the fake listens on.
    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// The project id the fake accepts (Basic credentials' user name).
    pub fn project_id(&self) -> &str {
        &self.shared.project_id
    }

    /// The API token the fake accepts (Basic credentials' password). A secret in spirit:
    /// it is never shown by `Debug`.
    pub fn api_token(&self) -> &str {
        &self.shared.api_token
    }

    /// The fake's clock; advance it to make tokens expire.
    pub fn clock(&self) -> &FakeClock {
        &self.shared.clock
    }

    /// The rotation policy the fake applies to exchanged refresh tokens.
    pub fn rotation(&self) -> RotationPolicy {
        self.shared.rotation
    }

    /// Issues a token pair for the subscriber named by `reference` directly, without an
    /// HTTP request, as a create with only `reference` would (the subscriber keeps its
    /// id across calls). Not journaled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let fake = signalwire_fabric_fake::FakeSpace::start().await;
    /// let seeded = fake.create_subscriber_token("alice@example.com");
    /// let refresh = signalwire_fabric::RefreshToken::parse(seeded.refresh_token.as_str())
    ///     .expect("the fake issues well-formed refresh tokens");
    /// # drop(refresh);
    /// assert_eq!(fake.create_subscriber_token("alice@example.com").subscriber_id, seeded.subscriber_id);
    /// # }
    /// ```
    pub fn create_subscriber_token(&self, reference: &str) -> IssuedPair {
        self.shared.seed(reference)
    }

    /// Makes the next `times` requests to `operation` answer `fault`. Faults queue up in
    /// the order they were injected; each operation has its own queue.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use signalwire_fabric_fake::{Fault, Operation};
    ///
    /// # let fake = signalwire_fabric_fake::FakeSpace::start().await;
    /// fake.inject(Operation::Refresh, Fault::status(503).html(), 2);
    /// assert_eq!(fake.faults_pending(Operation::Refresh), 2);
    /// assert_eq!(fake.faults_pending(Operation::Create), 0);
    /// # }
    /// ```
    pub fn inject(&self, operation: Operation, fault: Fault, times: usize) {
        self.shared.inject(operation, fault, times);
    }

    /// How many requests to `operation` injected faults will still answer.
    pub fn faults_pending(&self, operation: Operation) -> usize {
        self.shared.faults_pending(operation)
    }

    /// Drops every fault not served yet.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Every request received so far, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal()
    }

    /// Forgets the journal (tokens, subscribers and faults are kept).
    pub fn clear_journal(&self) {
        self.shared.clear_journal();
    }

    /// How many requests to `operation` were received, whatever the answer.
    pub fn request_count(&self, operation: Operation) -> usize {
        self.shared
            .count(|entry| entry.operation == Some(operation))
    }

    /// How many refresh requests were received, whatever the answer.
    pub fn refresh_count(&self) -> usize {
        self.request_count(Operation::Refresh)
    }

    /// How many requests to `operation` were answered with `status`.
    pub fn answered_count(&self, operation: Operation, status: u16) -> usize {
        self.shared
            .count(|entry| entry.operation == Some(operation) && entry.status == status)
    }

    /// When a token the fake issued expires, on the fake's clock; `None` for a token it
    /// never issued.
    pub fn token_expires_at(&self, token: &str) -> Option<SystemTime> {
        self.shared.token_expires_at(token)
    }

    /// The subscriber a token the fake issued belongs to; `None` for a token it never
    /// issued.
    pub fn token_subscriber(&self, token: &str) -> Option<Uuid> {
        self.shared.token_subscriber(token)
    }

    /// The id of the subscriber with this reference, once one was created.
    pub fn subscriber_id(&self, reference: &str) -> Option<Uuid> {
        self.shared.subscriber_id(reference)
    }
}

impl fmt::Debug for FakeSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSpace")
            .field("base_url", &self.base_url)
            .field("project_id", &self.shared.project_id)
            .field("api_token", &"[redacted]")
            .field("rotation", &self.shared.rotation)
            .field("clock", &self.shared.clock)
            .finish_non_exhaustive()
    }
}

/// Configures a [`FakeSpace`]; every setting is optional.
///
/// ```
/// use signalwire_fabric_fake::{FakeSpace, RotationPolicy};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let fake = FakeSpace::builder()
///     .rotation(RotationPolicy::Reusable)
///     .project_id("9f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10")
///     .api_token("PTfake")
///     .start()
///     .await?;
/// assert_eq!(fake.project_id(), "9f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10");
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct FakeSpaceBuilder {
    rotation: RotationPolicy,
    port: Option<u16>,
    project_id: Option<String>,
    api_token: Option<String>,
}

impl FakeSpaceBuilder {
    /// What happens to exchanged refresh tokens (default [`RotationPolicy::SingleUse`]).
    pub fn rotation(mut self, rotation: RotationPolicy) -> Self {
        self.rotation = rotation;
        self
    }

    /// The loopback port to listen on (default: one the system picks).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The project id to accept (default: a random UUID).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The API token to accept (default: `PT` and 48 random hex digits).
    pub fn api_token(mut self, api_token: impl Into<String>) -> Self {
        self.api_token = Some(api_token.into());
        self
    }

    /// Binds `127.0.0.1:<port>` and starts serving.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when the project id is empty or has a
    /// `:` or control character, or the API token is empty or has a control character
    /// (a client could not send them); otherwise with the error binding the port gave,
    /// e.g. [`io::ErrorKind::AddrInUse`].
    pub async fn start(self) -> io::Result<FakeSpace> {
        let project_id = self.project_id.unwrap_or_else(generated_project_id);
        let api_token = self.api_token.unwrap_or_else(generated_api_token);
        check_credential("project_id", &project_id, true)?;
        check_credential("api_token", &api_token, false)?;

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port.unwrap_or(0)))?;
        let server = MockServer::builder()
            .listener(listener)
            // The fake keeps its own journal; wiremock's copy would only grow.
            .disable_request_recording()
            .start()
            .await;
        let shared = Arc::new(Shared::new(
            project_id,
            api_token,
            self.rotation,
            FakeClock::new(),
        ));
        server::mount(&server, &shared).await;
        let base_url = format!("http://{}", server.address());
        Ok(FakeSpace {
            server,
            shared,
            base_url,
        })
    }
}

impl fmt::Debug for FakeSpaceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSpaceBuilder")
            .field("rotation", &self.rotation)
            .field("port", &self.port)
            .field("project_id", &self.project_id)
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Refuses a credential a client could not send: empty, with a control character, or
/// (for the user name) with a `:`.
fn check_credential(name: &str, value: &str, is_user_name: bool) -> io::Result<()> {
    let problem = if value.is_empty() {
        "is empty"
    } else if value.chars().any(char::is_control) {
        "contains a control character"
    } else if is_user_name && value.contains(':') {
        "contains ':'"
    } else {
        return Ok(());
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("the fake's {name} {problem}"),
    ))
}

fn generated_project_id() -> String {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn generated_api_token() -> String {
    let digits: String = std::iter::repeat_with(|| fastrand::digit(16))
        .take(48)
        .collect();
    format!("PT{digits}")
}

/// A token pair issued by [`FakeSpace::create_subscriber_token`].
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
