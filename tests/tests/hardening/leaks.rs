//! No secret ever leaks: a whole lifecycle with every log line captured at TRACE level and
//! every value formatted, searched for every secret involved.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use signalwire_fabric::{CreateSubscriberToken, Error, RetryPolicy, TokenPair};
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};
use tokio::time::Instant;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn due_now(pair: &TokenPair) -> TokenPair {
    TokenPair::new(
        pair.access_token().clone(),
        pair.refresh_token().clone(),
        Instant::now(),
        pair.refresh_expires_at(),
    )
}

#[tokio::test]
async fn a_whole_lifecycle_logs_and_formats_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeSpace::start().await;
    let client = fake.client();
    let mut shown: Vec<String> = vec![format!("{client:?}"), format!("{fake:?}")];
    let mut pairs: Vec<TokenPair> = Vec::new();
    let mut errors: Vec<Error> = Vec::new();

    // Create, then refresh by hand.
    let created = client
        .subscriber_tokens()
        .create(CreateSubscriberToken::new("frank@example.com").password("s3cret-password-value"))
        .await
        .expect("created");
    shown.push(format!("{created:?}"));
    pairs.push(created.pair.clone());
    let first = client
        .subscriber_tokens()
        .refresh(created.pair.refresh_token())
        .await
        .expect("refreshed");
    pairs.push(first.clone());

    // Failures: a spent token, wrong credentials, a server error page.
    errors.push(
        client
            .subscriber_tokens()
            .refresh(created.pair.refresh_token())
            .await
            .expect_err("spent"),
    );
    let wrong = fake
        .client_builder()
        .api_token("PTwrong-token-for-the-leak-test")
        .build()
        .expect("valid");
    errors.push(
        wrong
            .subscriber_tokens()
            .refresh(first.refresh_token())
            .await
            .expect_err("401"),
    );
    fake.inject(Operation::Refresh, Fault::status(503).html(), 1);
    errors.push(
        client
            .subscriber_tokens()
            .refresh(first.refresh_token())
            .await
            .expect_err("503"),
    );

    // A session that retries through two failures, then ends on a refusal.
    fake.inject(Operation::Refresh, Fault::status(500), 1);
    fake.inject(
        Operation::Refresh,
        Fault::rate_limited(Some(Duration::from_millis(0))),
        1,
    );
    let session = client
        .session(due_now(&first))
        .retry(RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
        })
        .build();
    let token = session.access_token().await;
    shown.push(format!("{token:?}"));
    for _ in 0..100 {
        if session.status().refreshes == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = session.access_token().await;
    }
    assert_eq!(session.status().refreshes, 1, "refreshed after the retries");
    pairs.push(session.pair());
    shown.push(format!("{session:?} {:?}", session.status()));

    let spent = TokenPair::new(
        first.access_token().clone(),
        first.refresh_token().clone(),
        Instant::now(),
        first.refresh_expires_at(),
    );
    let ended = client.session(spent).build();
    errors.push(
        ended
            .access_token()
            .await
            .expect_err("spent: the session ends"),
    );
    shown.push(format!("{ended:?} {:?}", ended.status()));

    for pair in &pairs {
        shown.push(format!("{pair:?} {:?}", pair.to_stored()));
    }
    for error in &errors {
        shown.push(format!("{error} {error:?}"));
    }
    let log = String::from_utf8_lossy(&captured.0.lock().expect("not poisoned")).into_owned();
    assert!(
        log.contains("subscriber token refresh failed; will retry"),
        "the log was captured: {log}"
    );

    let mut secrets: Vec<String> = vec![
        fake.api_token().to_owned(),
        "PTwrong-token-for-the-leak-test".to_owned(),
        "s3cret-password-value".to_owned(),
    ];
    for pair in &pairs {
        secrets.push(pair.access_token().expose_secret().to_owned());
        secrets.push(pair.refresh_token().expose_secret().to_owned());
    }
    assert!(secrets.len() >= 9);
    let everything = format!("{log}\n{}", shown.join("\n"));
    for secret in &secrets {
        // The first 24 characters of a token are its public header; look past them.
        let probe = if secret.len() > 64 {
            &secret[30..60]
        } else {
            secret.as_str()
        };
        assert!(!everything.contains(probe), "a secret leaked");
    }
}
