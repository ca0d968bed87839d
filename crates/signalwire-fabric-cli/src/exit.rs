//! Exit codes, one per kind of failure a script may want to tell apart.

use std::process::ExitCode;

use signalwire_fabric::Error;

/// Something the other codes do not cover (a store or an unexpected answer).
pub const OTHER: u8 = 1;
/// The command line was wrong (clap uses the same code).
pub const USAGE: u8 = 2;
/// SignalWire refused the project credentials (401/403).
pub const AUTH: u8 = 3;
/// An input was refused, by this tool or by SignalWire (422), or the refresh token is dead.
pub const VALIDATION: u8 = 4;
/// The server could not be reached or failed (transport, timeout, 429, 5xx): try again.
pub const NETWORK: u8 = 5;

/// The help text's table of exit codes.
pub const TABLE: &str = "Exit codes: 0 ok, 1 other failure, 2 usage, 3 credentials refused, \
4 input refused or refresh token dead, 5 network or server failure (retry later)";

/// The exit code for an SDK error.
pub fn code_for(error: &Error) -> u8 {
    match error {
        Error::Unauthorized { .. } | Error::Forbidden { .. } => AUTH,
        Error::InvalidInput { .. } | Error::Rejected { .. } | Error::SessionEnded { .. } => {
            VALIDATION
        }
        error if error.is_retryable() => NETWORK,
        _ => OTHER,
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

    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: OTHER,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let hint = match code_for(&error) {
            AUTH => {
                "\nhint: check SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN (or --project-id / --api-token-file)"
            }
            NETWORK => "\nhint: the server could not be reached or failed; try again later",
            VALIDATION if error.requires_new_subscriber_token() => {
                "\nhint: this refresh token will never work again; run `signalwire-fabric tokens create`"
            }
            _ => "",
        };
        Self {
            code: code_for(&error),
            message: format!("{error}{hint}"),
        }
    }
}

impl From<Failure> for ExitCode {
    fn from(failure: Failure) -> Self {
        ExitCode::from(failure.code)
    }
}
