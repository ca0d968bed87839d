//! Lists, page by page: links on the address the client used, stable creation order, and
//! page tokens the fake hands out and checks.

use std::time::Duration;

use serde_json::{Value, json};
use signalwire_fabric_fake::{FakeSpace, Operation, PAGE_TOKEN_LIFETIME};

use crate::common::{Answer, call, call_at, get};

const SUBSCRIBERS: &str = "/api/fabric/resources/subscribers";

async fn fake_with_page_size(page_size: usize) -> FakeSpace {
    FakeSpace::builder()
        .page_size(page_size)
        .start()
        .await
        .expect("a random loopback port")
}

fn emails(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|item| {
            item["subscriber"]["email"]
                .as_str()
                .expect("an email")
                .to_owned()
        })
        .collect()
}

fn link(page: &Value, name: &str) -> Option<String> {
    page["links"][name].as_str().map(str::to_owned)
}

/// The query parameters of a link, in order.
fn query_of(link: &str) -> Vec<(String, String)> {
    let (_, query) = link.split_once('?').expect("a query");
    query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("key=value");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn ok(answer: Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

#[tokio::test]
async fn five_subscribers_come_in_three_pages_of_two_in_creation_order() {
    let fake = fake_with_page_size(2).await;
    let created: Vec<String> = ["eve", "bob", "alice", "dave", "carol"]
        .iter()
        .map(|name| format!("{name}@example.com"))
        .collect();
    for email in &created {
        assert_eq!(
            call(&fake, Operation::CreateSubscriber, json!({"email": email}))
                .await
                .status,
            201
        );
    }
    let base = format!("{}{SUBSCRIBERS}", fake.base_url());
    let first_link = format!("{base}?page_number=0&page_size=2");

    let first = ok(get(&fake, SUBSCRIBERS).await);
    assert_eq!(emails(&first), created[..2]);
    assert_eq!(link(&first, "self").as_deref(), Some(first_link.as_str()));
    assert_eq!(link(&first, "first").as_deref(), Some(first_link.as_str()));
    assert_eq!(link(&first, "prev"), None);
    let next = link(&first, "next").expect("more remain");
    assert!(next.starts_with(&base), "{next}");
    let query = query_of(&next);
    let keys: Vec<&str> = query.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["page_number", "page_size", "page_token"]);
    assert_eq!((query[0].1.as_str(), query[1].1.as_str()), ("1", "2"));
    let token = &query[2].1;
    assert!(
        token.starts_with("PA") && token.len() == 26,
        "an opaque token: {token}"
    );

    let second = ok(get(&fake, &next).await);
    assert_eq!(emails(&second), created[2..4]);
    assert_eq!(link(&second, "self").as_deref(), Some(next.as_str()));
    assert_eq!(link(&second, "prev").as_deref(), Some(first_link.as_str()));
    let last_link = link(&second, "next").expect("one more page");

    let last = ok(get(&fake, &last_link).await);
    assert_eq!(emails(&last), created[4..]);
    assert_eq!(link(&last, "next"), None, "no next on the last page");
    assert_eq!(link(&last, "prev").as_deref(), Some(next.as_str()));

    // Following a link again gives the same page: a token is not spent by use.
    assert_eq!(emails(&ok(get(&fake, &next).await)), created[2..4]);
    // The journal keeps the query each page was asked with.
    let journal = fake.journal();
    let queries: Vec<Option<&str>> = journal
        .iter()
        .filter(|entry| entry.operation == Some(Operation::ListSubscribers))
        .map(|entry| entry.query.as_deref())
        .collect();
    assert_eq!(queries[0], None);
    assert_eq!(queries[1], next.split_once('?').map(|(_, query)| query));
}

#[tokio::test]
async fn a_page_boundary_survives_creations_and_deletions_between_pages() {
    let fake = fake_with_page_size(2).await;
    for name in ["a", "b", "c", "d"] {
        fake.create_subscriber(&format!("{name}@example.com"));
    }
    let first = ok(get(&fake, SUBSCRIBERS).await);
    assert_eq!(emails(&first), ["a@example.com", "b@example.com"]);
    // While the client reads page one: b is deleted, e is created.
    let b = fake.subscriber("b@example.com").expect("b");
    assert_eq!(
        call_at(
            &fake,
            Operation::DeleteSubscriber,
            &b.resource_id.to_string(),
            None
        )
        .await
        .status,
        204
    );
    fake.create_subscriber("e@example.com");
    let next = link(&first, "next").expect("more");
    let second = ok(get(&fake, &next).await);
    assert_eq!(
        emails(&second),
        ["c@example.com", "d@example.com"],
        "nothing repeated, nothing skipped"
    );
    let third = ok(get(&fake, &link(&second, "next").expect("e is new")).await);
    assert_eq!(emails(&third), ["e@example.com"]);
}

#[tokio::test]
async fn forged_stale_and_mismatched_page_tokens_are_404() {
    let fake = fake_with_page_size(1).await;
    fake.create_subscriber("alice@example.com");
    fake.create_subscriber("bob@example.com");
    fake.add_address("alice@example.com", "room");
    let alice = fake.subscriber("alice@example.com").expect("alice");
    let bob = fake.subscriber("bob@example.com").expect("bob");
    let addresses_of =
        |id: uuid::Uuid| Operation::ListSubscriberAddresses.path_for(&id.to_string());

    let first = ok(get(&fake, SUBSCRIBERS).await);
    let next = link(&first, "next").expect("two subscribers, one per page");
    let token = query_of(&next)[2].1.clone();
    let alice_addresses = ok(get(&fake, &addresses_of(alice.resource_id)).await);
    let address_next = link(&alice_addresses, "next").expect("two addresses");

    let not_found = [
        format!("{SUBSCRIBERS}?page_number=1&page_size=1&page_token=PA0f3c9a1e2b"),
        format!("{SUBSCRIBERS}?page_token={token}x"),
        format!("{SUBSCRIBERS}?page_number=1&page_size=1"),
        format!("{SUBSCRIBERS}?page_number=2&page_size=1&page_token={token}"),
        format!("{SUBSCRIBERS}?page_number=1&page_size=5&page_token={token}"),
        format!("{SUBSCRIBERS}?page_size=0"),
        format!("{SUBSCRIBERS}?page_size=1001"),
        format!("{SUBSCRIBERS}?page_size=two"),
        format!("{SUBSCRIBERS}?page_number=-1"),
        format!("{SUBSCRIBERS}?page_number=0&page_number=0"),
        // A token for alice's addresses is no token for the subscribers, nor for bob's.
        format!(
            "{SUBSCRIBERS}?{}",
            address_next
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
        ),
        format!(
            "{}?{}",
            addresses_of(bob.resource_id),
            address_next
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
        ),
    ];
    for path in &not_found {
        let answer = get(&fake, path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.json(), json!({"error": "Not Found"}), "{path}");
    }

    // The real links still work, and the number and size may be left out.
    assert_eq!(emails(&ok(get(&fake, &next).await)), ["bob@example.com"]);
    let bare = format!("{SUBSCRIBERS}?page_token={token}");
    assert_eq!(emails(&ok(get(&fake, &bare).await)), ["bob@example.com"]);
    // Unknown parameters are ignored; a page size may be asked for on the first page.
    let wide = ok(get(&fake, &format!("{SUBSCRIBERS}?page_size=10&sort=name")).await);
    assert_eq!(emails(&wide).len(), 2);
    assert_eq!(link(&wide, "next"), None);

    // Past its lifetime on the fake's clock, a token is stale.
    fake.clock()
        .advance(PAGE_TOKEN_LIFETIME + Duration::from_secs(1));
    assert_eq!(get(&fake, &next).await.status, 404);
    assert_eq!(get(&fake, &address_next).await.status, 404);
}

#[tokio::test]
async fn a_subscribers_addresses_are_paged_like_the_subscribers() {
    let fake = fake_with_page_size(2).await;
    let alice = fake.create_subscriber("alice@example.com");
    let mut expected = alice.address_ids.clone();
    for room in ["Room 1", "Room 2", "Room 3", "Room 4"] {
        expected.push(fake.add_address("alice@example.com", room).expect("alice"));
    }
    let path = Operation::ListSubscriberAddresses.path_for(&alice.resource_id.to_string());
    let mut seen = Vec::new();
    let mut names = Vec::new();
    let mut next = Some(path);
    let mut pages = 0;
    while let Some(url) = next {
        let page = ok(get(&fake, &url).await);
        for address in page["data"].as_array().expect("data") {
            seen.push(address["id"].as_str().expect("an id").to_owned());
            names.push(address["name"].as_str().expect("a name").to_owned());
        }
        next = link(&page, "next");
        pages += 1;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
    assert_eq!(seen, expected);
    assert_eq!(names, ["alice", "room-1", "room-2", "room-3", "room-4"]);
}

#[tokio::test]
async fn the_default_page_size_is_50() {
    let fake = FakeSpace::start().await;
    assert_eq!(fake.page_size(), signalwire_fabric_fake::DEFAULT_PAGE_SIZE);
    assert_eq!(fake.page_size(), 50);
    for n in 0..51 {
        fake.create_subscriber(&format!("s{n}@example.com"));
    }
    let first = ok(get(&fake, SUBSCRIBERS).await);
    assert_eq!(emails(&first).len(), 50);
    let second = ok(get(&fake, &link(&first, "next").expect("one more")).await);
    assert_eq!(emails(&second), ["s50@example.com"]);
}

#[tokio::test]
async fn a_page_size_the_fake_cannot_serve_is_refused_at_start() {
    for page_size in [0, signalwire_fabric_fake::MAX_PAGE_SIZE + 1] {
        let error = FakeSpace::builder()
            .page_size(page_size)
            .start()
            .await
            .expect_err("refused");
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::InvalidInput,
            "{page_size}"
        );
    }
}

/// A GET of the first page of subscribers with this `Host` header (`None`: whatever
/// reqwest sends, the fake's own address).
async fn first_page_with_host(fake: &FakeSpace, host: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .get(format!("{}{SUBSCRIBERS}", fake.base_url()))
        .basic_auth(fake.project_id(), Some(fake.api_token()));
    if let Some(host) = host {
        request = request.header(reqwest::header::HOST, host);
    }
    let response = request.send().await.expect("the fake answers");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a page")
}

#[tokio::test]
async fn links_name_the_address_the_request_was_sent_to() {
    let fake = fake_with_page_size(1).await;
    fake.create_subscriber("ann@example.com");
    fake.create_subscriber("ben@example.com");
    let port = fake.address().port();

    let own = first_page_with_host(&fake, None).await;
    let next = link(&own, "next").expect("a second page");
    assert!(
        next.starts_with(&format!("http://127.0.0.1:{port}{SUBSCRIBERS}?")),
        "{next}"
    );

    for host in [
        format!("localhost:{port}"),
        "proxy.example.test:8443".to_owned(),
        "[::1]:9000".to_owned(),
    ] {
        let page = first_page_with_host(&fake, Some(&host)).await;
        for name in ["self", "first", "next"] {
            let url = link(&page, name).unwrap_or_else(|| panic!("{host}: {name}"));
            assert!(
                url.starts_with(&format!("http://{host}{SUBSCRIBERS}?")),
                "{host}: {name} is {url}"
            );
        }
    }

    // A Host that is no plain host[:port] is not used: the links stay on the fake.
    for host in ["user@evil.example", "a b", "evil.example/path", ""] {
        let page = first_page_with_host(&fake, Some(host)).await;
        let next = link(&page, "next").expect("a second page");
        assert!(
            next.starts_with(&format!("http://127.0.0.1:{port}{SUBSCRIBERS}?")),
            "{host:?}: {next}"
        );
    }

    // The link the Host named reads the second page on the fake itself.
    let page = first_page_with_host(&fake, Some(&format!("localhost:{port}"))).await;
    let next = link(&page, "next").expect("a second page");
    let second = ok(get(&fake, &next.replacen("localhost", "127.0.0.1", 1)).await);
    assert_eq!(emails(&second), ["ben@example.com"]);
}

#[tokio::test]
async fn a_public_url_starts_every_link_whatever_the_host_says() {
    let fake = FakeSpace::builder()
        .page_size(1)
        .public_url("https://fake.example.test:8443/")
        .start()
        .await
        .expect("a random loopback port");
    assert_eq!(fake.public_url(), Some("https://fake.example.test:8443"));
    let alice = fake.create_subscriber("alice@example.com");
    fake.create_subscriber("bob@example.com");
    fake.add_address("alice@example.com", "room")
        .expect("alice");
    for host in [None, Some("localhost:1")] {
        let page = first_page_with_host(&fake, host).await;
        for name in ["self", "first", "next"] {
            let url = link(&page, name).unwrap_or_else(|| panic!("{host:?}: {name}"));
            assert!(
                url.starts_with(&format!("https://fake.example.test:8443{SUBSCRIBERS}?")),
                "{host:?}: {name} is {url}"
            );
        }
    }
    let addresses = ok(get(
        &fake,
        &format!("{SUBSCRIBERS}/{}/addresses", alice.resource_id),
    )
    .await);
    let next = link(&addresses, "next").expect("a second page of addresses");
    assert!(
        next.starts_with(&format!(
            "https://fake.example.test:8443{SUBSCRIBERS}/{}/addresses?",
            alice.resource_id
        )),
        "{next}"
    );
}

#[tokio::test]
async fn a_public_url_that_cannot_start_links_is_refused_at_start() {
    for bad in [
        "fake.example.test",
        "ftp://fake.example.test",
        "http://user:pw@fake.example.test",
        "http://fake.example.test/prefix",
        "http://fake.example.test/?q=1",
        "http://fake.example.test/#top",
        "http://",
    ] {
        let error = FakeSpace::builder()
            .public_url(bad)
            .start()
            .await
            .expect_err("refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
        assert!(error.to_string().contains("public_url"), "{error}");
    }
    let default_port = FakeSpace::builder()
        .public_url("HTTP://Fake.Example.Test:80")
        .start()
        .await
        .expect("valid");
    assert_eq!(default_port.public_url(), Some("http://fake.example.test"));
}
