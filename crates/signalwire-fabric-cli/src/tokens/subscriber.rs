//! `tokens create` and `tokens refresh`: a subscriber's first pair, and the next one.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use signalwire_fabric::{CreateSubscriberToken, RefreshToken, Region, Scope};

use crate::context::{Connection, read_secret};
use crate::delivery::{PairOutput, deliver_pair};
use crate::exit::{Command, Failure, ForCommand as _};
use crate::subscribers::{Details, TakesDetails as _};

/// `tokens create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    connection: Connection,
    /// Who the subscriber is, usually an email address
    #[arg(long)]
    reference: String,
    /// When the access token should expire, in unix seconds [default: in two hours]
    #[arg(long, value_name = "UNIX_SECONDS")]
    expire_at: Option<u64>,
    /// The application the subscriber belongs to (a UUID)
    #[arg(long)]
    application_id: Option<String>,
    /// Bind the token to a device: 43 characters of [A-Za-z0-9_-]
    #[arg(long)]
    fingerprint: Option<String>,
    /// What the token may be used for
    #[arg(long, value_enum)]
    scope: Option<ScopeArg>,
    /// Where the subscriber's media is handled
    #[arg(long, value_enum)]
    region: Option<RegionArg>,
    #[command(flatten)]
    details: Details,
    #[command(flatten)]
    output: PairOutput,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScopeArg {
    #[value(name = "sat:refresh")]
    SatRefresh,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RegionArg {
    #[value(name = "us-central")]
    UsCentral,
}

/// `tokens refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    connection: Connection,
    /// Read the refresh token from this file [default: stdin]
    #[arg(long, value_name = "PATH")]
    refresh_token_file: Option<PathBuf>,
    #[command(flatten)]
    output: PairOutput,
}

/// Runs `tokens create`.
pub async fn create(args: CreateArgs) -> Result<(), Failure> {
    args.output.check_before_sending(false)?;
    let client = args.connection.client()?;
    let mut request = CreateSubscriberToken::new(args.reference);
    if let Some(unix) = args.expire_at {
        request = request.expire_at(UNIX_EPOCH + Duration::from_secs(unix));
    }
    if let Some(ScopeArg::SatRefresh) = args.scope {
        request = request.scope(Scope::SatRefresh);
    }
    if let Some(RegionArg::UsCentral) = args.region {
        request = request.region(Region::UsCentral);
    }
    if let Some(id) = args.application_id {
        request = request.application_id(id);
    }
    if let Some(fingerprint) = args.fingerprint {
        request = request.fingerprint(fingerprint);
    }
    let request = request.with_details(&args.details)?;
    let created = client
        .subscriber_tokens()
        .create(request)
        .await
        .for_command(Command::Project)?;
    deliver_pair(
        &args.output,
        Some(&created.subscriber_id),
        &created.pair,
        "created",
        Command::Project,
    )
    .await
}

/// Runs `tokens refresh`.
pub async fn refresh(args: RefreshArgs) -> Result<(), Failure> {
    // The old refresh token is spent by the exchange: a new pair shown shortened would
    // be lost, so refuse before reading or sending anything.
    args.output.check_before_sending(true)?;
    let client = args.connection.client()?;
    let text = read_secret(args.refresh_token_file.as_deref(), "refresh token")?;
    let refresh_token = RefreshToken::parse(text.trim())
        .map_err(|problem| Failure::invalid("refresh_token", format!("the token {problem}")))?;
    let pair = client
        .subscriber_tokens()
        .refresh(&refresh_token)
        .await
        .for_command(Command::Refresh)?;
    deliver_pair(
        &args.output,
        None,
        &pair,
        "refreshed (the old refresh token is now spent)",
        Command::Refresh,
    )
    .await
}
