//! `signalwire-fabric`: subscriber tokens from the command line, a local fake space, and a
//! demo of the whole lifecycle.
//!
//! The `demo` and `fake serve` commands come from the default `fake` feature, which
//! compiles wiremock and tokio's test utilities; `--no-default-features` leaves them out.

#![forbid(unsafe_code)]
// Output goes through `output`, whose writes report a closed stdout instead of panicking.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[cfg(feature = "fake")]
mod demo;
mod exit;
#[cfg(feature = "fake")]
mod fake;
mod guests;
mod output;
#[cfg(all(feature = "fake", feature = "redis"))]
mod shared;
mod subscribers;
mod tokens;

/// The help text's first lines; the lean build says what it leaves out.
const ABOUT: &str = if cfg!(feature = "fake") {
    "SignalWire Fabric subscribers and their tokens from the command line"
} else {
    "SignalWire Fabric subscribers and their tokens from the command line\n\
     Lean build (--no-default-features): no `demo` or `fake` commands, and no wiremock; \
     install with default features to get them."
};

#[derive(Debug, Parser)]
#[command(
    name = "signalwire-fabric",
    version,
    about = ABOUT,
    after_help = exit::TABLE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Walk through a subscriber token's lifecycle against an in-process fake space.
    ///
    /// From the default `fake` feature, like `fake serve`: a build with
    /// `--no-default-features` leaves both out, and wiremock with them.
    #[cfg_attr(not(feature = "fake"), command(hide = true))]
    Demo(DemoArgs),
    /// Create or refresh subscriber tokens; guest, invite and embed tokens.
    #[command(subcommand)]
    Tokens(Box<TokensCommand>),
    /// Create, read, update, delete and list subscribers.
    #[command(subcommand)]
    Subscribers(Box<subscribers::SubscribersCommand>),
    /// Run a fake SignalWire space on this machine.
    ///
    /// From the default `fake` feature, like `demo`: a build with `--no-default-features`
    /// leaves both out, and wiremock with them.
    #[cfg(feature = "fake")]
    #[command(subcommand)]
    Fake(FakeCommand),
    /// `fake` in the lean build: says why it is missing.
    #[cfg(not(feature = "fake"))]
    #[command(name = "fake", hide = true)]
    FakeNotBuilt {
        #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

/// What `demo` and `fake` say in the lean build.
#[cfg(not(feature = "fake"))]
const NOT_BUILT: &str = "this build of signalwire-fabric has no `demo` or `fake` commands: \
it was built without the default `fake` feature (--no-default-features); \
install signalwire-fabric-cli with default features to get them";

/// `demo`, and `demo shared`.
#[derive(Debug, Args)]
struct DemoArgs {
    #[command(subcommand)]
    command: Option<DemoCommand>,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Two instances of this command (two processes) share one subscriber through Redis:
    /// at every rotation one refreshes and the other adopts its pair. Needs a Redis server
    /// (and the default `fake` and `redis` features).
    Shared(SharedArgs),
    /// One instance of `demo shared`, which starts two.
    #[command(hide = true)]
    SharedInstance,
}

/// `demo shared`.
#[derive(Debug, Args)]
struct SharedArgs {
    /// The Redis server the instances share
    #[arg(
        long,
        env = "SIGNALWIRE_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        value_name = "URL"
    )]
    redis_url: String,
    /// How many rotations to show
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rotations: u32,
}

/// What `demo shared` says in a build without the `redis` feature.
#[cfg(all(feature = "fake", not(feature = "redis")))]
const NO_REDIS: &str = "this build of signalwire-fabric has no `demo shared`: it was built \
without the default `redis` feature; install signalwire-fabric-cli with default features \
to get it";

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

#[cfg(feature = "fake")]
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
        #[cfg(feature = "fake")]
        Command::Demo(DemoArgs { command: None }) => demo::run().await,
        #[cfg(all(feature = "fake", feature = "redis"))]
        Command::Demo(DemoArgs {
            command: Some(DemoCommand::Shared(args)),
        }) => shared::run(args).await,
        #[cfg(all(feature = "fake", feature = "redis"))]
        Command::Demo(DemoArgs {
            command: Some(DemoCommand::SharedInstance),
        }) => shared::instance().await,
        #[cfg(all(feature = "fake", not(feature = "redis")))]
        Command::Demo(DemoArgs { command: Some(_) }) => Err(exit::Failure::usage(NO_REDIS)),
        #[cfg(not(feature = "fake"))]
        Command::Demo(_) | Command::FakeNotBuilt { .. } => Err(exit::Failure::usage(NOT_BUILT)),
        Command::Tokens(command) => match *command {
            TokensCommand::Create(args) => tokens::create(*args).await,
            TokensCommand::Refresh(args) => tokens::refresh(args).await,
            TokensCommand::Guest(args) => guests::guest(args).await,
            TokensCommand::Invite(args) => guests::invite(args).await,
            TokensCommand::Embed(args) => guests::embed(args).await,
        },
        Command::Subscribers(command) => subscribers::run(*command).await,
        #[cfg(feature = "fake")]
        Command::Fake(FakeCommand::Serve(args)) => fake::serve(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                output::print_error_line(format_args!("error: {}", failure.message));
            }
            failure.into()
        }
    }
}
