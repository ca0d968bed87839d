//! `demo` ([`lifecycle`]: one subscriber's tokens against an in-process fake) and `demo
//! shared` ([`shared`]: two processes share a subscriber through Redis).
//!
//! The arguments are defined in every build, so that the lean build's hidden `demo` can
//! say why it is missing; what runs comes from the `fake` feature (`demo shared` also from
//! `redis`).

#[cfg(feature = "fake")]
mod lifecycle;
#[cfg(all(feature = "fake", feature = "redis"))]
mod shared;

use clap::{Args, Subcommand};

#[cfg(feature = "fake")]
use crate::exit::Failure;

/// `demo`, and `demo shared`.
#[derive(Debug, Args)]
pub struct DemoArgs {
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
pub struct SharedArgs {
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

/// Runs `demo`, `demo shared` or (started by `demo shared`) `demo shared-instance`.
#[cfg(feature = "fake")]
pub async fn run(args: DemoArgs) -> Result<(), Failure> {
    match args.command {
        None => lifecycle::run().await,
        #[cfg(feature = "redis")]
        Some(DemoCommand::Shared(args)) => shared::parent::run(args).await,
        #[cfg(feature = "redis")]
        Some(DemoCommand::SharedInstance) => shared::instance::run().await,
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(Failure::usage(NO_REDIS)),
    }
}
