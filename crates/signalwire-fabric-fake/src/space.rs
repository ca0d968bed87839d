//! [`FakeSpace`]: a running fake, and how to configure and start one.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;
use wiremock::MockServer;

use crate::state::{Settings, Shared};
use crate::{
    DEFAULT_PAGE_SIZE, FakeClock, FakeSubscriber, Fault, IssuedPair, JournalEntry, MAX_PAGE_SIZE,
    Operation, RotationPolicy, server, tokens,
};

/// A fake SignalWire space serving every operation of the project's contract on a
/// loopback port, with state: it holds subscribers and their addresses, remembers the
/// tokens it issued, checks their kind and expiry on its own [`FakeClock`], applies a
/// [`RotationPolicy`], pages lists, serves injected [`Fault`]s and journals every
/// request.
///
/// The server stops when the `FakeSpace` is dropped. `Debug` shows where it listens and
/// the project id, never the API token, the click-to-call token or any token.
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
            .project_id(self.settings().project_id.as_str())
            .api_token(self.settings().api_token.as_str())
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL clients reach the fake at, when the builder was given one
    /// ([`FakeSpaceBuilder::public_url`]): page links name it.
    pub fn public_url(&self) -> Option<&str> {
        self.settings().public_url.as_deref()
    }

    /// The loopback address the fake listens on.
    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The project id the fake accepts (Basic credentials' user name).
    pub fn project_id(&self) -> &str {
        &self.settings().project_id
    }

    /// The API token the fake accepts (Basic credentials' password). A secret in spirit:
    /// it is never shown by `Debug`.
    pub fn api_token(&self) -> &str {
        &self.settings().api_token
    }

    /// The click-to-call token `create_guest_embed_token` accepts (`c2c_` and 32
    /// hexadecimal digits): the builder's, or one generated at start. Any other token,
    /// whatever its shape, is refused with 403 (an empty one is a 422). Never shown by
    /// `Debug`.
    pub fn click_to_call_token(&self) -> &str {
        self.settings()
            .click_to_call_tokens
            .first()
            .map_or("", String::as_str)
    }

    /// How many items a page of a list holds when the request does not say (the
    /// builder's [`FakeSpaceBuilder::page_size`], else [`DEFAULT_PAGE_SIZE`]).
    pub fn page_size(&self) -> usize {
        self.settings().page_size
    }

    /// The fake's clock; advance it to make tokens expire.
    pub fn clock(&self) -> &FakeClock {
        &self.settings().clock
    }

    /// The rotation policy the fake applies to exchanged refresh tokens.
    pub fn rotation(&self) -> RotationPolicy {
        self.settings().rotation
    }

    /// Issues a token pair for the subscriber named by `reference` directly, without an
    /// HTTP request, as a create with only `reference` would: the subscriber whose email
    /// is `reference` (added when there is none) keeps its id across calls. Not
    /// journaled.
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

    /// Adds a subscriber with this email (and one address named after it) directly,
    /// without an HTTP request; returns the one already there when the email is taken.
    /// Not journaled.
    pub fn create_subscriber(&self, email: &str) -> FakeSubscriber {
        self.shared.seed_subscriber(email)
    }

    /// The subscriber with this email (a `reference` for token requests), if the fake
    /// holds one.
    pub fn subscriber(&self, email: &str) -> Option<FakeSubscriber> {
        self.shared.subscriber(email)
    }

    /// Every subscriber the fake holds, oldest first (the order lists answer in).
    pub fn subscribers(&self) -> Vec<FakeSubscriber> {
        self.shared.subscribers()
    }

    /// Gives the subscriber with this email another address, named `name` (lower-cased,
    /// with other characters than letters, digits, `.`, `_` and `-` made `-`, leading and
    /// trailing `-` trimmed, `subscriber` when nothing is left, and a number added when
    /// another address has the name). Returns its id; `None` when the
    /// fake holds no subscriber with this email.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let fake = signalwire_fabric_fake::FakeSpace::start().await;
    /// fake.create_subscriber("alice@example.com");
    /// let room = fake.add_address("alice@example.com", "Team room").expect("alice exists");
    /// assert_eq!(fake.subscriber("alice@example.com").map(|s| s.address_ids[1]), Some(room));
    /// assert_eq!(fake.add_address("nobody@example.com", "x"), None);
    /// # }
    /// ```
    pub fn add_address(&self, email: &str, name: &str) -> Option<Uuid> {
        self.shared.add_address(email, name)
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

    /// The subscriber a token the fake issued belongs to (pairs and invites); `None` for
    /// a guest's or an embed token, or one it never issued.
    pub fn token_subscriber(&self, token: &str) -> Option<Uuid> {
        self.shared.token_subscriber(token)
    }

    /// The addresses a guest token (either of the pair, or a pair refreshed from it)
    /// allows; `None` for any other token.
    pub fn token_allowed_addresses(&self, token: &str) -> Option<Vec<Uuid>> {
        self.shared.token_allowed_addresses(token)
    }

    /// The subscriber id of the subscriber with this reference (its email), while the
    /// fake holds one.
    pub fn subscriber_id(&self, reference: &str) -> Option<Uuid> {
        self.shared.subscriber_id(reference)
    }
}

impl fmt::Debug for FakeSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSpace")
            .field("base_url", &self.base_url)
            .field("public_url", &self.settings().public_url)
            .field("project_id", &self.settings().project_id)
            .field("api_token", &"[redacted]")
            .field("click_to_call_token", &"[redacted]")
            .field("page_size", &self.settings().page_size)
            .field("rotation", &self.settings().rotation)
            .field("clock", &self.settings().clock)
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
///     .page_size(2)
///     .click_to_call_token("c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f9012")
///     .start()
///     .await?;
/// assert_eq!(fake.project_id(), "9f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10");
/// assert_eq!(fake.page_size(), 2);
/// assert_eq!(fake.click_to_call_token(), "c2c_7a1e9d40b2c64f1e8d3b5a6c7e8f9012");
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct FakeSpaceBuilder {
    rotation: RotationPolicy,
    port: Option<u16>,
    project_id: Option<String>,
    api_token: Option<String>,
    page_size: Option<usize>,
    click_to_call_token: Option<String>,
    public_url: Option<String>,
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

    /// How many items a page of a list holds when the request does not say: 1 to
    /// [`MAX_PAGE_SIZE`] (default [`DEFAULT_PAGE_SIZE`]). A small one lets a test page
    /// through a few items.
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// The click-to-call token `create_guest_embed_token` accepts: `c2c_` and 32
    /// hexadecimal digits (default: one generated at start, see
    /// [`FakeSpace::click_to_call_token`]).
    pub fn click_to_call_token(mut self, token: impl Into<String>) -> Self {
        self.click_to_call_token = Some(token.into());
        self
    }

    /// Where clients reach the fake, when that is not the address they send to: for a
    /// proxy in front of it that does not pass the client's `Host` on. Page links
    /// (`links.next` and the others) then start with this URL, `http` or `https`, a host
    /// and a port, and nothing else.
    ///
    /// Without it, a page's links start with `http://` and the request's `Host` header,
    /// the address the client used (`localhost:<port>`, `127.0.0.1:<port>`, or a proxy
    /// that keeps the `Host`). Either way a client that follows links only on its own
    /// scheme, host and port, as the SDK does, pages through a whole list.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let fake = signalwire_fabric_fake::FakeSpace::builder()
    ///     .public_url("http://localhost:8080/")
    ///     .start()
    ///     .await?;
    /// assert_eq!(fake.public_url(), Some("http://localhost:8080"));
    /// # Ok(()) }
    /// ```
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Binds `127.0.0.1:<port>` and starts serving.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when the project id is empty or has a
    /// `:` or control character, the API token is empty or has a control character (a
    /// client could not send them), the page size is 0 or above [`MAX_PAGE_SIZE`], the
    /// click-to-call token is not `c2c_` and 32 hexadecimal digits, or the public URL is
    /// not `http(s)://host[:port]`; otherwise with the error binding the port gave, e.g.
    /// [`io::ErrorKind::AddrInUse`].
    pub async fn start(self) -> io::Result<FakeSpace> {
        let project_id = self.project_id.unwrap_or_else(generated_project_id);
        let api_token = self.api_token.unwrap_or_else(generated_api_token);
        check_credential("project_id", &project_id, true)?;
        check_credential("api_token", &api_token, false)?;
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the fake's page_size is {page_size}; it must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        let click_to_call = self
            .click_to_call_token
            .unwrap_or_else(tokens::click_to_call);
        if !tokens::is_click_to_call(&click_to_call) {
            // The token is not shown: it is a secret, and may hold anything.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the fake's click_to_call_token must be c2c_ followed by 32 hexadecimal digits",
            ));
        }

        let public_url = self.public_url.as_deref().map(origin_of).transpose()?;

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port.unwrap_or(0)))?;
        let server = MockServer::builder()
            .listener(listener)
            // The fake keeps its own journal; wiremock's copy would only grow.
            .disable_request_recording()
            .start()
            .await;
        let base_url = format!("http://{}", server.address());
        let shared = Arc::new(Shared::new(Settings {
            project_id,
            api_token,
            rotation: self.rotation,
            clock: FakeClock::new(),
            base_url: base_url.clone(),
            public_url,
            page_size,
            click_to_call_tokens: vec![click_to_call],
        }));
        server::mount(&server, &shared).await;
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
            .field("page_size", &self.page_size)
            .field(
                "click_to_call_token",
                &self.click_to_call_token.as_ref().map(|_| "[redacted]"),
            )
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The origin a public URL names (`http(s)://host[:port]`, the port left out when it is
/// the scheme's default), or why it cannot start page links.
fn origin_of(text: &str) -> io::Result<String> {
    let refuse = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the fake's public_url {why}; it must be http(s)://host[:port]"),
        )
    };
    let url = url::Url::parse(text.trim()).map_err(|_| refuse("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("is neither http nor https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("carries user info"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("has a path, a query or a fragment"));
    }
    Ok(url.origin().ascii_serialization())
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
