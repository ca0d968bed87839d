//! Tokens for people who are not subscribers: guests, invitees and click-to-call widgets.

use std::time::{Duration, SystemTime};

use signalwire_fabric_api::types;

use crate::client::Auth;
use crate::input;
use crate::response::{issued_badly, issued_tokens};
use crate::tokens::{ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME};
use crate::{AccessToken, Client, EmbedToken, Error, InviteToken, Region, TokenPair};

/// The most addresses one guest token may allow.
pub const MAX_GUEST_ADDRESSES: usize = 10;

/// The request for a guest's token pair: which addresses the guest may join.
///
/// ```
/// use signalwire_fabric::{CreateGuestToken, Region};
///
/// let request = CreateGuestToken::new(["f371a4d1-68fc-4be1-92ba-1728b766cf1c"]).region(Region::UsCentral);
/// ```
#[derive(Debug, Clone)]
pub struct CreateGuestToken {
    allowed_addresses: Vec<String>,
    expire_at: Option<SystemTime>,
    region: Option<Region>,
    ch: Option<Region>,
}

impl CreateGuestToken {
    /// A guest allowed into `addresses` (1 to [`MAX_GUEST_ADDRESSES`] address ids).
    pub fn new<I, S>(addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            allowed_addresses: addresses.into_iter().map(Into::into).collect(),
            expire_at: None,
            region: None,
            ch: None,
        }
    }

    /// When the guest's access token should expire (must be in the future).
    pub fn expire_at(mut self, at: SystemTime) -> Self {
        self.expire_at = Some(at);
        self
    }

    /// Where the guest's media is handled.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// The channel region the guest connects through.
    pub fn ch(mut self, ch: Region) -> Self {
        self.ch = Some(ch);
        self
    }

    fn into_wire(self) -> Result<(types::SubscriberGuestTokenRequest, Duration), Error> {
        let count = self.allowed_addresses.len();
        if !(1..=MAX_GUEST_ADDRESSES).contains(&count) {
            return Err(Error::invalid_input(
                "allowed_addresses",
                format!("has {count} addresses; a guest token allows 1 to {MAX_GUEST_ADDRESSES}"),
            ));
        }
        let allowed_addresses = self
            .allowed_addresses
            .iter()
            .map(|id| input::uuid("allowed_addresses", id))
            .collect::<Result<Vec<_>, _>>()?;
        let (expire_at, lifetime) = match self.expire_at {
            Some(at) => {
                let (unix, ahead) = input::future_unix("expire_at", at)?;
                (Some(unix), ahead)
            }
            None => (None, ACCESS_TOKEN_LIFETIME),
        };
        let body = types::SubscriberGuestTokenRequest {
            allowed_addresses,
            expire_at,
            region: self
                .region
                .map(|Region::UsCentral| types::SubscriberGuestTokenRequestRegion::UsCentral),
            ch: self
                .ch
                .map(|Region::UsCentral| types::SubscriberGuestTokenRequestCh::UsCentral),
        };
        Ok((body, lifetime))
    }
}

/// Guest token operations of a [`Client`]; see [`Client::guest_tokens`].
#[derive(Debug, Clone, Copy)]
pub struct GuestTokens<'a> {
    client: &'a Client,
}

impl GuestTokens<'_> {
    /// Creates a token pair for a guest, with the project's credentials.
    ///
    /// ```no_run
    /// # async fn run(client: signalwire_fabric::Client) -> Result<(), signalwire_fabric::Error> {
    /// use signalwire_fabric::CreateGuestToken;
    ///
    /// let pair = client
    ///     .guest_tokens()
    ///     .create(CreateGuestToken::new(["f371a4d1-68fc-4be1-92ba-1728b766cf1c"]))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[tracing::instrument(level = "debug", name = "create_subscriber_guest_token", skip_all)]
    pub async fn create(&self, request: CreateGuestToken) -> Result<TokenPair, Error> {
        let (body, lifetime) = request.into_wire()?;
        self.client
            .call(Auth::Project, "a guest token pair")
            .send(
                |api| async move { api.create_subscriber_guest_token().body(body).send().await },
                |answer| {
                    let (access, refresh) = issued_tokens(
                        answer.status,
                        answer.expected,
                        answer.body.token,
                        answer.body.refresh_token,
                    )?;
                    Ok(TokenPair::new(
                        access,
                        refresh,
                        crate::clock::later(answer.received_at, lifetime),
                        crate::clock::later(answer.received_at, REFRESH_TOKEN_LIFETIME),
                    ))
                },
            )
            .await
    }
}

/// Invite operations; see [`Client::invite_tokens`], or
/// [`SubscriberSession::invite_token`](crate::SubscriberSession::invite_token), which
/// supplies a fresh access token for you.
#[derive(Debug, Clone, Copy)]
pub struct InviteTokens<'a> {
    client: &'a Client,
}

impl InviteTokens<'_> {
    /// Creates an invite to `address_id`, authenticated as the subscriber whose
    /// `access_token` this is (a Bearer token; the project's credentials are not sent).
    /// `expires_at`, when given, must be in the future: one that is not is refused before
    /// sending (the API would issue an invite that has lapsed already).
    #[tracing::instrument(level = "debug", name = "create_subscriber_invite_token", skip_all)]
    pub async fn create(
        &self,
        access_token: &AccessToken,
        address_id: impl AsRef<str>,
        expires_at: Option<SystemTime>,
    ) -> Result<InviteToken, Error> {
        let address_id = input::uuid("address_id", address_id.as_ref())?;
        let expires_at = expires_at
            .map(|at| input::future_unix("expires_at", at).map(|(unix, _)| unix))
            .transpose()?;
        let body = types::SubscriberInviteTokenRequest {
            address_id,
            expires_at,
        };
        self.client
            .call(Auth::Subscriber(access_token), "an invite token")
            .send(
                |api| async move { api.create_subscriber_invite_token().body(body).send().await },
                |answer| {
                    InviteToken::parse(answer.body.token).map_err(|problem| {
                        issued_badly(answer.status, answer.expected, "token", &problem)
                    })
                },
            )
            .await
    }
}

/// Embed operations; see [`Client::embed_tokens`].
#[derive(Debug, Clone, Copy)]
pub struct EmbedTokens<'a> {
    client: &'a Client,
}

impl EmbedTokens<'_> {
    /// Exchanges a click-to-call token (as configured in a widget, e.g. `c2c_...`) for an
    /// embed token. Sent without any credentials.
    #[tracing::instrument(level = "debug", name = "create_guest_embed_token", skip_all)]
    pub async fn create(&self, click_to_call_token: &str) -> Result<EmbedToken, Error> {
        input::text("token", click_to_call_token)?;
        let token = types::GuestEmbedTokenRequestToken::try_from(click_to_call_token.to_owned())
            .map_err(|error| Error::invalid_input("token", error.to_string()))?;
        self.client
            .call(Auth::None, "an embed token")
            .scrubbing(click_to_call_token)
            .send(
                |api| async move {
                    api.create_guest_embed_token()
                        .body(types::GuestEmbedTokenRequest { token })
                        .send()
                        .await
                },
                |answer| {
                    EmbedToken::parse(answer.body.token).map_err(|problem| {
                        issued_badly(answer.status, answer.expected, "token", &problem)
                    })
                },
            )
            .await
    }
}

impl Client {
    /// Creating guest token pairs.
    pub fn guest_tokens(&self) -> GuestTokens<'_> {
        GuestTokens { client: self }
    }

    /// Creating invites with a subscriber's access token.
    pub fn invite_tokens(&self) -> InviteTokens<'_> {
        InviteTokens { client: self }
    }

    /// Exchanging click-to-call tokens for embed tokens (no credentials are sent).
    pub fn embed_tokens(&self) -> EmbedTokens<'_> {
        EmbedTokens { client: self }
    }
}
