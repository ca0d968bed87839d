use std::time::{Duration, Instant};

use serde_json::json;
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};

use crate::common::{Auth, create, refresh, send};

#[tokio::test]
async fn a_status_fault_answers_its_reason_counts_down_and_spends_nothing() {
    let fake = FakeSpace::start().await;
    let seeded = fake.create_subscriber_token("alice@example.com");
    fake.inject(Operation::Refresh, Fault::status(503), 2);
    assert_eq!(fake.faults_pending(Operation::Refresh), 2);

    for left in [1, 0] {
        let answer = refresh(&fake, &seeded.refresh_token).await;
        assert_eq!(answer.status, 503);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        assert_eq!(answer.json(), json!({"error": "Service Unavailable"}));
        assert_eq!(fake.faults_pending(Operation::Refresh), left);
    }
    // Faults are per operation: create was never affected.
    assert_eq!(create(&fake, "bob@example.com").await.status, 200);
    // The faulted attempts did not consume the refresh token.
    assert_eq!(refresh(&fake, &seeded.refresh_token).await.status, 201);

    let statuses: Vec<(Option<Operation>, u16, bool)> = fake
        .journal()
        .iter()
        .map(|entry| (entry.operation, entry.status, entry.faulted))
        .collect();
    assert_eq!(
        statuses,
        [
            (Some(Operation::Refresh), 503, true),
            (Some(Operation::Refresh), 503, true),
            (Some(Operation::Create), 200, false),
            (Some(Operation::Refresh), 201, false),
        ]
    );
}

#[tokio::test]
async fn faults_are_served_in_the_order_they_were_injected() {
    let fake = FakeSpace::start().await;
    fake.inject(Operation::Create, Fault::status(500), 1);
    fake.inject(Operation::Create, Fault::status(418), 1);
    fake.inject(Operation::Create, Fault::status(502), 0);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(create(&fake, "alice@example.com").await.status);
    }
    assert_eq!(statuses, [500, 418, 200]);
    assert_eq!(
        create(&fake, "alice@example.com").await.status,
        200,
        "zero times injects nothing"
    );

    fake.inject(Operation::Create, Fault::status(500), 5);
    fake.clear_faults();
    assert_eq!(fake.faults_pending(Operation::Create), 0);
    assert_eq!(create(&fake, "alice@example.com").await.status, 200);
}

#[tokio::test]
async fn an_html_fault_sends_a_proxy_page() {
    let fake = FakeSpace::start().await;
    fake.inject(Operation::Refresh, Fault::status(502).html(), 1);
    let answer = refresh(&fake, "a.b.c").await;
    assert_eq!(answer.status, 502);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    let page = answer.text();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<title>502 Bad Gateway</title>"), "{page}");
    assert!(serde_json::from_slice::<serde_json::Value>(&answer.body).is_err());
}

#[tokio::test]
async fn a_rate_limit_fault_sends_retry_after_in_whole_seconds() {
    let fake = FakeSpace::start().await;
    fake.inject(
        Operation::Create,
        Fault::rate_limited(Some(Duration::from_millis(2500))),
        1,
    );
    fake.inject(Operation::Create, Fault::rate_limited(None), 1);

    let answer = create(&fake, "alice@example.com").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.retry_after.as_deref(), Some("3"), "rounded up");
    assert_eq!(answer.json(), json!({"error": "Too Many Requests"}));

    let answer = create(&fake, "alice@example.com").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.retry_after, None);
}

#[tokio::test]
async fn a_delay_fault_answers_normally_but_late_and_the_token_is_spent() {
    let fake = FakeSpace::start().await;
    let seeded = fake.create_subscriber_token("alice@example.com");
    let delay = Duration::from_millis(400);
    fake.inject(Operation::Refresh, Fault::delay(delay), 1);

    let started = Instant::now();
    let answer = refresh(&fake, &seeded.refresh_token).await;
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(answer.status, 201);

    assert_eq!(
        refresh(&fake, &seeded.refresh_token).await.code(),
        "token_invalid"
    );
    // The fault was used up: the journal says so (a timing bound would flake on a busy
    // machine).
    let journal = fake.journal();
    assert!(journal[0].faulted && journal[0].status == 201);
    assert!(!journal[1].faulted, "the second answer was not delayed");
}

#[test]
#[should_panic(expected = "not an HTTP status code")]
fn a_status_fault_needs_a_real_status_code() {
    let _ = Fault::status(42);
}

#[tokio::test]
async fn a_fault_answers_any_operation_first_whatever_its_credentials_and_changes_nothing() {
    let fake = FakeSpace::start().await;
    let alice = fake.create_subscriber("alice@example.com");
    let id = alice.resource_id.to_string();
    for operation in Operation::ALL {
        fake.inject(operation, Fault::status(500), 1);
    }
    for operation in Operation::ALL {
        let answer = send(
            &fake,
            operation.method(),
            &operation.path_for(&id),
            Auth::None,
            "{}",
        )
        .await;
        assert_eq!(answer.status, 500, "{operation:?}");
        assert_eq!(answer.json(), json!({"error": "Internal Server Error"}));
        assert_eq!(fake.faults_pending(operation), 0, "{operation:?}");
    }
    let journal = fake.journal();
    let seen: Vec<(Option<Operation>, &str, bool)> = journal
        .iter()
        .map(|entry| (entry.operation, entry.method.as_str(), entry.faulted))
        .collect();
    let expected: Vec<(Option<Operation>, &str, bool)> = Operation::ALL
        .iter()
        .map(|operation| (Some(*operation), operation.method(), true))
        .collect();
    assert_eq!(seen, expected);
    for operation in Operation::ALL {
        assert_eq!(fake.answered_count(operation, 500), 1, "{operation:?}");
    }
    assert_eq!(
        fake.subscribers(),
        [alice],
        "the faulted delete deleted nothing"
    );

    // The faults were used up: the operations answer normally again.
    assert_eq!(
        send(
            &fake,
            "DELETE",
            &Operation::DeleteSubscriber.path_for(&id),
            Auth::Fake,
            ""
        )
        .await
        .status,
        204
    );
}
