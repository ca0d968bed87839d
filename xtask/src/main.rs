//! `cargo xtask`: the project's maintainer jobs.
//!
//! - `cargo xtask codegen` rewrites every file derived from the spec.
//! - `cargo xtask codegen --check` rewrites nothing and fails, with a diff, when one is stale.
//!   Line endings do not count: a checkout with CRLF endings is not stale for that alone.
//! - `cargo xtask msrv` fails when a dependency of a published crate declares a newer
//!   `rust-version` than the crate promises (see the `msrv` module for what else holds the
//!   promise up).
//! - `cargo xtask contract-coverage` prints which documented (operation, status) pairs have
//!   a contract case, and fails when one is missing or a case is stale.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod codegen;
mod contract_coverage;
#[cfg(test)]
mod licenses;
mod msrv;
#[cfg(test)]
mod readme_snippets;
#[cfg(test)]
mod security_refs;

#[derive(Debug, Parser)]
#[command(about = "Maintainer jobs for the signalwire-fabric workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate the committed client copy and the README's operations table from the spec.
    Codegen {
        /// Write nothing; fail with a diff when a derived file is stale.
        #[arg(long)]
        check: bool,
    },
    /// Fail when a dependency of a published crate needs a newer Rust than its
    /// `rust-version`; print the highest `rust-version` the dependencies declare.
    Msrv,
    /// Print the contract suite's coverage of the spec; fail when a case is missing or stale.
    ContractCoverage,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Codegen { check } => codegen::run(&codegen::workspace_root(), check),
        Command::Msrv => msrv::run(&codegen::workspace_root()),
        Command::ContractCoverage => contract_coverage::run(&codegen::workspace_root()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
