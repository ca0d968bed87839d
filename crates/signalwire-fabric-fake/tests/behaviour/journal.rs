use serde_json::json;
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{Auth, basic, call, send};

#[tokio::test]
async fn the_journal_records_every_request_and_its_answer() {
    let fake = FakeSpace::start().await;
    let before = fake.clock().now();
    let seeded = fake.create_subscriber_token("alice@example.com");
    assert!(fake.journal().is_empty(), "seeding is not a request");

    let create_body = json!({"reference": "bob@example.com", "display_name": "Bob"});
    call(&fake, Operation::Create, create_body.clone()).await;
    let wrong = basic(fake.project_id(), "wrong");
    send(
        &fake,
        "POST",
        Operation::Refresh.path(),
        Auth::Header(&wrong),
        json!({"refresh_token": seeded.refresh_token}).to_string(),
    )
    .await;
    send(&fake, "GET", "/nowhere?x=1", Auth::Fake, "").await;
    call(&fake, Operation::Refresh, json!({"refresh_token": "x"})).await;
    call(
        &fake,
        Operation::Refresh,
        json!({"refresh_token": seeded.refresh_token}),
    )
    .await;

    let journal = fake.journal();
    assert_eq!(journal.len(), 5);

    let created = &journal[0];
    assert_eq!(created.operation, Some(Operation::Create));
    assert_eq!(
        (created.method.as_str(), created.path.as_str()),
        ("POST", Operation::Create.path())
    );
    assert_eq!(created.status, 200);
    assert!(created.credentials_valid);
    assert_eq!(created.body, Some(create_body));
    assert_eq!(created.error_code, None);
    assert!(!created.faulted);
    assert!(created.received_at >= before);

    let unauthorized = &journal[1];
    assert_eq!(
        (
            unauthorized.operation,
            unauthorized.status,
            unauthorized.credentials_valid
        ),
        (Some(Operation::Refresh), 401, false)
    );
    assert_eq!(
        unauthorized.body,
        Some(json!({"refresh_token": seeded.refresh_token}))
    );

    let unknown = &journal[2];
    assert_eq!((unknown.operation, unknown.status), (None, 404));
    assert_eq!(
        (unknown.method.as_str(), unknown.path.as_str()),
        ("GET", "/nowhere")
    );
    assert_eq!(unknown.body, None, "an empty body is not JSON");

    assert_eq!(journal[3].status, 422);
    assert_eq!(
        journal[3].error_code.as_deref(),
        Some("invalid_token_format")
    );
    assert_eq!(journal[4].status, 201);

    assert_eq!(fake.refresh_count(), 3);
    assert_eq!(fake.request_count(Operation::Create), 1);
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
    assert_eq!(fake.answered_count(Operation::Refresh, 401), 1);
    assert_eq!(fake.answered_count(Operation::Refresh, 422), 1);
    assert_eq!(fake.answered_count(Operation::Create, 201), 0);

    fake.clear_journal();
    assert!(fake.journal().is_empty());
    assert_eq!(fake.refresh_count(), 0);
    assert!(
        fake.subscriber_id("bob@example.com").is_some(),
        "clearing the journal keeps the state"
    );
}
