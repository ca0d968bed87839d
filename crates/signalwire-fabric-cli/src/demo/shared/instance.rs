//! An instance: `demo shared-instance`, one of the two processes `demo shared` starts. It
//! joins the subscriber in Redis, then at each "go" on stdin reports the token a call
//! refused (`refresh_if_current`) and says whether it refreshed or adopted the pair.

use std::io::BufRead as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use signalwire_fabric::{Client, Error, RefreshToken, Refresher, SubscriberSession, TokenPair};

use super::Settings;
use crate::exit::{Command, Failure, ForCommand as _};
use crate::output::say;

/// Runs `demo shared-instance`.
pub async fn run() -> Result<(), Failure> {
    let settings = Settings::from_env()?;
    let exchanges = Arc::new(AtomicU64::new(0));
    let refresher = Counting {
        client: settings.client()?,
        exchanges: Arc::clone(&exchanges),
    };
    let session = SubscriberSession::join(refresher, settings.coordinator()?, settings.key.clone())
        .await
        .for_command(Command::Demo)?
        .ok_or_else(|| Failure::other("Redis holds no pair for the demo's subscriber"))?
        .build();
    let token = session.access_token().await.for_command(Command::Demo)?;
    say!(
        "pid {} joined at generation {}, holding token {}",
        std::process::id(),
        session.status().generation,
        short_hash(&token)
    );
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        if line.trim() != "go" {
            break;
        }
        let refused = session.access_token().await.for_command(Command::Demo)?;
        let before = exchanges.load(Ordering::SeqCst);
        let token = session
            .refresh_if_current(&refused)
            .await
            .for_command(Command::Demo)?;
        let generation = session.status().generation;
        if exchanges.load(Ordering::SeqCst) > before {
            say!(
                "refreshed: 1 request to SignalWire, stored as generation {generation}; token {}",
                short_hash(&token)
            );
        } else {
            say!(
                "adopted generation {generation} from Redis, no request;      token {}",
                short_hash(&token)
            );
        }
    }
    Ok(())
}

/// The client, counting the exchanges this instance makes.
struct Counting {
    client: Client,
    exchanges: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Refresher for Counting {
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, Error> {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        self.client.subscriber_tokens().refresh(refresh_token).await
    }

    fn client(&self) -> Option<&Client> {
        Some(&self.client)
    }
}

/// A short hash standing for a token in the output (never the token itself).
fn short_hash(token: &signalwire_fabric::AccessToken) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    token.expose_secret().hash(&mut hasher);
    format!("#{:08x}", hasher.finish() as u32)
}
