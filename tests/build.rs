//! Refuses to build the contract suite unless it tests the client generated from the spec.
//!
//! `signalwire-fabric-api`'s build script says, through its `links` key, where the client
//! it compiled came from. The suite enables the api crate's `codegen` feature so that it
//! is `spec`; a change that lost the feature would quietly test the committed copy
//! instead, so the build fails here, before any test runs.

fn main() {
    let client = std::env::var("DEP_SIGNALWIRE_FABRIC_API_CLIENT");
    if client.as_deref() != Ok("spec") {
        eprintln!(
            "error: the contract suite must test the client generated from the spec (the api \
             crate's `codegen` feature), but signalwire-fabric-api reports {client:?}"
        );
        std::process::exit(1);
    }
}
