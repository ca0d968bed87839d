//! `signalwire-fabric`: subscriber tokens from the command line, a local fake space, and a
//! demo of the whole lifecycle.
//!
//! The `demo` and `fake serve` commands come from the default `fake` feature, which
//! compiles wiremock and tokio's test utilities; `--no-default-features` leaves them out.
//!
//! Where things are: each command has its module, with its flags, its subcommands and
//! what it does: [`tokens`], [`subscribers`], [`demo`], [`fake`]. What they share has one
//! home each: [`context`] (where to send, the credentials, secrets read from stdin or
//! files), [`delivery`] (where a new token goes, and the rule that none is lost),
//! [`output`] (how anything is written and shown), [`exit`] (exit codes and hints).

#![forbid(unsafe_code)]
// Output goes through `output`, whose writes report a closed stdout instead of panicking.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod context;
mod delivery;
mod demo;
mod exit;
#[cfg(feature = "fake")]
mod fake;
mod output;
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
    Demo(demo::DemoArgs),
    /// Create or refresh subscriber tokens; guest, invite and embed tokens.
    #[command(subcommand)]
    Tokens(Box<tokens::TokensCommand>),
    /// Create, read, update, delete and list subscribers.
    #[command(subcommand)]
    Subscribers(Box<subscribers::SubscribersCommand>),
    /// Run a fake SignalWire space on this machine.
    ///
    /// From the default `fake` feature, like `demo`: a build with `--no-default-features`
    /// leaves both out, and wiremock with them.
    #[cfg(feature = "fake")]
    #[command(subcommand)]
    Fake(fake::FakeCommand),
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "fake")]
        Command::Demo(args) => demo::run(args).await,
        #[cfg(not(feature = "fake"))]
        Command::Demo(_) | Command::FakeNotBuilt { .. } => Err(exit::Failure::usage(NOT_BUILT)),
        Command::Tokens(command) => tokens::run(*command).await,
        Command::Subscribers(command) => subscribers::run(*command).await,
        #[cfg(feature = "fake")]
        Command::Fake(command) => fake::run(command).await,
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
