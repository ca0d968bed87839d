//! `signalwire-fabric`: subscriber tokens from the command line, a local fake space, and a
//! demo of the whole lifecycle.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod exit;
mod fake;
mod guests;
mod output;
mod subscribers;
mod tokens;

#[derive(Debug, Parser)]
#[command(
    name = "signalwire-fabric",
    version,
    about = "SignalWire Fabric subscribers and their tokens from the command line",
    after_help = exit::TABLE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Walk through a subscriber token's lifecycle against an in-process fake space.
    Demo,
    /// Create or refresh subscriber tokens; guest, invite and embed tokens.
    #[command(subcommand)]
    Tokens(Box<TokensCommand>),
    /// Create, read, update, delete and list subscribers.
    #[command(subcommand)]
    Subscribers(Box<subscribers::SubscribersCommand>),
    /// Run a fake SignalWire space on this machine.
    #[command(subcommand)]
    Fake(FakeCommand),
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create a subscriber's first token pair.
    Create(Box<tokens::CreateArgs>),
    /// Exchange a refresh token for a new pair. The refresh token is read from stdin, or
    /// from --refresh-token-file; never from the command line, where other users can see it.
    /// The exchange spends it, so the new pair must be kept whole: --out FILE or --json is
    /// required.
    Refresh(tokens::RefreshArgs),
    /// Create a token pair for a guest allowed into some addresses.
    Guest(guests::GuestArgs),
    /// Create an invite to one of a subscriber's addresses, with the subscriber's access
    /// token (read from stdin or --access-token-file).
    Invite(guests::InviteArgs),
    /// Exchange a click-to-call token for an embed token (no credentials needed).
    Embed(guests::EmbedArgs),
}

#[derive(Debug, Subcommand)]
enum FakeCommand {
    /// Serve a fake space on 127.0.0.1 until Ctrl-C, printing its URL, credentials and
    /// click-to-call token.
    Serve(fake::ServeArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run().await,
        Command::Tokens(command) => match *command {
            TokensCommand::Create(args) => tokens::create(*args).await,
            TokensCommand::Refresh(args) => tokens::refresh(args).await,
            TokensCommand::Guest(args) => guests::guest(args).await,
            TokensCommand::Invite(args) => guests::invite(args).await,
            TokensCommand::Embed(args) => guests::embed(args).await,
        },
        Command::Subscribers(command) => subscribers::run(*command).await,
        Command::Fake(FakeCommand::Serve(args)) => fake::serve(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            failure.into()
        }
    }
}
