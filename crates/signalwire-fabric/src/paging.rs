//! Following `links.next` from page to page, safely.
//!
//! A page link is followed exactly as the server gave it (relative links are resolved
//! against the page they came from), but only when it stays on the client's own scheme,
//! host and port: credentials must never follow a link elsewhere. A link that repeats a
//! page already read ends the listing with an error instead of looping forever.

use std::collections::HashSet;
use std::future::Future;

use futures_util::{Stream, StreamExt as _, TryStreamExt as _, stream};
use reqwest::Url;

use crate::Error;

/// One page: its items and its `links.next`, if any.
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
}

/// Where the next page is read from, and what has been read.
struct Cursor {
    /// The URL to send to; `None` for the first page (the operation builds it).
    fetch: Option<Url>,
    /// The URL of the page about to be read, for resolving its links.
    here: Url,
    seen: HashSet<Url>,
}

/// The items of every page, in order. `fetch(None)` reads the first page (found at
/// `first_url`), `fetch(Some(url))` a checked next-page URL. A bad link ends the stream
/// with an error after the items of the page that carried it, whose text is scrubbed of
/// `client`'s secrets (a server may have put one in the link).
pub(crate) fn items<'a, T, F, Fut>(
    first_url: Result<Url, Error>,
    client: &'a crate::Client,
    fetch: F,
) -> impl Stream<Item = Result<T, Error>> + Send + 'a
where
    T: Send + 'a,
    F: Fn(Option<Url>) -> Fut + Send + Sync + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    let start = first_url.map(|here| Cursor {
        fetch: None,
        here,
        seen: HashSet::new(),
    });
    let fetch = std::sync::Arc::new(fetch);
    let scrub = std::sync::Arc::new(move |text: &str| {
        crate::response::Scrub::new(&[client.api_token_text()]).text(text)
    });
    stream::try_unfold(Some(start), move |state| {
        let fetch = std::sync::Arc::clone(&fetch);
        let scrub = std::sync::Arc::clone(&scrub);
        async move {
            let Some(cursor) = state else {
                return Ok(None);
            };
            let mut cursor = cursor?;
            let page = fetch(cursor.fetch.take()).await?;
            cursor.seen.insert(cursor.here.clone());
            let next = page.next.filter(|link| !link.is_empty()).map(|link| {
                check_next(&cursor.here, &link, &cursor.seen, &*scrub).map(|url| Cursor {
                    fetch: Some(url.clone()),
                    here: url,
                    seen: cursor.seen,
                })
            });
            Ok(Some((page.items, next)))
        }
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Resolves `link` against the page it came from and checks it stays on the same origin.
pub(crate) fn check_next(
    here: &Url,
    link: &str,
    seen: &HashSet<Url>,
    scrub: &dyn Fn(&str) -> String,
) -> Result<Url, Error> {
    let refuse = |reason: &'static str| Error::UnsafeLink {
        link: shown(&scrub(link)),
        reason,
    };
    let url = here.join(link).map_err(|_| refuse("is not a URL"))?;
    if url.scheme() != here.scheme() {
        return Err(refuse("switches scheme"));
    }
    if url.host_str() != here.host_str()
        || url.port_or_known_default() != here.port_or_known_default()
    {
        return Err(refuse("points to another host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("carries user info"));
    }
    if seen.contains(&url) {
        return Err(refuse("repeats a page already read"));
    }
    Ok(url)
}

fn shown(link: &str) -> String {
    const MAX: usize = 200;
    match link.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &link[..cut]),
        None => link.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Url {
        Url::parse("https://example.signalwire.com/api/fabric/resources/subscribers")
            .expect("valid")
    }

    #[test]
    fn same_origin_links_are_followed_as_given() {
        let seen = HashSet::new();
        let absolute = "https://example.signalwire.com/api/fabric/resources/subscribers?page_number=1&page_token=PA1";
        assert_eq!(
            check_next(&here(), absolute, &seen, &str::to_owned)
                .map(|u| u.to_string())
                .ok()
                .as_deref(),
            Some(absolute)
        );
        let relative = "/api/fabric/resources/subscribers?page_token=PA2";
        assert_eq!(
            check_next(&here(), relative, &seen, &str::to_owned)
                .map(|u| u.to_string())
                .ok()
                .as_deref(),
            Some("https://example.signalwire.com/api/fabric/resources/subscribers?page_token=PA2")
        );
    }

    #[test]
    fn links_elsewhere_are_refused_with_the_reason() {
        let seen = HashSet::from([here()]);
        for (link, reason) in [
            (
                "https://evil.example/api/fabric/resources/subscribers",
                "points to another host",
            ),
            ("//evil.example/steal", "points to another host"),
            ("http://example.signalwire.com/api", "switches scheme"),
            (
                "https://example.signalwire.com:8443/api",
                "points to another host",
            ),
            (
                "https://user:pw@example.signalwire.com/api",
                "carries user info",
            ),
            (
                "https://example.signalwire.com/api/fabric/resources/subscribers",
                "repeats a page already read",
            ),
        ] {
            match check_next(&here(), link, &seen, &str::to_owned) {
                Err(Error::UnsafeLink { reason: got, .. }) => assert_eq!(got, reason, "{link}"),
                other => panic!("{link}: {other:?}"),
            }
        }
    }
}
