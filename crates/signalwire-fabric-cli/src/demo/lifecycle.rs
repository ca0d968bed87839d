//! `demo`: a subscriber token's whole lifecycle against an in-process fake space, with no
//! credentials and no network beyond loopback.
//!
//! The last part simulates hours: tokio's clock is paused, and the fake crate's
//! [`SimulatedTime`] moves it together with the fake's clock and holds it still while a
//! request is with the fake (the way users' tests do it too).

use std::time::Duration;

use signalwire_fabric::{CreateSubscriberToken, Error, SubscriberSession};
use signalwire_fabric_fake::{FakeSpace, Operation, SimulatedTime};

use crate::exit::{Command, Failure, ForCommand as _};
use crate::output::{describe_pair, hours_minutes, say};

/// How long the session runs in simulated time, and how far each step moves the clocks.
const SIMULATED: Duration = Duration::from_secs(8 * 3600);
const STEP: Duration = Duration::from_secs(5 * 60);
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// Runs `demo`.
pub async fn run() -> Result<(), Failure> {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    say!(
        "1. A fake SignalWire space is listening on {}",
        fake.base_url()
    );
    say!("   (single-use refresh tokens, like the real service is assumed to be)\n");

    let created = client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("alice@example.com").display_name("Alice"))
        .await
        .for_command(Command::Demo)?;
    say!("2. Created a subscriber token for alice@example.com");
    say!("  subscriber     {}", created.subscriber_id);
    say!("{}\n", describe_pair(&created.pair));

    let first = client
        .subscriber_tokens()
        .refresh(created.pair.refresh_token())
        .await
        .for_command(Command::Demo)?;
    say!("3. Refreshed: the first refresh token is now spent");
    say!("{}\n", describe_pair(&first));

    let second = client
        .subscriber_tokens()
        .refresh(first.refresh_token())
        .await
        .for_command(Command::Demo)?;
    say!("4. Refreshed again with the newest refresh token");
    say!("{}\n", describe_pair(&second));

    say!("5. Reusing the first refresh token (already exchanged):");
    match client
        .subscriber_tokens()
        .refresh(created.pair.refresh_token())
        .await
    {
        Err(error) if error.requires_new_subscriber_token() => {
            say!("   rejected as expected: {error}\n");
        }
        Err(error) => return Err(Failure::sdk(error, Command::Demo)),
        Ok(_) => return Err(Failure::other("the fake accepted a spent refresh token")),
    }

    say!(
        "6. A session keeps the newest pair alive for {} of simulated time,",
        hours_minutes(SIMULATED)
    );
    say!(
        "   refreshing {} before expiry in the background:",
        hours_minutes(REFRESH_AHEAD)
    );
    let by_hand = fake.answered_count(Operation::Refresh, 201);
    tokio::time::pause();
    let session = client
        .session(second)
        .refresh_ahead(REFRESH_AHEAD)
        .jitter(Duration::ZERO)
        .build();
    let _auto = session.spawn_auto_refresh();
    let automatic = simulate(&SimulatedTime::new(&fake), &session).await?;

    let refreshes = fake.answered_count(Operation::Refresh, 201);
    let rejected = fake.answered_count(Operation::Refresh, 422);
    say!("\nSummary");
    say!(
        "  subscriber tokens created          {}",
        fake.answered_count(Operation::Create, 200)
    );
    say!("  refreshes by hand                  {by_hand}");
    say!("  refreshes by the session           {automatic}");
    say!(
        "  refresh requests the fake saw      {} ({refreshes} new pairs, {rejected} rejected reuse)",
        fake.refresh_count()
    );
    say!(
        "  refresh tokens exchanged twice     {}",
        exchanged_twice(&fake)
    );
    say!("The session ends healthy: {}", health(&session));
    Ok(())
}

/// Moves both clocks forward step by step, using the session's token at every step, and
/// prints each automatic refresh. Returns how many there were.
async fn simulate(time: &SimulatedTime, session: &SubscriberSession) -> Result<u64, Failure> {
    let mut elapsed = Duration::ZERO;
    let mut seen = 0;
    while elapsed < SIMULATED {
        time.advance(STEP).await;
        elapsed += STEP;
        let token = time
            .hold(session.access_token())
            .await
            .for_command(Command::Demo)?;
        let status = session.status();
        if status.refreshes > seen {
            seen = status.refreshes;
            say!(
                "   {}  refreshed automatically (#{seen}); access token valid for {}",
                clock_time(elapsed),
                hours_minutes(status.access_expires_in)
            );
        }
        drop(token);
    }
    Ok(seen)
}

/// How many refresh tokens the fake accepted more than once (by its journal).
fn exchanged_twice(fake: &FakeSpace) -> usize {
    let mut accepted: Vec<String> = fake
        .journal()
        .into_iter()
        .filter(|entry| entry.operation == Some(Operation::Refresh) && entry.status == 201)
        .filter_map(|entry| Some(entry.body?.get("refresh_token")?.as_str()?.to_owned()))
        .collect();
    let total = accepted.len();
    accepted.sort();
    accepted.dedup();
    total - accepted.len()
}

fn health(session: &SubscriberSession) -> String {
    let status = session.status();
    match status.last_error {
        None if !status.ended => format!(
            "access token valid for {}, refresh token for {}",
            hours_minutes(status.access_expires_in),
            hours_minutes(status.refresh_expires_in)
        ),
        _ => format!(
            "no ({:?})",
            status.last_error.map(|error: Error| error.to_string())
        ),
    }
}

fn clock_time(elapsed: Duration) -> String {
    let minutes = elapsed.as_secs() / 60;
    format!("+{}:{:02}", minutes / 60, minutes % 60)
}
