//! The [`Client`]: validated configuration and the HTTP client it sends with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use signalwire_fabric_api as api;

use crate::Error;
use crate::config::{ApiToken, ProjectId, Space, check_base_url};
use crate::subscriber_tokens::SubscriberTokens;

/// How long to wait for a connection by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take by default, from sending to the last body byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a response body read by default. A token pair is about 2 KiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The environment variable naming the space.
pub const ENV_SPACE: &str = "SIGNALWIRE_SPACE";
/// The environment variable holding the project id.
pub const ENV_PROJECT_ID: &str = "SIGNALWIRE_PROJECT_ID";
/// The environment variable holding the API token.
pub const ENV_API_TOKEN: &str = "SIGNALWIRE_API_TOKEN";
/// The optional environment variable that replaces the space with a base URL (a fake or a
/// proxy), checked like [`ClientBuilder::base_url`].
pub const ENV_BASE_URL: &str = "SIGNALWIRE_BASE_URL";

const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// A client for one SignalWire space and project. Cheap to clone; clones share one
/// connection pool.
///
/// ```no_run
/// # async fn run() -> Result<(), signalwire_fabric::Error> {
/// let client = signalwire_fabric::Client::builder()
///     .space("example")
///     .project_id("9f1c2b9e-4d7a-4c3e-9a51-0b8e2f7d4c10")
///     .api_token("PT0123456789abcdef")
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    http: reqwest::Client,
    project_id: ProjectId,
    api_token: ApiToken,
    max_response_bytes: usize,
    /// Answers requests in-process instead of sending them (see [`crate::fuzzing`]).
    responder: Option<api::Responder>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("project_id", &self.inner.project_id)
            .field("api_token", &self.inner.api_token)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: [`ENV_SPACE`] (or [`ENV_BASE_URL`]),
    /// [`ENV_PROJECT_ID`] and [`ENV_API_TOKEN`]. The error names a missing variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Client::from_env`], reading variables through `lookup`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let require = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| Error::invalid(name, "is not set"))
        };
        let mut builder = Client::builder();
        builder = match lookup(ENV_BASE_URL).filter(|value| !value.is_empty()) {
            Some(base_url) => builder.base_url(base_url),
            None => builder.space(require(ENV_SPACE)?),
        };
        builder
            .project_id(require(ENV_PROJECT_ID)?)
            .api_token(require(ENV_API_TOKEN)?)
            .build()
    }

    /// Creating and refreshing subscriber tokens.
    pub fn subscriber_tokens(&self) -> SubscriberTokens<'_> {
        SubscriberTokens::new(self)
    }

    /// The URL requests are sent under, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The project the credentials belong to.
    pub fn project_id(&self) -> &ProjectId {
        &self.inner.project_id
    }

    /// A generated client for one exchange, with a fresh [`api::Exchange`] to record it.
    pub(crate) fn exchange(&self) -> api::Client {
        let limit = self.inner.max_response_bytes;
        let exchange = match &self.inner.responder {
            Some(responder) => api::Exchange::with_responder(limit, responder.clone()),
            None => api::Exchange::new(limit),
        };
        api::Client::new_with_client(&self.inner.base_url, self.inner.http.clone(), exchange)
    }

    /// This client, answering every request in-process with `responder` and reading at
    /// most `max_response_bytes` of each answer.
    pub(crate) fn with_responder(
        &self,
        max_response_bytes: usize,
        responder: api::Responder,
    ) -> Client {
        Client {
            inner: Arc::new(Inner {
                base_url: self.inner.base_url.clone(),
                http: self.inner.http.clone(),
                project_id: self.inner.project_id.clone(),
                api_token: self.inner.api_token.clone(),
                max_response_bytes,
                responder: Some(responder),
            }),
        }
    }

    /// The secret this client holds, for scrubbing error text.
    pub(crate) fn api_token_text(&self) -> &str {
        self.inner.api_token.expose_secret()
    }
}

/// Configures a [`Client`]. Nothing is checked until [`ClientBuilder::build`], which
/// names the first setting at fault.
#[derive(Default)]
pub struct ClientBuilder {
    space: Option<String>,
    base_url: Option<String>,
    project_id: Option<String>,
    api_token: Option<ApiTokenInput>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    max_response_bytes: Option<usize>,
}

/// The API token as given, kept secret until it is checked.
struct ApiTokenInput(secrecy::SecretString);

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("space", &self.space)
            .field("base_url", &self.base_url)
            .field("project_id", &self.project_id)
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl ClientBuilder {
    /// The space: `example`, `example.signalwire.com` or `https://example.signalwire.com`.
    /// See [`Space`].
    pub fn space(mut self, space: impl Into<String>) -> Self {
        self.space = Some(space.into());
        self
    }

    /// Sends requests under this URL instead of the space's, for fakes and proxies:
    /// `https`, or `http` to a loopback host; no user info, query or fragment.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// The project id (Basic credentials' user name).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The API token (Basic credentials' password). Kept secret from here on.
    pub fn api_token(mut self, api_token: impl Into<String>) -> Self {
        self.api_token = Some(ApiTokenInput(secrecy::SecretString::from(api_token.into())));
        self
    }

    /// How long to wait for a connection (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long a whole request may take (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most of a response body that is read (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]); a longer body fails with
    /// [`Error::ResponseTooLarge`].
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Checks every setting and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        use secrecy::ExposeSecret as _;

        let base_url = match (&self.space, &self.base_url) {
            (_, Some(base_url)) => check_base_url(base_url)?,
            (Some(space), None) => Space::parse(space)?.base_url(),
            (None, None) => {
                return Err(Error::invalid(
                    "space",
                    "is not set: give space() or base_url()",
                ));
            }
        };
        let project_id = ProjectId::parse(
            self.project_id
                .as_deref()
                .ok_or_else(|| Error::invalid("project_id", "is not set"))?,
        )?;
        let api_token = ApiToken::parse(
            self.api_token
                .as_ref()
                .ok_or_else(|| Error::invalid("api_token", "is not set"))?
                .0
                .expose_secret(),
        )?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        if timeout.is_zero() || connect_timeout.is_zero() {
            return Err(Error::invalid("timeout", "must be longer than zero"));
        }

        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, basic_authorization(&project_id, &api_token)?);
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            // Redirects are never followed: Basic credentials stay with the configured host.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base_url.starts_with("https://"))
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .build()
            .map_err(|error| Error::invalid("http client", error.to_string()))?;

        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                http,
                project_id,
                api_token,
                max_response_bytes: self
                    .max_response_bytes
                    .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                responder: None,
            }),
        })
    }
}

fn basic_authorization(project_id: &ProjectId, api_token: &ApiToken) -> Result<HeaderValue, Error> {
    use base64::Engine as _;

    let credentials = secrecy::SecretString::from(format!(
        "{}:{}",
        project_id.as_str(),
        api_token.expose_secret()
    ));
    let encoded = secrecy::SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(secrecy::ExposeSecret::expose_secret(&credentials))
    ));
    let mut value = HeaderValue::from_str(secrecy::ExposeSecret::expose_secret(&encoded))
        .map_err(|_| Error::invalid("api_token", "cannot be sent in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn from_env_names_the_first_missing_variable() {
        let cases: [(&[(&str, &str)], &str); 3] = [
            (&[], ENV_SPACE),
            (&[(ENV_SPACE, "example")], ENV_PROJECT_ID),
            (
                &[(ENV_SPACE, "example"), (ENV_PROJECT_ID, "p")],
                ENV_API_TOKEN,
            ),
        ];
        for (vars, missing) in cases {
            match Client::from_lookup(lookup(vars)) {
                Err(Error::InvalidInput { field, reason }) => {
                    assert_eq!((field, reason.as_str()), (missing, "is not set"));
                }
                other => panic!("{vars:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn from_env_builds_from_a_space_or_a_base_url() {
        let client = Client::from_lookup(lookup(&[
            (ENV_SPACE, "Example"),
            (ENV_PROJECT_ID, "p"),
            (ENV_API_TOKEN, "t"),
        ]))
        .expect("complete");
        assert_eq!(client.base_url(), "https://example.signalwire.com");
        let client = Client::from_lookup(lookup(&[
            (ENV_BASE_URL, "http://127.0.0.1:9/"),
            (ENV_PROJECT_ID, "p"),
            (ENV_API_TOKEN, "t"),
        ]))
        .expect("complete");
        assert_eq!(client.base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn build_names_the_setting_at_fault() {
        let field = |builder: ClientBuilder| match builder.build() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let complete = || {
            Client::builder()
                .space("example")
                .project_id("p")
                .api_token("t")
        };
        assert_eq!(
            field(Client::builder().project_id("p").api_token("t")),
            "space"
        );
        assert_eq!(field(complete().space("a.b")), "space");
        assert_eq!(field(complete().base_url("http://example.com")), "base_url");
        assert_eq!(field(complete().project_id("a:b")), "project_id");
        assert_eq!(field(complete().api_token("")), "api_token");
        assert_eq!(field(complete().timeout(Duration::ZERO)), "timeout");
        assert!(complete().build().is_ok());
    }

    #[test]
    fn the_authorization_header_is_basic_and_sensitive() {
        let project = ProjectId::parse("project").expect("valid");
        let token = ApiToken::parse("secret").expect("valid");
        let value = basic_authorization(&project, &token).expect("ASCII");
        assert!(value.is_sensitive());
        // base64("project:secret")
        assert_eq!(value.to_str().ok(), Some("Basic cHJvamVjdDpzZWNyZXQ="));
        assert_eq!(format!("{value:?}"), "Sensitive");
    }

    #[test]
    fn debug_shows_where_and_who_but_not_the_token() {
        let client = Client::builder()
            .space("example")
            .project_id("project-1")
            .api_token("PTtopsecret")
            .build()
            .expect("valid");
        let shown = format!("{client:?}");
        assert!(
            shown.contains("https://example.signalwire.com") && shown.contains("project-1"),
            "{shown}"
        );
        assert!(!shown.contains("PTtopsecret"), "{shown}");
        let builder = format!("{:?}", Client::builder().api_token("PTtopsecret"));
        assert!(!builder.contains("PTtopsecret"), "{builder}");
    }
}
