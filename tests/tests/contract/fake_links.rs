//! The fake's page links, followed by the facade from another address than the fake's
//! own: `localhost` instead of `127.0.0.1`, and loopback proxies in front of the fake.
//! The client follows a next link only on its own scheme, host and port, so a listing
//! reads every page only when the fake names the address the client used.

use std::net::SocketAddr;

use futures_util::{StreamExt as _, TryStreamExt as _};
use signalwire_fabric::{Error, Subscriber};
use signalwire_fabric_fake::{FakeSpace, FakeSpaceBuilder, Operation};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How many subscribers each fake holds, and how many a page holds.
const SUBSCRIBERS: usize = 5;
const PAGE_SIZE: usize = 2;

/// What a proxy does with the `Host` header of the requests it forwards.
#[derive(Debug, Clone, Copy)]
enum HostHeader {
    /// Passes it on as the client sent it.
    Kept,
    /// Replaces it with the fake's address (as a proxy configured to name its upstream
    /// does), and asks for one request per connection so that every request is rewritten.
    Replaced,
}

/// A fake with [`SUBSCRIBERS`] subscribers and pages of [`PAGE_SIZE`].
async fn seeded(builder: FakeSpaceBuilder) -> FakeSpace {
    let fake = builder
        .page_size(PAGE_SIZE)
        .start()
        .await
        .expect("a random loopback port");
    for n in 0..SUBSCRIBERS {
        fake.create_subscriber(&format!("s{n}@example.com"));
    }
    fake
}

/// Forwards every connection `listener` accepts to `upstream`, byte for byte apart from
/// the request head's `Host` (and `Connection`) when `host` says so.
fn forward(listener: TcpListener, upstream: SocketAddr, host: HostHeader) {
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                if let HostHeader::Replaced = host {
                    let Some(head) = rewritten_head(&mut client, upstream).await else {
                        return;
                    };
                    if server.write_all(&head).await.is_err() {
                        return;
                    }
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
}

/// Reads a request head from `client` and returns it with `Host: <upstream>` and
/// `Connection: close`, followed by whatever body bytes came with it.
async fn rewritten_head(client: &mut TcpStream, upstream: SocketAddr) -> Option<Vec<u8>> {
    let mut read = Vec::new();
    let end = loop {
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        read.extend_from_slice(&chunk[..n]);
        if let Some(end) = read.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8(read[..end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut out = format!("{}\r\n", lines.next()?);
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name != "host" && name != "connection" {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&read[end + 4..]);
    Some(bytes)
}

/// Lists the subscribers through a client with `base_url` and the fake's credentials.
async fn list_through(fake: &FakeSpace, base_url: &str) -> Result<Vec<Subscriber>, Error> {
    fake.client_builder()
        .base_url(base_url)
        .build()
        .expect("a loopback base URL")
        .subscribers()
        .list()
        .try_collect()
        .await
}

fn assert_every_page(fake: &FakeSpace, base_url: &str, listed: Result<Vec<Subscriber>, Error>) {
    let listed = listed.unwrap_or_else(|error| panic!("{base_url}: {error}"));
    let emails: Vec<String> = listed
        .into_iter()
        .filter_map(|subscriber| subscriber.email)
        .collect();
    let expected: Vec<String> = (0..SUBSCRIBERS)
        .map(|n| format!("s{n}@example.com"))
        .collect();
    assert_eq!(emails, expected, "{base_url}: every subscriber, in order");
    assert_eq!(
        fake.answered_count(Operation::ListSubscribers, 200),
        SUBSCRIBERS.div_ceil(PAGE_SIZE),
        "{base_url}: every page was read from the fake"
    );
}

#[tokio::test]
async fn a_listing_through_localhost_reads_every_page() {
    let fake = seeded(FakeSpace::builder()).await;
    let base_url = format!("http://localhost:{}", fake.address().port());
    let listed = list_through(&fake, &base_url).await;
    assert_every_page(&fake, &base_url, listed);
}

#[tokio::test]
async fn a_listing_through_a_proxy_that_keeps_the_host_reads_every_page() {
    let fake = seeded(FakeSpace::builder()).await;
    let proxy = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let base_url = format!("http://{}", proxy.local_addr().expect("bound"));
    forward(proxy, fake.address(), HostHeader::Kept);
    let listed = list_through(&fake, &base_url).await;
    assert_every_page(&fake, &base_url, listed);
}

#[tokio::test]
async fn behind_a_proxy_that_replaces_the_host_the_public_url_names_the_proxy() {
    // Without a public URL the fake can only name itself: the client reads the first
    // page and refuses the link to another port, as it must.
    let fake = seeded(FakeSpace::builder()).await;
    let proxy = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let base_url = format!("http://{}", proxy.local_addr().expect("bound"));
    forward(proxy, fake.address(), HostHeader::Replaced);
    let partial: Vec<Result<Subscriber, Error>> = fake
        .client_builder()
        .base_url(&base_url)
        .build()
        .expect("a loopback base URL")
        .subscribers()
        .list()
        .collect()
        .await;
    assert_eq!(
        partial.len(),
        PAGE_SIZE + 1,
        "the first page, then the refusal"
    );
    assert!(
        matches!(partial.last(), Some(Err(Error::UnsafeLink { .. }))),
        "{:?}",
        partial.last()
    );
    assert_eq!(fake.answered_count(Operation::ListSubscribers, 200), 1);

    // With the proxy's address as its public URL, every page is read through the proxy.
    let proxy = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let base_url = format!("http://{}", proxy.local_addr().expect("bound"));
    let fake = seeded(FakeSpace::builder().public_url(&base_url)).await;
    forward(proxy, fake.address(), HostHeader::Replaced);
    let listed = list_through(&fake, &base_url).await;
    assert_every_page(&fake, &base_url, listed);
}
