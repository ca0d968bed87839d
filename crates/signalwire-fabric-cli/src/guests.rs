//! `tokens guest`, `tokens invite` and `tokens embed`: tokens for people who are not
//! subscribers.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use signalwire_fabric::{AccessToken, CreateGuestToken};

use crate::exit::{Command, Failure, ForCommand as _};
use crate::output::{print_line, shorten};
use crate::tokens::{Connection, OutputArgs, read_secret, report, undelivered};

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
    output: OutputArgs,
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
    report(
        &args.output,
        None,
        &pair,
        "created a guest token pair",
        Command::Guest,
    )
    .await
}

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
    print_token("invite", invite.expose_secret(), args.json, Command::Invite)
}

pub async fn embed(args: EmbedArgs) -> Result<(), Failure> {
    let client = args.connection.client_maybe_anonymous()?;
    let embed = client
        .embed_tokens()
        .create(&args.c2c_token)
        .await
        .for_command(Command::Embed)?;
    print_token("embed", embed.expose_secret(), args.json, Command::Embed)
}

/// Prints a new token; one stdout cannot take is shown nowhere else (see [`undelivered`]).
fn print_token(what: &str, token: &str, json: bool, command: Command) -> Result<(), Failure> {
    let whole = serde_json::json!({ "token": token }).to_string();
    let text = if json {
        whole.clone()
    } else {
        format!(
            "created an {what} token: {}\n(shortened: --json prints it in full)",
            shorten(token)
        )
    };
    print_line(text).map_err(|error| undelivered(&whole, &error, command))
}
