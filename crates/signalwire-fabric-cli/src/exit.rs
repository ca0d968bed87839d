//! Exit codes, one per kind of failure a script may want to tell apart.

use std::process::ExitCode;

use signalwire_fabric::{Error, ErrorCode};

/// Success; also a command whose stdout was closed by its reader when nothing was lost.
pub const OK: u8 = 0;
/// Something the other codes do not cover: a local failure (a file that cannot be
/// saved, stdout that cannot take a new token) or an unexpected answer.
pub const OTHER: u8 = 1;
/// The command line was wrong (clap uses the same code).
pub const USAGE: u8 = 2;
/// The server refused what the command authenticated with (401/403): the project's
/// credentials, a subscriber's access token (invites) or a click-to-call token (embeds).
pub const AUTH: u8 = 3;
/// An input was refused, by this tool or by SignalWire (422), or the refresh token is dead.
pub const VALIDATION: u8 = 4;
/// The server could not be reached or failed (transport, timeout, 429, 5xx): try again.
pub const NETWORK: u8 = 5;

/// The help text's table of exit codes.
pub const TABLE: &str = "Exit codes: 0 ok (also when stdout is closed early, as by `| head`, \
and nothing is lost), 1 other failure (a file or stdout could not take a new token: a \
refreshed pair is then printed whole, on stdout or else stderr), 2 usage, 3 credentials \
refused, 4 input refused or refresh token dead, 5 network or server failure (retry later)";

/// The exit code for an SDK error.
pub fn code_for(error: &Error) -> u8 {
    if error.is_authentication() {
        AUTH
    } else if error.invalid_field().is_some()
        || error.status() == Some(422)
        || error.requires_new_subscriber_token()
    {
        VALIDATION
    } else if error.is_retryable() {
        NETWORK
    } else {
        OTHER
    }
}

/// A failure to report: the message for people and the code for scripts.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: USAGE,
            message: message.into(),
        }
    }

    /// Stdout was closed by its reader and nothing is lost: the command ends with exit
    /// code 0 and says nothing.
    pub fn quiet() -> Self {
        Self {
            code: OK,
            message: String::new(),
        }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: OTHER,
            message: message.into(),
        }
    }

    /// An input this tool refused before sending anything, worded like the SDK's own.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            code: VALIDATION,
            message: format!("invalid {field}: {reason} (nothing was sent)"),
        }
    }
}

/// The command that failed. What it sends decides what a refusal means, so each gets the
/// hints that fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Sends the project's credentials: `tokens create`, `subscribers list` and `create`.
    Project,
    /// `tokens refresh`: the project's credentials, and a refresh token it may spend.
    Refresh,
    /// `tokens guest`: the project's credentials and the addresses to allow.
    Guest,
    /// `subscribers get`, `update`, `delete` and `addresses`: the project's credentials
    /// and a subscriber's resource id.
    OneSubscriber,
    /// `tokens invite`: the subscriber's access token as a Bearer token, and no project
    /// credentials.
    Invite,
    /// `tokens embed`: no credentials at all, only the click-to-call token.
    Embed,
    /// `demo`: an in-process fake; no setting of the user's is involved.
    Demo,
}

const PROJECT_CREDENTIALS: &str =
    "check SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN (or --project-id / --api-token-file)";
const ACCESS_TOKEN: &str = "invites are sent with the subscriber's access token, not the \
project's credentials: pass one that is still valid (on stdin or with --access-token-file), \
e.g. the access token of a pair just created or refreshed";
const CLICK_TO_CALL_TOKEN: &str = "embed tokens are asked for with no credentials, only the \
click-to-call token: check --c2c-token (a token this space knows and has not disabled) and \
the space or base URL";
const TRY_AGAIN: &str = "the server could not be reached or failed; try again later";
const MAYBE_SPENT: &str = "the refresh may have reached the server and spent the refresh \
token: try again with the same token, and if it is refused as spent, run `signalwire-fabric \
tokens create`";
const ANSWER_LOST: &str = "the server answered the refresh, but the new pair could not be \
read: the old refresh token is probably spent; run `signalwire-fabric tokens create`";
const DEAD_REFRESH_TOKEN: &str =
    "this refresh token will never work again; run `signalwire-fabric tokens create`";
const RESOURCE_ID: &str = "`signalwire-fabric subscribers list` shows each subscriber's id; \
the subscriber_id of a token pair is another id";
const GUEST_ADDRESSES: &str = "every --address must be an address of this project \
(`signalwire-fabric subscribers addresses <id>` lists a subscriber's)";
const INVITE_ADDRESS: &str = "the address must be one of the access token's subscriber's own \
(`signalwire-fabric subscribers addresses <id>` lists them)";

/// What to do about `error`, as far as `command` can tell.
fn hint(error: &Error, command: Command) -> Option<&'static str> {
    let names_a_foreign_address = error
        .field_errors()
        .iter()
        .any(|field| field.code == ErrorCode::MustBelongToProject);
    let answer_unread = error.is_answer_lost();
    // A failure below HTTP, or a 5xx: the server may have spent the token before it.
    let maybe_spent =
        error.may_have_reached_server() && error.status().is_none_or(|status| status >= 500);
    match (code_for(error), command) {
        (_, Command::Demo) => None,
        (AUTH, Command::Embed) => Some(CLICK_TO_CALL_TOKEN),
        (AUTH, Command::Invite) => Some(ACCESS_TOKEN),
        (AUTH, _) => Some(PROJECT_CREDENTIALS),
        (NETWORK, Command::Refresh) if maybe_spent => Some(MAYBE_SPENT),
        (NETWORK, _) => Some(TRY_AGAIN),
        (_, Command::Refresh) if answer_unread => Some(ANSWER_LOST),
        (VALIDATION, Command::Refresh) if error.requires_new_subscriber_token() => {
            Some(DEAD_REFRESH_TOKEN)
        }
        (VALIDATION, Command::Guest) if names_a_foreign_address => Some(GUEST_ADDRESSES),
        (VALIDATION, Command::Invite) if names_a_foreign_address => Some(INVITE_ADDRESS),
        (_, Command::OneSubscriber) if error.status() == Some(404) => Some(RESOURCE_ID),
        _ => None,
    }
}

impl Failure {
    /// The failure to report for an SDK error from `command`: its exit code, its message
    /// and the hint that fits what the command sent.
    pub fn sdk(error: Error, command: Command) -> Self {
        let message = match hint(&error, command) {
            Some(hint) => format!("{error}\nhint: {hint}"),
            None => error.to_string(),
        };
        Self {
            code: code_for(&error),
            message,
        }
    }
}

/// Turns an SDK result into one with a [`Failure`] for a command.
pub trait ForCommand<T> {
    /// The result, its error made a [`Failure`] with the hints that fit `command`.
    fn for_command(self, command: Command) -> Result<T, Failure>;
}

impl<T> ForCommand<T> for Result<T, Error> {
    fn for_command(self, command: Command) -> Result<T, Failure> {
        self.map_err(|error| Failure::sdk(error, command))
    }
}

impl From<Failure> for ExitCode {
    fn from(failure: Failure) -> Self {
        ExitCode::from(failure.code)
    }
}
