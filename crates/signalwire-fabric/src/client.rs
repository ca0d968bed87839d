//! The [`Client`]: validated configuration and the HTTP client it sends with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use signalwire_fabric_api as api;

use crate::Error;
use crate::config::{ApiToken, ProjectId, Space, check_base_url, check_proxy};

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
    /// The project's credentials; `None` for a client that only makes calls needing none
    /// (embed tokens) or a subscriber's token (invites).
    credentials: Option<Credentials>,
    max_response_bytes: usize,
    /// Answers requests in-process instead of sending them (see `crate::fuzzing`).
    #[cfg(feature = "test-util")]
    responder: Option<api::Responder>,
}

#[derive(Clone)]
struct Credentials {
    project_id: ProjectId,
    api_token: ApiToken,
    /// `Basic base64(project_id:api_token)`, marked sensitive.
    basic_authorization: HeaderValue,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = self.inner.credentials.as_ref();
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("project_id", &credentials.map(|c| &c.project_id))
            .field("api_token", &credentials.map(|c| &c.api_token))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: [`ENV_SPACE`] or [`ENV_BASE_URL`] (not
    /// both), [`ENV_PROJECT_ID`] and [`ENV_API_TOKEN`]. The error names the variable at
    /// fault. Proxy variables (`HTTPS_PROXY` and friends) are not read unless you opt in
    /// with [`ClientBuilder::proxy_from_env`].
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Client::from_env`], reading variables through `lookup`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let require = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| Error::invalid_input(name, "is not set"))
        };
        let mut builder = Client::builder();
        let space = lookup(ENV_SPACE).filter(|value| !value.is_empty());
        builder = match (
            lookup(ENV_BASE_URL).filter(|value| !value.is_empty()),
            space,
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(
                    ENV_BASE_URL,
                    format!("is set together with {ENV_SPACE}; set only one of them"),
                ));
            }
            (Some(base_url), None) => builder.base_url(base_url),
            (None, _) => builder.space(require(ENV_SPACE)?),
        };
        builder
            .project_id(require(ENV_PROJECT_ID)?)
            .api_token(require(ENV_API_TOKEN)?)
            .build()
    }

    /// The URL requests are sent under, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The project the credentials belong to, when the client has credentials.
    pub fn project_id(&self) -> Option<&ProjectId> {
        self.inner.credentials.as_ref().map(|c| &c.project_id)
    }

    /// A generated client for one call, with a fresh [`api::CallContext`] carrying the
    /// credentials `auth` names and recording the answer; sent to `url` when given (a page
    /// link the caller checked). Fails, before anything is sent, when `auth` needs
    /// credentials the client lacks.
    pub(crate) fn generated(
        &self,
        auth: Auth<'_>,
        url: Option<reqwest::Url>,
    ) -> Result<api::Client, Error> {
        let limit = self.inner.max_response_bytes;
        #[cfg(feature = "test-util")]
        let mut call = match &self.inner.responder {
            Some(responder) => api::CallContext::with_responder(limit, responder.clone()),
            None => api::CallContext::new(limit),
        };
        #[cfg(not(feature = "test-util"))]
        let mut call = api::CallContext::new(limit);
        match auth {
            Auth::Project => {
                let credentials = self.inner.credentials.as_ref().ok_or_else(|| {
                    Error::invalid_input(
                        "api_token",
                        "is not set, and this operation needs the project's credentials \
                         (give project_id() and api_token())",
                    )
                })?;
                call = call.authorize(credentials.basic_authorization.clone());
            }
            Auth::Subscriber(token) => call = call.authorize(bearer_authorization(token)),
            Auth::None => {}
        }
        if let Some(url) = url {
            call = call.at_url(url);
        }
        Ok(api::Client::new_with_client(
            &self.inner.base_url,
            self.inner.http.clone(),
            call,
        ))
    }

    #[cfg(feature = "test-util")]
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
                credentials: self.inner.credentials.clone(),
                max_response_bytes,
                responder: Some(responder),
            }),
        }
    }

    /// The URL of `path` under the base URL.
    pub(crate) fn url_for(&self, path: &str) -> Result<reqwest::Url, Error> {
        reqwest::Url::parse(&format!("{}{path}", self.inner.base_url))
            .map_err(|error| Error::invalid_input("base_url", error.to_string()))
    }

    /// The secret this client holds, for scrubbing error text.
    pub(crate) fn api_token_text(&self) -> &str {
        self.inner
            .credentials
            .as_ref()
            .map_or("", |c| c.api_token.expose_secret())
    }
}

/// Configures a [`Client`]. Nothing is checked until [`ClientBuilder::build`], which
/// names the first setting at fault.
///
/// The project id and API token go together. A client built with neither can still make
/// the calls that need no project credentials: [`Client::embed_tokens`] (no credentials)
/// and [`Client::invite_tokens`] (a subscriber's access token).
#[derive(Default)]
pub struct ClientBuilder {
    space: Option<String>,
    base_url: Option<String>,
    project_id: Option<String>,
    api_token: Option<ApiTokenInput>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    max_response_bytes: Option<usize>,
    proxy: Option<ProxySetting>,
}

/// Where requests go on their way to the base URL.
#[derive(Clone)]
enum ProxySetting {
    /// Through this proxy, as given.
    Url(String),
    /// Through the proxy the environment names, if any.
    FromEnv,
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A proxy URL can carry a password (refused when checked, but not shown).
            Self::Url(url) => f
                .debug_tuple("Url")
                .field(&crate::config::without_user_info(url))
                .finish(),
            Self::FromEnv => f.write_str("FromEnv"),
        }
    }
}

/// The API token as given, kept secret until it is checked.
struct ApiTokenInput(secrecy::SecretString);

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field(
                "space",
                &self.space.as_deref().map(crate::config::without_user_info),
            )
            .field(
                "base_url",
                &self
                    .base_url
                    .as_deref()
                    .map(crate::config::without_user_info),
            )
            .field("project_id", &self.project_id)
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("proxy", &self.proxy)
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

    /// Sends requests under this URL instead of the space's, for fakes and reverse
    /// proxies: `https`, or `http` to a loopback host; no user info, query, fragment,
    /// whitespace or control characters. Give either this or [`ClientBuilder::space`],
    /// not both.
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

    /// Sends every request through this forward proxy (`http://host:port` or
    /// `https://host:port`, no user info).
    ///
    /// Without this (or [`ClientBuilder::proxy_from_env`]) no proxy is used, whatever
    /// `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY` say: an environment variable cannot
    /// silently route the project's credentials elsewhere. An `https` base URL is
    /// reached through the proxy with `CONNECT`, so TLS runs end to end and the proxy
    /// never sees the credentials. With a plain-`http` (loopback) base URL the proxy
    /// would see them, so it must then be on loopback too.
    pub fn proxy(mut self, proxy: impl Into<String>) -> Self {
        self.proxy = Some(ProxySetting::Url(proxy.into()));
        self
    }

    /// Opts in to the proxy the environment names, checked like
    /// [`ClientBuilder::proxy`]: `HTTPS_PROXY` (or `https_proxy`) for an `https` base URL,
    /// `HTTP_PROXY` (or `http_proxy`) for an `http` one, else `ALL_PROXY` (or
    /// `all_proxy`); `NO_PROXY` (or `no_proxy`) exempts hosts. No proxy when none is set.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = Some(ProxySetting::FromEnv);
        self
    }

    /// Checks every setting and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        use secrecy::ExposeSecret as _;

        let base_url = match (&self.space, &self.base_url) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(
                    "base_url",
                    "was given together with space(); give one of them: space() for a \
                     SignalWire space, base_url() for anything else",
                ));
            }
            (None, Some(base_url)) => check_base_url(base_url)?,
            (Some(space), None) => Space::parse(space)?.base_url(),
            (None, None) => {
                return Err(Error::invalid_input(
                    "space",
                    "is not set: give space() or base_url()",
                ));
            }
        };
        let credentials = match (&self.project_id, &self.api_token) {
            (None, None) => None,
            (Some(project_id), Some(api_token)) => {
                let project_id = ProjectId::parse(project_id)?;
                let api_token = ApiToken::parse(api_token.0.expose_secret())?;
                let basic_authorization = basic_authorization(&project_id, &api_token)?;
                Some(Credentials {
                    project_id,
                    api_token,
                    basic_authorization,
                })
            }
            (None, Some(_)) => {
                return Err(Error::invalid_input(
                    "project_id",
                    "is not set (an API token was given without it)",
                ));
            }
            (Some(_), None) => {
                return Err(Error::invalid_input(
                    "api_token",
                    "is not set (a project id was given without it)",
                ));
            }
        };
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        if timeout.is_zero() || connect_timeout.is_zero() {
            return Err(Error::invalid_input("timeout", "must be longer than zero"));
        }

        let proxy = match &self.proxy {
            None => None,
            Some(ProxySetting::Url(proxy)) => Some((check_proxy(proxy, &base_url)?, None)),
            Some(ProxySetting::FromEnv) => {
                proxy_from_env(&base_url, |name| std::env::var(name).ok())?
            }
        };

        let mut http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            // Redirects are never followed: Basic credentials stay with the configured host.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base_url.starts_with("https://"))
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            // reqwest reads the proxy variables of the environment unless told otherwise.
            .no_proxy();
        if let Some((url, no_proxy)) = proxy {
            let proxy = reqwest::Proxy::all(url)
                .map_err(|error| Error::invalid_input("proxy", error.to_string()))?
                .no_proxy(no_proxy);
            http = http.proxy(proxy);
        }
        let http = http
            .build()
            .map_err(|error| Error::invalid_input("http client", error.to_string()))?;

        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                http,
                credentials,
                max_response_bytes: self
                    .max_response_bytes
                    .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                #[cfg(feature = "test-util")]
                responder: None,
            }),
        })
    }
}

/// The proxy the environment names for `base_url`, checked, with the `NO_PROXY` list.
fn proxy_from_env(
    base_url: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<(reqwest::Url, Option<reqwest::NoProxy>)>, Error> {
    let names: &[&str] = if base_url.starts_with("https://") {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let Some((name, value)) = names.iter().find_map(|name| {
        lookup(name)
            .filter(|value| !value.is_empty())
            .map(|value| (*name, value))
    }) else {
        return Ok(None);
    };
    let url = check_proxy(&value, base_url).map_err(|error| match error {
        Error::InvalidInput { reason, .. } => Error::InvalidInput {
            field: "proxy",
            reason: format!("{reason} (from {name})"),
        },
        other => other,
    })?;
    let no_proxy = ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| lookup(name))
        .and_then(|list| reqwest::NoProxy::from_string(&list));
    Ok(Some((url, no_proxy)))
}

/// Which credentials an operation is sent with (the spec says, per operation).
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// The project's Basic credentials.
    Project,
    /// A subscriber's access token as a Bearer token.
    Subscriber(&'a crate::AccessToken),
    /// None at all.
    None,
}

fn bearer_authorization(token: &crate::AccessToken) -> HeaderValue {
    // A parsed token is base64url and dots only, so it is always a valid header value.
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    value.set_sensitive(true);
    value
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
        .map_err(|_| Error::invalid_input("api_token", "cannot be sent in an HTTP header"))?;
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
        assert_eq!(
            field(Client::builder().space("example").api_token("t")),
            "project_id"
        );
        assert_eq!(
            field(Client::builder().space("example").project_id("p")),
            "api_token"
        );
        let anonymous = Client::builder()
            .space("example")
            .build()
            .expect("no credentials is allowed");
        assert!(anonymous.project_id().is_none());
    }

    #[test]
    fn a_space_and_a_base_url_together_are_refused() {
        let both = Client::builder()
            .space("evil.com#")
            .base_url("https://example.com")
            .project_id("p")
            .api_token("t")
            .build();
        match both {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "base_url");
                assert!(reason.contains("together with space()"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let from_env = Client::from_lookup(lookup(&[
            (ENV_SPACE, "example"),
            (ENV_BASE_URL, "http://127.0.0.1:9"),
            (ENV_PROJECT_ID, "p"),
            (ENV_API_TOKEN, "t"),
        ]));
        match from_env {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, ENV_BASE_URL);
                assert!(reason.contains(ENV_SPACE), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_environment_proxy_is_chosen_by_scheme_and_checked() {
        let https = "https://example.signalwire.com";
        let http = "http://127.0.0.1:9";
        let chosen = |base: &str, vars: &[(&str, &str)]| {
            proxy_from_env(base, lookup(vars)).map(|found| found.map(|(url, _)| url.to_string()))
        };
        assert_eq!(chosen(https, &[]).ok(), Some(None));
        let vars = [
            ("HTTP_PROXY", "http://127.0.0.1:1"),
            ("HTTPS_PROXY", "http://proxy.internal:2"),
            ("ALL_PROXY", "http://127.0.0.1:3"),
        ];
        assert_eq!(
            chosen(https, &vars).ok(),
            Some(Some("http://proxy.internal:2/".to_owned()))
        );
        assert_eq!(
            chosen(http, &vars).ok(),
            Some(Some("http://127.0.0.1:1/".to_owned()))
        );
        assert_eq!(
            chosen(https, &[("all_proxy", "http://127.0.0.1:3")]).ok(),
            Some(Some("http://127.0.0.1:3/".to_owned()))
        );
        match chosen(http, &[("HTTP_PROXY", "http://proxy.internal:1")]) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "proxy");
                assert!(reason.contains("from HTTP_PROXY"), "{reason}");
                assert!(reason.contains("loopback"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
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
