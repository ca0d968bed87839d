//! Creating a subscriber's token pair and exchanging its refresh token.

use std::fmt;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use signalwire_fabric_api::types;

use crate::client::Auth;
use crate::input;
use crate::response::issued_tokens;
use crate::tokens::{ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME};
use crate::{Client, Error, RefreshToken, SubscriberId, TokenPair};

/// How long an access token lives when `scope` is set without a `fingerprint`.
pub const UNBOUND_SCOPED_LIFETIME: Duration = Duration::from_secs(60);

/// The subscriber-token operations of a [`Client`]; see [`Client::subscriber_tokens`].
#[derive(Debug, Clone, Copy)]
pub struct SubscriberTokens<'a> {
    client: &'a Client,
}

impl<'a> SubscriberTokens<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Exchanges `refresh_token` for a new pair.
    ///
    /// The refresh token is spent once this succeeds (SignalWire may refuse it from now
    /// on): store the new pair's refresh token before using its access token. A
    /// [`SubscriberSession`](crate::SubscriberSession) does that for you.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client, old: signalwire_fabric::RefreshToken) -> Result<(), signalwire_fabric::Error> {
    /// let pair = client.subscriber_tokens().refresh(&old).await?;
    /// println!("access token valid for {:?}", pair.access_expires_in());
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", name = "refresh_subscriber_token", skip_all)]
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        let body = types::RefreshSubscriberTokenRequest {
            refresh_token: refresh_token.expose_secret().to_owned(),
        };
        self.client
            .call(Auth::Project, "a token pair")
            .scrubbing(refresh_token.expose_secret())
            .send(
                |api| async move { api.refresh_subscriber_token().body(body).send().await },
                |answer| {
                    let body = answer.body;
                    let (access, refresh) = issued_tokens(
                        answer.status,
                        answer.expected,
                        body.token,
                        body.refresh_token,
                    )?;
                    tracing::debug!(status = answer.status, "refresh answered");
                    Ok(TokenPair::issued_at(access, refresh, answer.received_at))
                },
            )
            .await
    }

    /// Creates a subscriber's first token pair (creating the subscriber on first use).
    ///
    /// Every field is checked before anything is sent; the error names the field.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::CreateSubscriberToken;
    ///
    /// let created = client
    ///     .subscriber_tokens()
    ///     .create(CreateSubscriberToken::new("alice@example.com").display_name("Alice"))
    ///     .await?;
    /// println!("subscriber {}", created.subscriber_id);
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", name = "create_subscriber_token", skip_all)]
    pub async fn create(
        &self,
        request: CreateSubscriberToken,
    ) -> Result<CreatedSubscriberToken, Error> {
        let lifetime = request.access_lifetime()?;
        let body = request.into_wire()?;
        let password = body
            .password
            .as_deref()
            .map(|p| SecretString::from(p.to_owned()));
        self.client
            .call(Auth::Project, "a subscriber token pair")
            .scrubbing(password.as_ref().map_or("", |p| p.expose_secret()))
            .send(
                |api| async move { api.create_subscriber_token().body(body).send().await },
                |answer| {
                    let (status, issued_at, body) =
                        (answer.status, answer.received_at, answer.body);
                    let (access, refresh) =
                        issued_tokens(status, answer.expected, body.token, body.refresh_token)?;
                    tracing::debug!(status, "create answered");
                    Ok(CreatedSubscriberToken {
                        subscriber_id: SubscriberId::from_server(body.subscriber_id.to_string()),
                        pair: TokenPair::new(
                            access,
                            refresh,
                            crate::clock::later(issued_at, lifetime),
                            crate::clock::later(issued_at, REFRESH_TOKEN_LIFETIME),
                        ),
                    })
                },
            )
            .await
    }
}

impl Client {
    /// Creating and refreshing subscriber tokens.
    pub fn subscriber_tokens(&self) -> SubscriberTokens<'_> {
        SubscriberTokens::new(self)
    }
}

/// What [`SubscriberTokens::create`] returns: the subscriber's id and its first pair.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedSubscriberToken {
    /// The subscriber the pair belongs to.
    pub subscriber_id: SubscriberId,
    /// The pair.
    pub pair: TokenPair,
}

/// What a token may be used for (`scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// `sat:refresh`. Without a fingerprint, the access token lives only 60 seconds.
    SatRefresh,
}

/// Where a subscriber's media is handled (`region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// `us-central`.
    UsCentral,
}

/// The request for a subscriber's first token pair. Only `reference` is required.
///
/// Setters never fail; [`SubscriberTokens::create`] checks every field first and names
/// the one at fault. `Debug` redacts the password.
///
/// ```
/// use signalwire_fabric::{CreateSubscriberToken, Region, Scope};
///
/// let request = CreateSubscriberToken::new("alice@example.com")
///     .first_name("Alice")
///     .fingerprint("Qm9vdHN0cmFwcGVkLWRldmljZS1maW5nZXJwcmludDE")
///     .scope(Scope::SatRefresh)
///     .region(Region::UsCentral);
/// ```
#[derive(Clone, Default)]
pub struct CreateSubscriberToken {
    reference: String,
    expire_at: Option<SystemTime>,
    application_id: Option<String>,
    password: Option<SecretString>,
    fingerprint: Option<String>,
    scope: Option<Scope>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    job_title: Option<String>,
    time_zone: Option<String>,
    country: Option<String>,
    company_name: Option<String>,
    region: Option<Region>,
}

macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(value.into());
            self
        }
    )*};
}

impl CreateSubscriberToken {
    /// A request for the subscriber named by `reference` (usually an email address).
    pub fn new(reference: impl Into<String>) -> Self {
        Self {
            reference: reference.into(),
            ..Self::default()
        }
    }

    /// When the access token should expire (must be in the future). Two hours from
    /// issue when not set.
    pub fn expire_at(mut self, at: SystemTime) -> Self {
        self.expire_at = Some(at);
        self
    }

    /// A new password for the subscriber (kept secret). Unchanged when not set.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    /// What the token may be used for.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Where the subscriber's media is handled.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    text_setters!(
        /// The application the subscriber belongs to (a UUID).
        application_id,
        /// Binds the token to one device: exactly 43 characters of `[A-Za-z0-9_-]`.
        fingerprint,
        /// The subscriber's first name.
        first_name,
        /// The subscriber's last name.
        last_name,
        /// The name shown for the subscriber.
        display_name,
        /// The subscriber's job title.
        job_title,
        /// The subscriber's IANA time zone, e.g. `Europe/Stockholm`.
        time_zone,
        /// The subscriber's country.
        country,
        /// The subscriber's company.
        company_name,
    );

    /// How long the access token will live, checking `expire_at` on the way.
    fn access_lifetime(&self) -> Result<Duration, Error> {
        if let Some(at) = self.expire_at {
            return input::future_unix("expire_at", at).map(|(_, ahead)| ahead);
        }
        if self.scope.is_some() && self.fingerprint.is_none() {
            return Ok(UNBOUND_SCOPED_LIFETIME);
        }
        Ok(ACCESS_TOKEN_LIFETIME)
    }

    /// Checks every field and builds the wire body.
    fn into_wire(self) -> Result<types::SubscriberTokenRequest, Error> {
        if self.reference.trim().is_empty() {
            return Err(Error::invalid_input("reference", "is empty"));
        }
        let reference = types::SubscriberTokenRequestReference::try_from(self.reference)
            .map_err(|error| Error::invalid_input("reference", error.to_string()))?;
        let application_id = self
            .application_id
            .map(|id| input::uuid("application_id", &id))
            .transpose()?;
        let fingerprint = self
            .fingerprint
            .map(|fingerprint| {
                check_fingerprint(&fingerprint)?;
                types::SubscriberTokenRequestFingerprint::try_from(fingerprint)
                    .map_err(|error| Error::invalid_input("fingerprint", error.to_string()))
            })
            .transpose()?;
        let expire_at = self
            .expire_at
            .map(|at| input::future_unix("expire_at", at).map(|(unix, _)| unix))
            .transpose()?;
        Ok(types::SubscriberTokenRequest {
            reference,
            expire_at,
            application_id,
            password: self
                .password
                .map(|password| password.expose_secret().to_owned()),
            fingerprint,
            scope: self
                .scope
                .map(|Scope::SatRefresh| types::SubscriberTokenRequestScope::SatRefresh),
            first_name: self.first_name,
            last_name: self.last_name,
            display_name: self.display_name,
            job_title: self.job_title,
            time_zone: self.time_zone,
            country: self.country,
            company_name: self.company_name,
            region: self
                .region
                .map(|Region::UsCentral| types::SubscriberTokenRequestRegion::UsCentral),
        })
    }
}

fn check_fingerprint(fingerprint: &str) -> Result<(), Error> {
    if fingerprint.len() != 43 {
        return Err(Error::invalid_input(
            "fingerprint",
            format!(
                "is {} characters long; it must be exactly 43",
                fingerprint.chars().count()
            ),
        ));
    }
    if let Some(at) = fingerprint
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(Error::invalid_input(
            "fingerprint",
            format!("has a character outside [A-Za-z0-9_-] at byte {at}"),
        ));
    }
    Ok(())
}

impl fmt::Debug for CreateSubscriberToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateSubscriberToken")
            .field("reference", &self.reference)
            .field("expire_at", &self.expire_at)
            .field("application_id", &self.application_id)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("fingerprint", &self.fingerprint)
            .field("scope", &self.scope)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("display_name", &self.display_name)
            .field("job_title", &self.job_title)
            .field("time_zone", &self.time_zone)
            .field("country", &self.country)
            .field("company_name", &self.company_name)
            .field("region", &self.region)
            .finish()
    }
}
