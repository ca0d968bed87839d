//! Listings on the client side: every operation whose documented success is a page is
//! read through the facade's stream across several pages served by a mock server.
//!
//! - `links.next` is followed exactly as given, absolute or relative, with the project's
//!   credentials, and the listing ends at the first page without one;
//! - a next link to another host (or port), to another scheme, or back to a page already
//!   read is refused: the stream yields the items of every page read, then one
//!   `Error::UnsafeLink`, then ends, and the other host receives nothing;
//! - an error on a later page comes after the items of the pages before it.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use signalwire_fabric::{Client, Error};
use signalwire_fabric_contract_tests::cases::{Expected, RESPONSE_CASES};
use signalwire_fabric_contract_tests::{fixtures, spec};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    QueryIs, assert_text_snapshot, client_for, describe_error, json_response, path_and_query,
};

/// How long a listing may take before the test calls it a loop (real time).
const PATIENCE: Duration = Duration::from_secs(30);

/// The most items read from a listing; far more than any test serves.
const MAX_ITEMS: usize = 200;

/// Every snapshot this module writes, for `coverage`'s orphan check.
pub fn snapshot_names() -> Vec<String> {
    listings()
        .into_iter()
        .map(|listing| format!("paging__unsafe_links__{}", listing.operation))
        .collect()
}

/// One listing operation of the spec.
#[derive(Debug, Clone)]
struct Listing {
    operation: String,
    /// Where its first page is read, with the suite's path parameters.
    first_path: String,
}

/// Every operation whose registered success is a page.
fn listings() -> Vec<Listing> {
    let spec = spec();
    let listings: Vec<Listing> = RESPONSE_CASES
        .iter()
        .filter(|case| case.expected == Expected::Page)
        .map(|case| Listing {
            operation: case.operation.to_owned(),
            first_path: fixtures::request_path(
                &spec
                    .operation(case.operation)
                    .unwrap_or_else(|| panic!("{} is not in the spec", case.operation))
                    .path,
            ),
        })
        .collect();
    assert!(!listings.is_empty(), "no operation answers with a page");
    listings
}

/// The id of the suite's `n`th listed item (a UUID, as addresses need).
fn item_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// One page: items `ids`, and `next` as its `links.next` when there is one.
fn page(ids: &[usize], links: Value) -> Value {
    json!({
        "data": ids.iter().map(|n| json!({"id": item_id(*n)})).collect::<Vec<_>>(),
        "links": links,
    })
}

fn with_next(next: &str) -> Value {
    json!({"next": next})
}

/// What a listing yielded: the id of each item, or the error it ended with.
type Yielded = Vec<Result<String, Error>>;

impl Listing {
    /// Reads the whole listing through the facade.
    async fn read(&self, client: &Client) -> Yielded {
        let id = fixtures::path_parameter("id");
        let subscribers = client.subscribers();
        let read = async {
            match self.operation.as_str() {
                "list_subscribers" => {
                    subscribers
                        .list()
                        .take(MAX_ITEMS)
                        .map(|item| item.map(|subscriber| subscriber.id.into()))
                        .collect::<Yielded>()
                        .await
                }
                "list_subscriber_addresses" => {
                    subscribers
                        .addresses(id)
                        .take(MAX_ITEMS)
                        .map(|item| item.map(|address| address.id.into()))
                        .collect::<Yielded>()
                        .await
                }
                other => panic!("the paging tests cannot read `{other}`: add an arm"),
            }
        };
        tokio::time::timeout(PATIENCE, read)
            .await
            .unwrap_or_else(|_| panic!("{}: the listing did not end", self.operation))
    }

    /// Serves `body` for the page at `path` with exactly `query`.
    async fn page_at(&self, server: &MockServer, path_: &str, query: Option<&str>, body: Value) {
        Mock::given(method("GET"))
            .and(path(path_))
            .and(QueryIs(query.map(str::to_owned)))
            .respond_with(json_response(200, &body))
            .mount(server)
            .await;
    }

    /// Serves `body` as the first page.
    async fn first_page(&self, server: &MockServer, body: Value) {
        self.page_at(server, &self.first_path, None, body).await;
    }
}

/// A server with nothing mounted but a 599 for anything unexpected.
async fn fresh_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// The path and query of every request `server` received, in order.
async fn requested(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("wiremock records requests by default")
        .iter()
        .map(|request| path_and_query(&request.url))
        .collect()
}

/// The ids of items `ns`, each yielded as `Ok`.
fn ids(ns: impl IntoIterator<Item = usize>) -> Vec<String> {
    ns.into_iter().map(item_id).collect()
}

/// Splits what a listing yielded into its items and its final error, checking that the
/// error (if any) is the last thing yielded.
fn split(label: &str, yielded: Yielded) -> (Vec<String>, Option<Error>) {
    let mut items = Vec::new();
    let mut error = None;
    for item in yielded {
        assert!(
            error.is_none(),
            "{label}: the listing yielded something after its error"
        );
        match item {
            Ok(id) => items.push(id),
            Err(failure) => error = Some(failure),
        }
    }
    (items, error)
}

#[tokio::test]
async fn next_links_are_followed_exactly_as_given_absolute_or_relative_until_there_is_none() {
    for listing in listings() {
        let label = &listing.operation;
        let server = fresh_server().await;
        let first = &listing.first_path;
        // Unusual but valid query texts: the link must be sent as given, not rebuilt.
        let second_query = "page_number=1&page_size=2&page_token=PA%2F1~x";
        let third_query = "page_token=PA2&page_number=2";
        let fourth_query = "page_number=3&page_token=PA3";
        listing
            .first_page(
                &server,
                page(
                    &[1, 2],
                    with_next(&format!("{}{first}?{second_query}", server.uri())),
                ),
            )
            .await;
        listing
            .page_at(
                &server,
                first,
                Some(second_query),
                page(&[3, 4], with_next(&format!("{first}?{third_query}"))),
            )
            .await;
        listing
            .page_at(
                &server,
                first,
                Some(third_query),
                page(&[5], with_next(&format!("?{fourth_query}"))),
            )
            .await;
        listing
            .page_at(
                &server,
                first,
                Some(fourth_query),
                page(
                    &[6, 7],
                    json!({"self": format!("{first}?{fourth_query}"), "first": first}),
                ),
            )
            .await;

        let yielded = listing.read(&client_for(&server)).await;
        let (items, error) = split(label, yielded);
        assert!(error.is_none(), "{label}: {error:?}");
        assert_eq!(
            items,
            ids(1..=7),
            "{label}: every item of every page, in order"
        );
        assert_eq!(
            requested(&server).await,
            vec![
                first.clone(),
                format!("{first}?{second_query}"),
                format!("{first}?{third_query}"),
                format!("{first}?{fourth_query}"),
            ],
            "{label}: each next link, as given, once; nothing after the last page"
        );
        let authorization = fixtures::basic_authorization();
        for request in server
            .received_requests()
            .await
            .expect("wiremock records requests by default")
        {
            assert!(
                request
                    .headers
                    .get("authorization")
                    .and_then(|value| value.to_str().ok())
                    == Some(authorization.as_str()),
                "{label}: {} was not sent with the project's Basic credentials",
                request.url.path()
            );
        }
    }
}

#[tokio::test]
async fn a_page_without_a_next_link_ends_the_listing() {
    for listing in listings() {
        for (what, links) in [
            ("no links at all", json!({})),
            (
                "self and first only",
                json!({"self": listing.first_path, "first": listing.first_path}),
            ),
            ("a null next", json!({"next": null})),
        ] {
            let label = format!("{} with {what}", listing.operation);
            let server = fresh_server().await;
            listing.first_page(&server, page(&[1, 2, 3], links)).await;
            let (items, error) = split(&label, listing.read(&client_for(&server)).await);
            assert!(error.is_none(), "{label}: {error:?}");
            assert_eq!(items, ids(1..=3), "{label}");
            assert_eq!(requested(&server).await.len(), 1, "{label}");
        }
    }
}

/// One page a cycle test serves: the query it is read at (`None`: the first page), its
/// items, and its next link.
type Served<'a> = (Option<&'a str>, Vec<usize>, String);

/// How a refused link is built from the two servers' addresses.
struct Refusal {
    what: &'static str,
    /// The next link, given the main server's URI and port and the other server's URI
    /// and port.
    link: fn(&Listing, &str, u16, &str, u16) -> String,
    reason: &'static str,
}

const ELSEWHERE: &[Refusal] = &[
    Refusal {
        what: "an absolute link to another server (another port)",
        link: |listing, _, _, other, _| format!("{other}{}?page_number=1", listing.first_path),
        reason: "points to another host",
    },
    Refusal {
        what: "a scheme-relative link to another server",
        link: |listing, _, _, _, other_port| {
            format!(
                "//127.0.0.1:{other_port}{}?page_number=1",
                listing.first_path
            )
        },
        reason: "points to another host",
    },
    Refusal {
        what: "the same port under another host name",
        link: |listing, _, port, _, _| {
            format!(
                "http://localhost:{port}{}?page_number=1",
                listing.first_path
            )
        },
        reason: "points to another host",
    },
    Refusal {
        what: "another scheme on the same host and port",
        link: |listing, _, port, _, _| {
            format!(
                "https://127.0.0.1:{port}{}?page_number=1",
                listing.first_path
            )
        },
        reason: "switches scheme",
    },
];

fn port_of(server: &MockServer) -> u16 {
    server.address().port()
}

/// `text` with both servers' addresses made stable for a snapshot.
fn stable(text: &str, server: &MockServer, other: &MockServer) -> String {
    text.replace(&other.uri(), "http://[other mock server]")
        .replace(&server.uri(), "http://[mock server]")
        .replace(
            &format!("127.0.0.1:{}", port_of(other)),
            "127.0.0.1:[other mock server port]",
        )
        .replace(&format!(":{}", port_of(server)), ":[mock server port]")
}

#[tokio::test]
async fn a_next_link_elsewhere_or_back_to_a_page_read_is_refused_after_the_items_read() {
    for listing in listings() {
        let mut report = String::new();
        let first = listing.first_path.clone();

        for refusal in ELSEWHERE {
            let label = format!("{}: {}", listing.operation, refusal.what);
            let server = fresh_server().await;
            let other = fresh_server().await;
            // The other server would answer a well-formed last page: only refusing the
            // link keeps it from being asked.
            Mock::given(any())
                .respond_with(json_response(200, &page(&[99], json!({}))))
                .mount(&other)
                .await;
            let link = (refusal.link)(
                &listing,
                &server.uri(),
                port_of(&server),
                &other.uri(),
                port_of(&other),
            );
            listing
                .first_page(&server, page(&[1, 2], with_next(&link)))
                .await;
            let (items, error) = split(&label, listing.read(&client_for(&server)).await);
            assert_eq!(items, ids(1..=2), "{label}: the first page's items arrive");
            assert_refused(&label, error.as_ref(), &link, refusal.reason);
            assert_eq!(
                requested(&server).await,
                vec![first.clone()],
                "{label}: only the first page is read"
            );
            assert!(
                requested(&other).await.is_empty(),
                "{label}: the other server was asked for a page"
            );
            if let Some(error) = &error {
                report.push_str(&format!(
                    "## {}\nlink: {}\n{}\n",
                    refusal.what,
                    stable(&link, &server, &other),
                    stable(&describe_error(error), &server, &other)
                ));
            }
        }

        // Back to a page already read: the first page itself, a page naming itself, and
        // a longer cycle. Every page up to the repeat is read once.
        let second = format!("{first}?page_token=PA2");
        let third = format!("{first}?page_token=PA3");
        let cycles: [(&str, Vec<Served<'_>>, usize); 3] = [
            (
                "the first page's own path",
                vec![(None, vec![1, 2], first.clone())],
                2,
            ),
            (
                "a second page naming itself",
                vec![
                    (None, vec![1, 2], second.clone()),
                    (Some("page_token=PA2"), vec![3], second.clone()),
                ],
                3,
            ),
            (
                "a third page naming the second",
                vec![
                    (None, vec![1], second.clone()),
                    (Some("page_token=PA2"), vec![2], third.clone()),
                    (Some("page_token=PA3"), vec![3], second.clone()),
                ],
                3,
            ),
        ];
        for (what, pages, count) in cycles {
            let label = format!("{}: {what}", listing.operation);
            let server = fresh_server().await;
            let mut expected_requests = Vec::new();
            let mut last_link = String::new();
            for (query, items, next) in &pages {
                listing
                    .page_at(&server, &first, *query, page(items, with_next(next)))
                    .await;
                expected_requests.push(match query {
                    Some(query) => format!("{first}?{query}"),
                    None => first.clone(),
                });
                last_link.clone_from(next);
            }
            let (items, error) = split(&label, listing.read(&client_for(&server)).await);
            assert_eq!(
                items,
                ids(1..=count),
                "{label}: every page read yields its items"
            );
            assert_refused(
                &label,
                error.as_ref(),
                &last_link,
                "repeats a page already read",
            );
            assert_eq!(
                requested(&server).await,
                expected_requests,
                "{label}: each page is read once"
            );
            if let Some(error) = &error {
                report.push_str(&format!(
                    "## back to a page already read: {what}\nlink: {last_link}\n{}\n",
                    stable(&describe_error(error), &server, &server)
                ));
            }
        }
        assert_text_snapshot(
            &format!("paging__unsafe_links__{}", listing.operation),
            &report,
        );
    }
}

fn assert_refused(label: &str, error: Option<&Error>, link: &str, reason: &str) {
    match error {
        Some(Error::UnsafeLink {
            link: got_link,
            reason: got_reason,
            ..
        }) => {
            assert_eq!(
                got_link, link,
                "{label}: the link is named as the server gave it"
            );
            assert_eq!(*got_reason, reason, "{label}");
        }
        other => panic!("{label}: expected Error::UnsafeLink ({reason}), got {other:?}"),
    }
    let error = error.expect("matched above");
    assert!(!error.is_retryable(), "{label}: retrying cannot help");
    assert_eq!(error.status(), None, "{label}");
}

#[tokio::test]
async fn an_error_on_a_later_page_comes_after_the_items_of_the_pages_before_it() {
    for listing in listings() {
        let label = &listing.operation;
        let server = fresh_server().await;
        let first = &listing.first_path;
        let second_query = "page_token=PA2";
        listing
            .first_page(
                &server,
                page(&[1, 2], with_next(&format!("{first}?{second_query}"))),
            )
            .await;
        Mock::given(method("GET"))
            .and(path(first.as_str()))
            .and(QueryIs(Some(second_query.to_owned())))
            .respond_with(json_response(
                500,
                &json!({"error": "Internal Server Error"}),
            ))
            .mount(&server)
            .await;
        let (items, error) = split(label, listing.read(&client_for(&server)).await);
        assert_eq!(items, ids(1..=2), "{label}");
        assert!(
            matches!(error, Some(Error::Server { status: 500, .. })),
            "{label}: {error:?}"
        );
        assert_eq!(requested(&server).await.len(), 2, "{label}");
    }
}
