//! `fake serve`: a fake space for apps in any language to develop against.

use clap::{Args, Subcommand};
use signalwire_fabric_fake::FakeSpace;

use crate::exit::Failure;
use crate::output::say;

/// `fake ...`.
#[derive(Debug, Subcommand)]
pub enum FakeCommand {
    /// Serve a fake space on 127.0.0.1 until Ctrl-C, printing its URL, credentials and
    /// click-to-call token.
    Serve(ServeArgs),
}

/// Runs a `fake` command.
pub async fn run(command: FakeCommand) -> Result<(), Failure> {
    match command {
        FakeCommand::Serve(args) => serve(args).await,
    }
}

/// `fake serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen on this loopback port [default: any free port]
    #[arg(long)]
    port: Option<u16>,
    /// Start page links with this URL, http(s)://host[:port], for a proxy in front of the fake that does not pass the client's Host on [default: the address each request was sent to]
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Accept this click-to-call token for embed tokens: c2c_ and 32 hexadecimal digits [default: one generated at start]
    #[arg(long, value_name = "TOKEN")]
    click_to_call_token: Option<String>,
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let mut builder = FakeSpace::builder();
    if let Some(port) = args.port {
        builder = builder.port(port);
    }
    if let Some(url) = args.public_url {
        builder = builder.public_url(url);
    }
    if let Some(token) = args.click_to_call_token {
        builder = builder.click_to_call_token(token);
    }
    let fake = builder.start().await.map_err(|error| {
        let message = format!("cannot start the fake on 127.0.0.1: {error}");
        match error.kind() {
            // A setting the fake refused: the command line was wrong.
            std::io::ErrorKind::InvalidInput => Failure::usage(message),
            _ => Failure::other(message),
        }
    })?;
    say!("fake SignalWire space listening on {}", fake.base_url());
    if let Some(public_url) = fake.public_url() {
        say!("page links name {public_url}, where clients reach it");
    }
    say!("use these settings (the credentials are the fake's own, not real ones):");
    say!(
        "  export SIGNALWIRE_BASE_URL={}",
        fake.public_url().unwrap_or(fake.base_url())
    );
    say!("  export SIGNALWIRE_PROJECT_ID={}", fake.project_id());
    say!("  export SIGNALWIRE_API_TOKEN={}", fake.api_token());
    // Like the API token, a fake's own: printed so that an embed token can be had.
    say!(
        "  click-to-call token (for `tokens embed --c2c-token`): {}",
        fake.click_to_call_token()
    );
    say!("press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| Failure::other(format!("cannot wait for Ctrl-C: {error}")))?;
    let requests = fake.journal().len();
    drop(fake);
    say!("stopped after {requests} requests");
    Ok(())
}
