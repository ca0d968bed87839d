//! The subscriber resources over raw HTTP: create, get, update, delete, the one store
//! shared with the token endpoints, and each subscriber's first address.

use std::time::Duration;

use serde_json::{Value, json};
use signalwire_fabric_fake::wire::{SubscriberAddressPage, SubscriberResponse};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{Auth, call, call_at, create, get, refresh, send};

const SUBSCRIBERS: &str = "/api/fabric/resources/subscribers";

fn is_rfc3339_seconds(text: &str) -> bool {
    // 2026-11-20T09:30:00Z
    let bytes = text.as_bytes();
    text.len() == 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'Z'
        && text
            .bytes()
            .enumerate()
            .all(|(at, b)| matches!(at, 4 | 7 | 10 | 13 | 16 | 19) || b.is_ascii_digit())
}

#[tokio::test]
async fn create_answers_201_with_the_resource_and_two_distinct_ids() {
    let fake = FakeSpace::builder()
        .project_id(signalwire_fabric::testing::PROJECT_ID)
        .start()
        .await
        .expect("a random loopback port");
    let answer = call(
        &fake,
        Operation::CreateSubscriber,
        json!({
            "email": "alice@example.com",
            "password": "correct-horse-battery",
            "first_name": "Alice",
            "last_name": "Lind",
            "timezone": "Europe/Stockholm",
            "country": "SE",
            "company_name": "Example AB",
            "job_title": "Field engineer",
        }),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let body = answer.json();
    assert!(body.get("password").is_none() && body["subscriber"].get("password").is_none());
    let typed: SubscriberResponse = serde_json::from_value(body.clone()).expect("the shape");
    let alice = fake.subscriber("alice@example.com").expect("stored");
    assert_eq!(typed.id, alice.resource_id.to_string());
    assert_eq!(body["subscriber"]["id"], alice.subscriber_id.to_string());
    assert_ne!(alice.resource_id, alice.subscriber_id);
    assert_eq!(body["project_id"], fake.project_id());
    assert_eq!(body["type"], "subscriber");
    assert_eq!(body["display_name"], "Alice Lind", "derived from the names");
    assert_eq!(body["subscriber"]["display_name"], Value::Null, "not given");
    assert_eq!(body["subscriber"]["email"], "alice@example.com");
    assert_eq!(body["subscriber"]["timezone"], "Europe/Stockholm");
    let created_at = body["created_at"].as_str().expect("created_at");
    assert!(is_rfc3339_seconds(created_at), "{created_at}");
    assert_eq!(body["updated_at"], body["created_at"]);

    // A project id that is no UUID is left out rather than sent in the wrong format.
    let plain = FakeSpace::builder()
        .project_id("project-1")
        .start()
        .await
        .expect("a random loopback port");
    let body = call(
        &plain,
        Operation::CreateSubscriber,
        json!({"email": "a@example.com"}),
    )
    .await
    .json();
    assert!(body.get("project_id").is_none(), "{body}");
}

#[tokio::test]
async fn create_validates_the_body_and_refuses_a_taken_email() {
    let fake = FakeSpace::start().await;
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (json!({}), "missing_required_parameter", Some("email")),
        (
            json!({"email": ""}),
            "missing_required_parameter",
            Some("email"),
        ),
        (
            json!({"email": null}),
            "missing_required_parameter",
            Some("email"),
        ),
        (json!({"email": 7}), "invalid_parameter", Some("email")),
        (
            json!({"email": "a@b", "password": "short"}),
            "invalid_parameter",
            Some("password"),
        ),
        (
            json!({"email": "a@b", "password": "x".repeat(73)}),
            "invalid_parameter",
            Some("password"),
        ),
        (
            json!({"email": "a@b", "password": 12345678}),
            "invalid_parameter",
            Some("password"),
        ),
        (
            json!({"email": "a@b", "first_name": ["A"]}),
            "invalid_parameter",
            Some("first_name"),
        ),
        (json!([]), "missing_required_parameter", None),
    ];
    for (body, code, attribute) in cases {
        let answer = call(&fake, Operation::CreateSubscriber, body.clone()).await;
        assert_eq!(answer.code(), code, "{body}");
        assert_eq!(answer.attribute().as_deref(), attribute, "{body}");
    }
    assert!(fake.subscribers().is_empty(), "nothing was created");

    let body = json!({"email": "alice@example.com", "password": "x".repeat(72)});
    assert_eq!(
        call(&fake, Operation::CreateSubscriber, body.clone())
            .await
            .status,
        201
    );
    let again = call(&fake, Operation::CreateSubscriber, body).await;
    assert_eq!(again.code(), "invalid_parameter");
    assert_eq!(again.attribute().as_deref(), Some("email"));
    assert_eq!(fake.subscribers().len(), 1);
}

#[tokio::test]
async fn get_answers_the_resource_and_404_for_an_unknown_or_malformed_id() {
    let fake = FakeSpace::start().await;
    let alice = fake.create_subscriber("alice@example.com");
    let id = alice.resource_id.to_string();
    let answer = call_at(&fake, Operation::GetSubscriber, &id, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["id"], id);
    assert_eq!(answer.json()["display_name"], "alice@example.com");
    let upper = id.to_uppercase();
    assert_eq!(
        call_at(&fake, Operation::GetSubscriber, &upper, None)
            .await
            .status,
        200,
        "a UUID is a UUID in either case"
    );

    for unknown in [
        "b997405e-c510-45cf-b599-261bd6dd6d8c".to_owned(),
        alice.subscriber_id.to_string(),
        alice.address_ids[0].to_string(),
        "not-a-uuid".to_owned(),
        id.replace('-', ""),
        "%20".to_owned(),
    ] {
        for operation in [
            Operation::GetSubscriber,
            Operation::UpdateSubscriber,
            Operation::DeleteSubscriber,
            Operation::ListSubscriberAddresses,
        ] {
            let answer = call_at(
                &fake,
                operation,
                &unknown,
                Some(json!({"email": "x@example.com"})),
            )
            .await;
            assert_eq!(answer.status, 404, "{operation:?} {unknown}");
            assert_eq!(answer.json(), json!({"error": "Not Found"}));
        }
    }
    let journal = fake.journal();
    assert!(
        journal
            .iter()
            .all(|entry| entry.operation.is_some() && entry.credentials_valid),
        "a bad id still reaches its operation"
    );
    assert_eq!(fake.subscribers(), [alice], "nothing changed");
}

#[tokio::test]
async fn update_replaces_the_details_and_moves_updated_at_on_the_fake_clock() {
    let fake = FakeSpace::start().await;
    let created = call(
        &fake,
        Operation::CreateSubscriber,
        json!({"email": "alice@example.com", "first_name": "Alice", "country": "SE"}),
    )
    .await
    .json();
    let id = created["id"].as_str().expect("an id").to_owned();
    fake.clock().advance(Duration::from_secs(3600));

    let answer = call_at(
        &fake,
        Operation::UpdateSubscriber,
        &id,
        Some(json!({"email": "alice@example.org", "display_name": "Alice Lind"})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let updated = answer.json();
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["subscriber"]["id"], created["subscriber"]["id"]);
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_ne!(updated["updated_at"], created["updated_at"]);
    assert!(
        updated["updated_at"].as_str() > created["updated_at"].as_str(),
        "{updated}"
    );
    assert_eq!(
        updated["subscriber"],
        json!({
            "id": created["subscriber"]["id"],
            "email": "alice@example.org",
            "display_name": "Alice Lind",
        }),
        "PUT replaces: first_name and country are gone"
    );
    assert_eq!(updated["display_name"], "Alice Lind");
    let read = call_at(&fake, Operation::GetSubscriber, &id, None)
        .await
        .json();
    assert_eq!(read, updated);

    // Keyed by email: the old email names nobody now, the new one names alice.
    assert_eq!(fake.subscriber("alice@example.com"), None);
    assert_eq!(
        fake.subscriber_id("alice@example.org")
            .map(|id| id.to_string()),
        updated["subscriber"]["id"].as_str().map(str::to_owned)
    );

    // Another subscriber's email, and a broken body, are refused and change nothing.
    fake.create_subscriber("bob@example.com");
    let taken = call_at(
        &fake,
        Operation::UpdateSubscriber,
        &id,
        Some(json!({"email": "bob@example.com"})),
    )
    .await;
    assert_eq!(taken.code(), "invalid_parameter");
    assert_eq!(taken.attribute().as_deref(), Some("email"));
    let broken = call_at(
        &fake,
        Operation::UpdateSubscriber,
        &id,
        Some(json!({"display_name": "no email"})),
    )
    .await;
    assert_eq!(broken.code(), "missing_required_parameter");
    let same = call_at(
        &fake,
        Operation::UpdateSubscriber,
        &id,
        Some(json!({"email": "alice@example.org", "password": "1234567"})),
    )
    .await;
    assert_eq!(same.attribute().as_deref(), Some("password"));
    let read = call_at(&fake, Operation::GetSubscriber, &id, None)
        .await
        .json();
    assert_eq!(read, updated);
}

#[tokio::test]
async fn delete_answers_204_without_a_body_and_the_subscriber_is_gone_with_its_tokens() {
    let fake = FakeSpace::start().await;
    let pair = fake.create_subscriber_token("alice@example.com");
    let alice = fake
        .subscriber("alice@example.com")
        .expect("made by the token");
    let id = alice.resource_id.to_string();

    let answer = call_at(&fake, Operation::DeleteSubscriber, &id, None).await;
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty(), "{}", answer.text());
    assert_eq!(answer.content_type, None);

    for operation in [
        Operation::GetSubscriber,
        Operation::DeleteSubscriber,
        Operation::ListSubscriberAddresses,
    ] {
        assert_eq!(
            call_at(&fake, operation, &id, None).await.status,
            404,
            "{operation:?}"
        );
    }
    assert!(fake.subscribers().is_empty());
    assert_eq!(
        refresh(&fake, &pair.refresh_token).await.code(),
        "token_invalid",
        "a deleted subscriber's refresh token is dead"
    );

    // The reference names a new subscriber now, with new ids and a new address.
    let again = create(&fake, "alice@example.com").await.json();
    let new_alice = fake.subscriber("alice@example.com").expect("re-created");
    assert_eq!(again["subscriber_id"], new_alice.subscriber_id.to_string());
    assert_ne!(new_alice.subscriber_id, alice.subscriber_id);
    assert_ne!(new_alice.resource_id, alice.resource_id);
    assert_ne!(new_alice.address_ids, alice.address_ids);
}

#[tokio::test]
async fn a_subscriber_made_by_a_token_request_is_a_resource_keyed_by_its_reference() {
    let fake = FakeSpace::start().await;
    let created = call(
        &fake,
        Operation::Create,
        json!({
            "reference": "alice@example.com",
            "first_name": "Alice",
            "display_name": "Alice L.",
            "time_zone": "Europe/Stockholm",
        }),
    )
    .await
    .json();
    let alice = fake.subscriber("alice@example.com").expect("one store");
    let resource = call_at(
        &fake,
        Operation::GetSubscriber,
        &alice.resource_id.to_string(),
        None,
    )
    .await
    .json();
    assert_eq!(resource["subscriber"]["id"], created["subscriber_id"]);
    assert_eq!(resource["subscriber"]["email"], "alice@example.com");
    assert_eq!(resource["subscriber"]["first_name"], "Alice");
    assert_eq!(resource["subscriber"]["timezone"], "Europe/Stockholm");
    assert_eq!(resource["display_name"], "Alice L.");

    // Creating the resource by the same email is a conflict; a token for an email
    // created as a resource names that resource's subscriber.
    let conflict = call(
        &fake,
        Operation::CreateSubscriber,
        json!({"email": "alice@example.com"}),
    )
    .await;
    assert_eq!(conflict.code(), "invalid_parameter");
    let bob = call(
        &fake,
        Operation::CreateSubscriber,
        json!({"email": "bob@example.com"}),
    )
    .await
    .json();
    let token = create(&fake, "bob@example.com").await.json();
    assert_eq!(token["subscriber_id"], bob["subscriber"]["id"]);
    assert_eq!(fake.subscribers().len(), 2);
}

#[tokio::test]
async fn every_subscriber_starts_with_one_address_named_after_its_email() {
    let fake = FakeSpace::start().await;
    let resource = call(
        &fake,
        Operation::CreateSubscriber,
        json!({"email": "Alice.Lind@example.com", "display_name": "Alice L."}),
    )
    .await
    .json();
    let id = resource["id"].as_str().expect("an id");
    let answer = call_at(&fake, Operation::ListSubscriberAddresses, id, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let page: SubscriberAddressPage = serde_json::from_slice(&answer.body).expect("the shape");
    assert_eq!(page.data.len(), 1);
    let body = answer.json();
    let address = &body["data"][0];
    let stored = fake.subscriber("Alice.Lind@example.com").expect("stored");
    assert_eq!(address["id"], stored.address_ids[0].to_string());
    assert_eq!(address["name"], "alice.lind");
    assert_eq!(address["display_name"], "Alice L.");
    assert_eq!(address["locked"], false);
    assert_eq!(address["type"], "subscriber");
    assert_eq!(
        address["channels"],
        json!({
            "audio": "/private/alice.lind?channel=audio",
            "messaging": "/private/alice.lind?channel=messaging",
            "video": "/private/alice.lind?channel=video",
        })
    );
    assert_eq!(address["created_at"], resource["created_at"]);
    assert!(body["links"].get("next").is_none());
    assert_eq!(
        body["links"]["self"],
        format!(
            "{}{SUBSCRIBERS}/{id}/addresses?page_number=0&page_size=50",
            fake.base_url()
        )
    );

    // Another subscriber with the same local part gets a name of its own.
    fake.create_subscriber("alice.lind@example.org");
    let other = fake
        .subscriber("alice.lind@example.org")
        .expect("created")
        .resource_id
        .to_string();
    let body = call_at(&fake, Operation::ListSubscriberAddresses, &other, None)
        .await
        .json();
    assert_eq!(body["data"][0]["name"], "alice.lind-2");
}

#[tokio::test]
async fn a_list_of_no_subscribers_is_one_empty_page() {
    let fake = FakeSpace::start().await;
    let answer = get(&fake, SUBSCRIBERS).await;
    assert_eq!(answer.status, 200);
    let first = format!(
        "{}{SUBSCRIBERS}?page_number=0&page_size=50",
        fake.base_url()
    );
    assert_eq!(
        answer.json(),
        json!({"data": [], "links": {"self": first, "first": first}})
    );
    // A GET with a body, or a body that is no JSON, is still just a list.
    let answer = send(&fake, "GET", SUBSCRIBERS, Auth::Fake, "not json").await;
    assert_eq!(answer.status, 200);
}
