//! `fake serve`: a fake space for apps in any language to develop against.

use clap::Args;
use signalwire_fabric_fake::FakeSpace;

use crate::exit::Failure;

/// `fake serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen on this loopback port [default: any free port]
    #[arg(long)]
    port: Option<u16>,
}

pub async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let mut builder = FakeSpace::builder();
    if let Some(port) = args.port {
        builder = builder.port(port);
    }
    let fake = builder
        .start()
        .await
        .map_err(|error| Failure::other(format!("cannot start the fake on 127.0.0.1: {error}")))?;
    println!("fake SignalWire space listening on {}", fake.base_url());
    println!("use these settings (the credentials are the fake's own, not real ones):");
    println!("  export SIGNALWIRE_BASE_URL={}", fake.base_url());
    println!("  export SIGNALWIRE_PROJECT_ID={}", fake.project_id());
    println!("  export SIGNALWIRE_API_TOKEN={}", fake.api_token());
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| Failure::other(format!("cannot wait for Ctrl-C: {error}")))?;
    let requests = fake.journal().len();
    drop(fake);
    println!("stopped after {requests} requests");
    Ok(())
}
