//! Subscribers as resources: create, read, update, delete, list, and their addresses.

use std::fmt;
use std::time::SystemTime;

use futures_util::Stream;
use secrecy::{ExposeSecret, SecretString};
use signalwire_fabric_api::types;

use crate::client::Auth;
use crate::input;
use crate::paging::{self, Page};
use crate::{AddressId, Client, Error, ProjectId, SubscriberId, SubscriberResourceId};

const SUBSCRIBERS_PATH: &str = "/api/fabric/resources/subscribers";
const PASSWORD_LENGTHS: std::ops::RangeInclusive<usize> = 8..=72;

/// A subscriber resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subscriber {
    /// The resource id, used by [`Subscribers::get`] and friends.
    pub id: SubscriberResourceId,
    /// The subscriber's id, the one token responses name.
    pub subscriber_id: Option<SubscriberId>,
    /// The project the subscriber belongs to.
    pub project_id: Option<ProjectId>,
    /// The subscriber's email address.
    pub email: Option<String>,
    /// The name shown for the subscriber.
    pub display_name: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// When the resource was created.
    pub created_at: Option<SystemTime>,
    /// When the resource was last changed.
    pub updated_at: Option<SystemTime>,
}

impl From<types::SubscriberResponse> for Subscriber {
    fn from(wire: types::SubscriberResponse) -> Self {
        let details = wire.subscriber.unwrap_or_default();
        Self {
            id: SubscriberResourceId::from_server(wire.id),
            subscriber_id: details
                .id
                .map(|id| SubscriberId::from_server(id.to_string())),
            project_id: wire
                .project_id
                .and_then(|id| ProjectId::parse(&id.to_string()).ok()),
            email: details.email,
            display_name: wire.display_name.or(details.display_name),
            first_name: details.first_name,
            last_name: details.last_name,
            job_title: details.job_title,
            timezone: details.timezone,
            country: details.country,
            company_name: details.company_name,
            created_at: wire.created_at.map(SystemTime::from),
            updated_at: wire.updated_at.map(SystemTime::from),
        }
    }
}

/// An address a subscriber can be reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriberAddress {
    /// The address id (a UUID); what invites name.
    pub id: AddressId,
    /// The address name.
    pub name: Option<String>,
    /// The name shown for it.
    pub display_name: Option<String>,
    /// A cover image.
    pub cover_url: Option<String>,
    /// A preview image.
    pub preview_url: Option<String>,
    /// Whether the address is locked.
    pub locked: Option<bool>,
    /// How to reach it on each channel.
    pub channels: AddressChannels,
    /// When it was created.
    pub created_at: Option<SystemTime>,
}

/// How to reach an address on each channel, e.g. `/private/alice?channel=video`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressChannels {
    /// Audio.
    pub audio: Option<String>,
    /// Messaging.
    pub messaging: Option<String>,
    /// Video.
    pub video: Option<String>,
}

impl From<types::SubscriberAddress> for SubscriberAddress {
    fn from(wire: types::SubscriberAddress) -> Self {
        let channels = wire.channels.unwrap_or_default();
        Self {
            id: AddressId::from_server(wire.id.to_string()),
            name: wire.name,
            display_name: wire.display_name,
            cover_url: wire.cover_url,
            preview_url: wire.preview_url,
            locked: wire.locked,
            channels: AddressChannels {
                audio: channels.audio,
                messaging: channels.messaging,
                video: channels.video,
            },
            created_at: wire.created_at.map(SystemTime::from),
        }
    }
}

/// A subscriber's details, for [`Subscribers::create`] and [`Subscribers::update`]. Only
/// the email is required; `Debug` redacts the password.
///
/// ```
/// use signalwire_fabric::SubscriberFields;
///
/// let fields = SubscriberFields::new("alice@example.com").first_name("Alice").timezone("Europe/Stockholm");
/// ```
#[derive(Clone, Default)]
pub struct SubscriberFields {
    email: String,
    password: Option<SecretString>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: Option<String>,
    job_title: Option<String>,
    timezone: Option<String>,
    country: Option<String>,
    company_name: Option<String>,
}

macro_rules! optional_text {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(value.into());
            self
        }
    )*};
}

impl SubscriberFields {
    /// Details for the subscriber with this email address.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            ..Self::default()
        }
    }

    /// A password of 8 to 72 characters (kept secret). A random one is set when absent.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    optional_text!(
        /// First name.
        first_name,
        /// Last name.
        last_name,
        /// The name shown for the subscriber.
        display_name,
        /// Job title.
        job_title,
        /// IANA time zone, e.g. `Europe/Stockholm`.
        timezone,
        /// Country.
        country,
        /// Company.
        company_name,
    );

    fn into_wire(self) -> Result<types::SubscriberRequest, Error> {
        input::text("email", &self.email)?;
        let email = types::SubscriberRequestEmail::try_from(self.email)
            .map_err(|error| Error::invalid_input("email", error.to_string()))?;
        let password = match &self.password {
            None => None,
            Some(password) => {
                let length = password.expose_secret().chars().count();
                if !PASSWORD_LENGTHS.contains(&length) {
                    return Err(Error::invalid_input(
                        "password",
                        format!("is {length} characters long; it must be 8 to 72"),
                    ));
                }
                Some(
                    types::SubscriberRequestPassword::try_from(password.expose_secret().to_owned())
                        .map_err(|_| {
                            Error::invalid_input("password", "must be 8 to 72 characters")
                        })?,
                )
            }
        };
        Ok(types::SubscriberRequest {
            email,
            password,
            first_name: self.first_name,
            last_name: self.last_name,
            display_name: self.display_name,
            job_title: self.job_title,
            timezone: self.timezone,
            country: self.country,
            company_name: self.company_name,
        })
    }
}

impl fmt::Debug for SubscriberFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberFields")
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("display_name", &self.display_name)
            .field("job_title", &self.job_title)
            .field("timezone", &self.timezone)
            .field("country", &self.country)
            .field("company_name", &self.company_name)
            .finish()
    }
}

/// The subscriber operations of a [`Client`]; see [`Client::subscribers`]. All use the
/// project's credentials.
#[derive(Debug, Clone, Copy)]
pub struct Subscribers<'a> {
    client: &'a Client,
}

impl<'a> Subscribers<'a> {
    fn password_of(body: &types::SubscriberRequest) -> Option<SecretString> {
        body.password
            .as_ref()
            .map(|password| SecretString::from(password.to_string()))
    }

    /// Every subscriber of the project, page after page, following each page's
    /// `links.next` as given (only within the client's own host).
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client) -> Result<(), signalwire_fabric::Error> {
    /// use futures_util::TryStreamExt as _;
    ///
    /// let mut subscribers = std::pin::pin!(client.subscribers().list());
    /// while let Some(subscriber) = subscribers.try_next().await? {
    ///     println!("{} {:?}", subscriber.id, subscriber.email);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> impl Stream<Item = Result<Subscriber, Error>> + Send + 'a {
        let client = self.client;
        paging::items(
            client.url_for(SUBSCRIBERS_PATH),
            client,
            move |url| async move {
                client
                    .call(Auth::Project, "a page of subscribers")
                    .at(url)
                    .send(
                        |api| async move { api.list_subscribers().send().await },
                        |answer| {
                            Ok(Page {
                                items: answer.body.data.into_iter().map(Subscriber::from).collect(),
                                next: answer.body.links.next,
                            })
                        },
                    )
                    .await
            },
        )
    }

    /// One subscriber, by resource id (a [`SubscriberResourceId`], or its text).
    pub async fn get(&self, id: impl AsRef<str>) -> Result<Subscriber, Error> {
        let id = input::uuid("id", id.as_ref())?;
        self.client
            .call(Auth::Project, "a subscriber")
            .send(
                |api| async move { api.get_subscriber().id(id).send().await },
                |answer| Ok(Subscriber::from(answer.body)),
            )
            .await
    }

    /// Creates a subscriber.
    pub async fn create(&self, fields: SubscriberFields) -> Result<Subscriber, Error> {
        let body = fields.into_wire()?;
        let password = Self::password_of(&body);
        self.client
            .call(Auth::Project, "a subscriber")
            .scrubbing(password.as_ref().map_or("", |p| p.expose_secret()))
            .send(
                |api| async move { api.create_subscriber().body(body).send().await },
                |answer| Ok(Subscriber::from(answer.body)),
            )
            .await
    }

    /// Replaces a subscriber's details.
    pub async fn update(
        &self,
        id: impl AsRef<str>,
        fields: SubscriberFields,
    ) -> Result<Subscriber, Error> {
        let id = input::uuid("id", id.as_ref())?;
        let body = fields.into_wire()?;
        let password = Self::password_of(&body);
        self.client
            .call(Auth::Project, "a subscriber")
            .scrubbing(password.as_ref().map_or("", |p| p.expose_secret()))
            .send(
                |api| async move { api.update_subscriber().id(id).body(body).send().await },
                |answer| Ok(Subscriber::from(answer.body)),
            )
            .await
    }

    /// Deletes a subscriber.
    pub async fn delete(&self, id: impl AsRef<str>) -> Result<(), Error> {
        let id = input::uuid("id", id.as_ref())?;
        self.client
            .call(Auth::Project, "no body")
            .send(
                |api| async move { api.delete_subscriber().id(id).send().await },
                |_| Ok(()),
            )
            .await
    }

    /// A subscriber's addresses, page after page (see [`Subscribers::list`]).
    pub fn addresses(
        &self,
        id: impl AsRef<str>,
    ) -> impl Stream<Item = Result<SubscriberAddress, Error>> + Send + 'a {
        let client = self.client;
        let parsed = input::uuid("id", id.as_ref());
        let first_url = parsed
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|id| client.url_for(&format!("{SUBSCRIBERS_PATH}/{id}/addresses")));
        let id = parsed.ok();
        paging::items(first_url, client, move |url| async move {
            let id = id.ok_or_else(|| Error::invalid_input("id", "is not a UUID"))?;
            client
                .call(Auth::Project, "a page of addresses")
                .at(url)
                .send(
                    |api| async move { api.list_subscriber_addresses().id(id).send().await },
                    |answer| {
                        Ok(Page {
                            items: answer
                                .body
                                .data
                                .into_iter()
                                .map(SubscriberAddress::from)
                                .collect(),
                            next: answer.body.links.next,
                        })
                    },
                )
                .await
        })
    }
}

impl Client {
    /// Subscriber resources: create, read, update, delete, list, addresses.
    pub fn subscribers(&self) -> Subscribers<'_> {
        Subscribers { client: self }
    }
}
