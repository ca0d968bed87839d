//! Exchanges a refresh token for a new pair against the server the environment names.
//!
//! ```sh
//! export SIGNALWIRE_SPACE=example            # or SIGNALWIRE_BASE_URL=http://127.0.0.1:8080
//! export SIGNALWIRE_PROJECT_ID=... SIGNALWIRE_API_TOKEN=...
//! cargo run -p signalwire-fabric --example refresh < refresh-token.txt > new-pair.json
//! ```
//!
//! The refresh token is read from stdin (never from argv, which other users can see). The
//! new pair is written to stdout in its stored form: it holds secrets, so redirect it to a
//! file only you can read. The old refresh token is spent once this succeeds.

use std::io::Read as _;
use std::process::ExitCode;

use signalwire_fabric::{Client, RefreshToken};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let client = Client::from_env().map_err(|error| error.to_string())?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|error| format!("reading the refresh token from stdin: {error}"))?;
    let refresh_token: RefreshToken = input
        .trim()
        .parse()
        .map_err(|error| format!("the refresh token on stdin {error}"))?;

    let pair = client
        .subscriber_tokens()
        .refresh(&refresh_token)
        .await
        .map_err(|error| error.to_string())?;

    eprintln!(
        "refreshed: access token valid for {} min, refresh token for {} min",
        pair.access_expires_in().as_secs() / 60,
        pair.refresh_expires_in().as_secs() / 60
    );
    let stored =
        serde_json::to_string_pretty(&pair.to_stored()).map_err(|error| error.to_string())?;
    println!("{stored}");
    Ok(())
}
