//! The one path every operation takes: build the generated client for the call, send,
//! note when the answer arrived, and settle it into a value or an [`Error`] scrubbed of
//! every secret the call involved.
//!
//! An operation says only what differs: its credentials, what a success body is, any
//! secret of its own (a password, a refresh token), and how to send and read it.
//!
//! ```ignore
//! client
//!     .call(Auth::Project, "a token pair")
//!     .scrubbing(refresh_token.expose_secret())
//!     .send(
//!         |api| async move { api.refresh_subscriber_token().body(body).send().await },
//!         |answer| issued_pair(answer),
//!     )
//!     .await
//! ```

use std::future::Future;

use signalwire_fabric_api as api;
use tokio::time::Instant;

use crate::client::Auth;
use crate::response::{ApiError, Scrub, map_error};
use crate::{Client, Error};

/// One call about to be made; see the module docs.
pub(crate) struct Call<'a> {
    client: &'a Client,
    auth: Auth<'a>,
    url: Option<reqwest::Url>,
    expected: &'static str,
    secrets: Vec<&'a str>,
}

/// A success, as the call's `on_success` sees it.
pub(crate) struct Answer<T> {
    /// The HTTP status.
    pub(crate) status: u16,
    /// When the answer arrived, on tokio's clock: where token lifetimes count from.
    pub(crate) received_at: Instant,
    /// The decoded body.
    pub(crate) body: T,
    /// What the body should be, for errors about it ("a token pair").
    pub(crate) expected: &'static str,
}

impl Client {
    /// Starts a call sent with `auth`, whose success body is `expected` (for messages).
    pub(crate) fn call<'a>(&'a self, auth: Auth<'a>, expected: &'static str) -> Call<'a> {
        Call {
            client: self,
            auth,
            url: None,
            expected,
            secrets: Vec::new(),
        }
    }
}

impl<'a> Call<'a> {
    /// Also scrubs `secret` (something the request carries) from any error.
    pub(crate) fn scrubbing(mut self, secret: &'a str) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Sends to `url` (a page link already checked) instead of the operation's own URL.
    pub(crate) fn at(mut self, url: Option<reqwest::Url>) -> Self {
        self.url = url;
        self
    }

    /// Sends the request `send` makes with the generated client, and turns a success into
    /// a value with `on_success`. Fails before sending when `auth` needs credentials the
    /// client does not have.
    pub(crate) async fn send<T, U, Sent>(
        self,
        send: impl FnOnce(api::Client) -> Sent,
        on_success: impl FnOnce(Answer<T>) -> Result<U, Error>,
    ) -> Result<U, Error>
    where
        Sent: Future<Output = Result<api::ResponseValue<T>, ApiError>>,
    {
        use api::ClientInfo as _;

        let api = self.client.generated(self.auth, self.url)?;
        let result = send(api.clone()).await;
        let received_at = Instant::now();
        match result {
            Ok(answer) => on_success(Answer {
                status: answer.status().as_u16(),
                received_at,
                body: answer.into_inner(),
                expected: self.expected,
            }),
            Err(error) => {
                let mut secrets = self.secrets;
                secrets.push(self.client.api_token_text());
                if let Auth::Subscriber(token) = self.auth {
                    secrets.push(token.expose_secret());
                }
                let scrub = Scrub::new(&secrets);
                Err(map_error(error, api.inner(), self.expected, &scrub).await)
            }
        }
    }
}
