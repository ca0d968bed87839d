//! `tokens guest`, `tokens invite` and `tokens embed`: tokens for people who are not
//! subscribers.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use signalwire_fabric::{AccessToken, CreateGuestToken};

use crate::context::{Connection, read_secret};
use crate::delivery::{PairOutput, deliver_pair, deliver_token};
use crate::exit::{Command, Failure, ForCommand as _};

/// `tokens guest`.
#[derive(Debug, Args)]
pub struct GuestArgs {
    #[command(flatten)]
    connection: Connection,
    /// An address the guest may join (repeat for up to 10)
    #[arg(long = "address", value_name = "ADDRESS_ID", required = true)]
    addresses: Vec<String>,
    /// When the guest's access token should expire, in unix seconds
    #[arg(long, value_name = "UNIX_SECONDS")]
    expire_at: Option<u64>,
    #[command(flatten)]
    output: PairOutput,
}

/// `tokens invite`.
#[derive(Debug, Args)]
pub struct InviteArgs {
    #[command(flatten)]
    connection: Connection,
    /// The subscriber's address to invite someone to
    #[arg(long)]
    address_id: String,
    /// Read the subscriber's access token from this file [default: stdin]
    #[arg(long, value_name = "PATH")]
    access_token_file: Option<PathBuf>,
    /// When the invite lapses, in unix seconds
    #[arg(long, value_name = "UNIX_SECONDS")]
    expires_at: Option<u64>,
    /// Print the invite token in full, as JSON
    #[arg(long)]
    json: bool,
}

/// `tokens embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    connection: Connection,
    /// The widget's click-to-call token (`c2c_...`); it is public, so it may be given here
    #[arg(long, value_name = "TOKEN")]
    c2c_token: String,
    /// Print the embed token in full, as JSON
    #[arg(long)]
    json: bool,
}

/// Runs `tokens guest`.
pub async fn guest(args: GuestArgs) -> Result<(), Failure> {
    args.output.check_before_sending(false)?;
    let client = args.connection.client()?;
    let mut request = CreateGuestToken::new(args.addresses);
    if let Some(unix) = args.expire_at {
        request = request.expire_at(UNIX_EPOCH + Duration::from_secs(unix));
    }
    let pair = client
        .guest_tokens()
        .create(request)
        .await
        .for_command(Command::Guest)?;
    deliver_pair(
        &args.output,
        None,
        &pair,
        "created a guest token pair",
        Command::Guest,
    )
    .await
}

/// Runs `tokens invite`.
pub async fn invite(args: InviteArgs) -> Result<(), Failure> {
    let client = args.connection.client_maybe_anonymous()?;
    let text = read_secret(args.access_token_file.as_deref(), "access token")?;
    let access_token = AccessToken::parse(text)
        .map_err(|problem| Failure::invalid("access_token", format!("the token {problem}")))?;
    let expires_at = args
        .expires_at
        .map(|unix| UNIX_EPOCH + Duration::from_secs(unix));
    let invite = client
        .invite_tokens()
        .create(&access_token, &args.address_id, expires_at)
        .await
        .for_command(Command::Invite)?;
    deliver_token("invite", invite.expose_secret(), args.json, Command::Invite)
}

/// Runs `tokens embed`.
pub async fn embed(args: EmbedArgs) -> Result<(), Failure> {
    let client = args.connection.client_maybe_anonymous()?;
    let embed = client
        .embed_tokens()
        .create(&args.c2c_token)
        .await
        .for_command(Command::Embed)?;
    deliver_token("embed", embed.expose_secret(), args.json, Command::Embed)
}
