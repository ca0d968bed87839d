//! The facade's subscriber resources against the fake: create, get, update, delete, the
//! paged list and a subscriber's addresses.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use signalwire_fabric::{Error, ErrorCode, Subscriber, SubscriberAddress, SubscriberFields};
use signalwire_fabric_fake::{FakeSpace, Operation};

async fn fake_with_page_size(page_size: usize) -> FakeSpace {
    FakeSpace::builder()
        .page_size(page_size)
        .start()
        .await
        .expect("a random loopback port")
}

#[tokio::test]
async fn create_get_update_and_delete_through_the_facade() {
    let fake = FakeSpace::start().await;
    let client = fake.client();
    let subscribers = client.subscribers();

    let created = subscribers
        .create(
            SubscriberFields::new("alice@example.com")
                .password("correct-horse-battery")
                .first_name("Alice")
                .last_name("Lind")
                .timezone("Europe/Stockholm"),
        )
        .await
        .expect("created");
    let stored = fake.subscriber("alice@example.com").expect("in the store");
    assert_eq!(created.id.as_str(), stored.resource_id.to_string());
    assert_eq!(
        created
            .subscriber_id
            .as_ref()
            .map(|id| id.as_str().to_owned()),
        Some(stored.subscriber_id.to_string())
    );
    assert_eq!(
        created.project_id.as_ref().map(|id| id.as_str()),
        Some(fake.project_id())
    );
    assert_eq!(created.email.as_deref(), Some("alice@example.com"));
    assert_eq!(created.display_name.as_deref(), Some("Alice Lind"));
    assert_eq!(created.timezone.as_deref(), Some("Europe/Stockholm"));
    assert!(created.created_at.is_some() && created.created_at == created.updated_at);
    assert_eq!(fake.answered_count(Operation::CreateSubscriber, 201), 1);

    let read = subscribers.get(&created.id).await.expect("read");
    assert_eq!(read, created);

    fake.clock().advance(Duration::from_secs(90));
    let updated = subscribers
        .update(
            &created.id,
            SubscriberFields::new("alice@example.org").display_name("Alice L."),
        )
        .await
        .expect("updated");
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.subscriber_id, created.subscriber_id);
    assert_eq!(updated.email.as_deref(), Some("alice@example.org"));
    assert_eq!(updated.display_name.as_deref(), Some("Alice L."));
    assert_eq!(updated.first_name, None, "PUT replaced the details");
    assert_eq!(updated.created_at, created.created_at);
    let moved = updated
        .updated_at
        .zip(created.updated_at)
        .and_then(|(after, before)| after.duration_since(before).ok());
    assert!(
        moved.is_some_and(|moved| moved >= Duration::from_secs(89)),
        "{moved:?}"
    );

    subscribers.delete(&created.id).await.expect("deleted");
    assert_eq!(fake.answered_count(Operation::DeleteSubscriber, 204), 1);
    match subscribers.get(&created.id).await {
        Err(Error::NotFound { message, .. }) => assert_eq!(message.as_deref(), Some("Not Found")),
        other => panic!("{other:?}"),
    }
    let again = subscribers.delete(&created.id).await;
    assert!(matches!(again, Err(Error::NotFound { .. })), "{again:?}");
}

#[tokio::test]
async fn the_fakes_422_for_a_taken_email_reaches_the_caller_typed() {
    let fake = FakeSpace::start().await;
    fake.create_subscriber("alice@example.com");
    let error = fake
        .client()
        .subscribers()
        .create(SubscriberFields::new("alice@example.com"))
        .await
        .expect_err("taken");
    assert_eq!(error.field_errors().len(), 1, "{error:?}");
    assert_eq!(error.field_errors()[0].code, ErrorCode::InvalidParameter);
    assert_eq!(error.field_errors()[0].attribute.as_deref(), Some("email"));
    assert_eq!(fake.answered_count(Operation::CreateSubscriber, 422), 1);
}

#[tokio::test]
async fn the_facade_lists_five_subscribers_through_three_pages_of_two() {
    let fake = fake_with_page_size(2).await;
    let client = fake.client();
    let mut expected = Vec::new();
    for name in ["eve", "bob", "alice", "dave", "carol"] {
        let created = client
            .subscribers()
            .create(SubscriberFields::new(format!("{name}@example.com")))
            .await
            .expect("created");
        expected.push(created.id);
    }
    let listed: Vec<Subscriber> = client
        .subscribers()
        .list()
        .try_collect()
        .await
        .expect("every page");
    let ids: Vec<_> = listed.into_iter().map(|subscriber| subscriber.id).collect();
    assert_eq!(ids, expected, "all five, in creation order");

    let pages: Vec<Option<String>> = fake
        .journal()
        .into_iter()
        .filter(|entry| entry.operation == Some(Operation::ListSubscribers))
        .map(|entry| {
            assert_eq!(entry.status, 200);
            entry.query
        })
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(
        pages[0], None,
        "the first page is asked for without a query"
    );
    for (number, query) in pages.iter().enumerate().skip(1) {
        let query = query.as_deref().unwrap_or_default();
        assert!(
            query.starts_with(&format!("page_number={number}&page_size=2&page_token=PA")),
            "the link was followed as given: {query}"
        );
    }
}

#[tokio::test]
async fn an_empty_list_and_a_list_of_exactly_one_page() {
    let fake = fake_with_page_size(2).await;
    let client = fake.client();
    let none: Vec<Subscriber> = client
        .subscribers()
        .list()
        .try_collect()
        .await
        .expect("empty");
    assert!(none.is_empty());
    fake.create_subscriber("a@example.com");
    fake.create_subscriber("b@example.com");
    let two: Vec<Subscriber> = client
        .subscribers()
        .list()
        .try_collect()
        .await
        .expect("two");
    assert_eq!(two.len(), 2);
    assert_eq!(fake.request_count(Operation::ListSubscribers), 2);
}

#[tokio::test]
async fn the_facade_lists_a_subscribers_addresses_page_by_page() {
    let fake = fake_with_page_size(2).await;
    let alice = fake.create_subscriber("alice@example.com");
    let mut expected = alice.address_ids.clone();
    for room in ["Room 1", "Room 2"] {
        expected.push(fake.add_address("alice@example.com", room).expect("alice"));
    }
    let addresses: Vec<SubscriberAddress> = fake
        .client()
        .subscribers()
        .addresses(&alice.resource_id.to_string())
        .try_collect()
        .await
        .expect("every page");
    let ids: Vec<String> = addresses
        .iter()
        .map(|address| address.id.to_string())
        .collect();
    let expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
    assert_eq!(ids, expected);
    let first = &addresses[0];
    assert_eq!(first.name.as_deref(), Some("alice"));
    assert_eq!(first.locked, Some(false));
    assert_eq!(
        first.channels.video.as_deref(),
        Some("/private/alice?channel=video")
    );
    assert!(first.created_at.is_some());
    assert_eq!(fake.request_count(Operation::ListSubscriberAddresses), 2);

    let error = fake
        .client()
        .subscribers()
        .addresses(&alice.subscriber_id.to_string())
        .try_collect::<Vec<_>>()
        .await
        .expect_err("a subscriber id is no resource id");
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

#[tokio::test]
async fn a_stale_page_link_ends_the_listing_with_not_found() {
    let fake = fake_with_page_size(1).await;
    fake.create_subscriber("a@example.com");
    fake.create_subscriber("b@example.com");
    let client = fake.client();
    let mut stream = std::pin::pin!(client.subscribers().list());
    let first = stream.try_next().await.expect("the first page");
    assert_eq!(
        first.and_then(|s| s.email).as_deref(),
        Some("a@example.com")
    );
    fake.clock()
        .advance(signalwire_fabric_fake::PAGE_TOKEN_LIFETIME + Duration::from_secs(1));
    let error = stream.try_next().await.expect_err("the token went stale");
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

#[tokio::test]
async fn the_facade_pages_fully_through_localhost_as_through_127_0_0_1() {
    // The client follows next links only on its own scheme, host and port; the fake
    // builds them from the address it was reached at, so either spelling pages fully.
    let fake = fake_with_page_size(2).await;
    for n in 0..5 {
        fake.create_subscriber(&format!("s{n}@example.com"));
    }
    for name in ["a", "b", "c", "d"] {
        fake.add_address("s0@example.com", name)
            .expect("s0 was just created");
    }
    let id = fake.subscribers()[0].resource_id.to_string();
    let port = fake.address().port();
    for base_url in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
    ] {
        fake.clear_journal();
        let client = fake
            .client_builder()
            .base_url(&base_url)
            .build()
            .expect("a loopback base URL");
        let listed: Vec<Subscriber> = client
            .subscribers()
            .list()
            .try_collect()
            .await
            .unwrap_or_else(|error| panic!("{base_url}: {error}"));
        assert_eq!(listed.len(), 5, "{base_url}: every page");
        assert_eq!(
            fake.request_count(Operation::ListSubscribers),
            3,
            "{base_url}"
        );

        let addresses: Vec<SubscriberAddress> = client
            .subscribers()
            .addresses(&id)
            .try_collect()
            .await
            .unwrap_or_else(|error| panic!("{base_url}: {error}"));
        assert_eq!(addresses.len(), 5, "{base_url}: every page of addresses");
    }
}
