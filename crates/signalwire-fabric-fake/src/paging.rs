//! Cutting lists into pages, and the page links and tokens that lead from one to the next.
//!
//! A list answers `page_size` items (the fake's default unless the query sets one) in
//! creation order. Its `links` are absolute URLs on the address the client reached the
//! fake at (see `FakeSpaceBuilder::public_url`): `self`, `first`, `prev`
//! after the first page, and `next` only while more items remain. Each `next` link
//! carries `page_number`, `page_size` and an opaque `page_token` (`PA` and 24 hex digits)
//! that the fake remembers: it stands for "the items after the last one on this page", so
//! items created or deleted meanwhile neither repeat nor get skipped.
//!
//! Anything the fake did not hand out is answered with 404 `{"error": "Not Found"}` (the
//! one error the spec documents for these operations besides 401 and 500): a
//! `page_token` it never issued (forged), one older than [`PAGE_TOKEN_LIFETIME`] on the
//! fake's clock (stale), one issued for another list, a `page_number` or `page_size` that
//! does not match the token, a `page_number` above 0 without a token (pages are followed,
//! not built by hand), a malformed or out-of-range number, or a repeated parameter.
//! Other query parameters are ignored.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::wire::PageLinks;

/// How many items a page holds unless the fake was built with another default.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest `page_size` the fake accepts, in a query or from its builder.
pub const MAX_PAGE_SIZE: usize = 1000;
/// How long a `page_token` can be followed, on the fake's clock.
pub const PAGE_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

const PAGE_TOKEN_PREFIX: &str = "PA";
const PAGE_TOKEN_DIGITS: usize = 24;

/// Which list a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    Subscribers,
    /// The addresses of the subscriber with this resource id.
    Addresses(Uuid),
}

impl List {
    fn path(self) -> String {
        match self {
            List::Subscribers => "/api/fabric/resources/subscribers".to_owned(),
            List::Addresses(id) => format!("/api/fabric/resources/subscribers/{id}/addresses"),
        }
    }
}

/// Where a page starts, as a token remembers it.
struct Cursor {
    list: List,
    page_number: u64,
    page_size: usize,
    /// The page holds the items whose sequence number is above this.
    after: u64,
    /// The token of the page before, for `prev` (`None` when that is the first page).
    previous_token: Option<String>,
    issued_at: SystemTime,
}

/// Every page token handed out.
#[derive(Default)]
pub(crate) struct PageTokens {
    cursors: HashMap<String, Cursor>,
}

/// The page a request asked for, once its query was checked.
pub(crate) struct PageRequest {
    list: List,
    page_number: u64,
    page_size: usize,
    after: u64,
    token: Option<String>,
    previous_token: Option<String>,
}

/// One page of items, and its links.
pub(crate) struct Page<'a, T> {
    pub(crate) items: Vec<&'a T>,
    pub(crate) links: PageLinks,
}

/// The query did not name a page the fake can serve; answer 404.
pub(crate) struct NoSuchPage;

impl PageTokens {
    /// Reads the paging parameters of `query` for `list`.
    pub(crate) fn request(
        &self,
        list: List,
        query: &[(String, String)],
        default_size: usize,
        now: SystemTime,
    ) -> Result<PageRequest, NoSuchPage> {
        let value = |name: &str| -> Result<Option<&str>, NoSuchPage> {
            let mut found = query.iter().filter(|(key, _)| key == name);
            let first = found.next().map(|(_, value)| value.as_str());
            if found.next().is_some() {
                return Err(NoSuchPage);
            }
            Ok(first)
        };
        let number = |text: Option<&str>| -> Result<Option<u64>, NoSuchPage> {
            text.map(|text| {
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NoSuchPage);
                }
                text.parse::<u64>().map_err(|_| NoSuchPage)
            })
            .transpose()
        };
        let page_number = number(value("page_number")?)?;
        let page_size = number(value("page_size")?)?
            .map(|size| usize::try_from(size).map_err(|_| NoSuchPage))
            .transpose()?;
        if page_size.is_some_and(|size| !(1..=MAX_PAGE_SIZE).contains(&size)) {
            return Err(NoSuchPage);
        }
        let Some(token) = value("page_token")? else {
            if page_number.unwrap_or(0) != 0 {
                return Err(NoSuchPage);
            }
            return Ok(PageRequest {
                list,
                page_number: 0,
                page_size: page_size.unwrap_or(default_size),
                after: 0,
                token: None,
                previous_token: None,
            });
        };
        let cursor = self.cursors.get(token).ok_or(NoSuchPage)?;
        let fresh = now
            .duration_since(cursor.issued_at)
            .map_or(true, |age| age <= PAGE_TOKEN_LIFETIME);
        let matches = cursor.list == list
            && page_number.is_none_or(|number| number == cursor.page_number)
            && page_size.is_none_or(|size| size == cursor.page_size);
        if !fresh || !matches {
            return Err(NoSuchPage);
        }
        Ok(PageRequest {
            list,
            page_number: cursor.page_number,
            page_size: cursor.page_size,
            after: cursor.after,
            token: Some(token.to_owned()),
            previous_token: cursor.previous_token.clone(),
        })
    }

    /// Cuts the page `request` asked for from `items` (in creation order, each with its
    /// sequence number), minting a token for the next page when more remain.
    pub(crate) fn page<'a, T>(
        &mut self,
        request: &PageRequest,
        items: impl IntoIterator<Item = (u64, &'a T)>,
        base_url: &str,
        now: SystemTime,
    ) -> Page<'a, T> {
        let mut rest = items
            .into_iter()
            .filter(|(seq, _)| *seq > request.after)
            .peekable();
        let mut on_page = Vec::new();
        let mut last_seq = request.after;
        while on_page.len() < request.page_size {
            let Some((seq, item)) = rest.next() else {
                break;
            };
            last_seq = seq;
            on_page.push(item);
        }
        let more = rest.peek().is_some();

        let link = |page_number: u64, token: Option<&str>| {
            let mut url = format!(
                "{base_url}{}?page_number={page_number}&page_size={}",
                request.list.path(),
                request.page_size
            );
            if let Some(token) = token {
                let _ = write!(url, "&page_token={token}");
            }
            url
        };
        let next = more.then(|| {
            let token = mint();
            self.cursors.insert(
                token.clone(),
                Cursor {
                    list: request.list,
                    page_number: request.page_number.saturating_add(1),
                    page_size: request.page_size,
                    after: last_seq,
                    previous_token: request.token.clone(),
                    issued_at: now,
                },
            );
            link(request.page_number.saturating_add(1), Some(&token))
        });
        let prev = (request.page_number > 0)
            .then(|| link(request.page_number - 1, request.previous_token.as_deref()));
        Page {
            items: on_page,
            links: PageLinks {
                self_link: Some(link(request.page_number, request.token.as_deref())),
                first: Some(link(0, None)),
                next,
                prev,
            },
        }
    }
}

/// A new page token: `PA` and 24 random hexadecimal digits.
fn mint() -> String {
    let digits: String = std::iter::repeat_with(|| fastrand::digit(16))
        .take(PAGE_TOKEN_DIGITS)
        .collect();
    format!("{PAGE_TOKEN_PREFIX}{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn next_query(links: &PageLinks) -> Vec<(String, String)> {
        let next = links.next.as_deref().expect("a next link");
        let (_, query) = next.split_once('?').expect("a query");
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn pages_follow_each_other_and_the_last_has_no_next() {
        let mut tokens = PageTokens::default();
        let now = SystemTime::now();
        let items: Vec<(u64, u32)> = (1..=5).map(|n| (u64::from(n) * 2, n)).collect();
        let all = || items.iter().map(|(seq, item)| (*seq, item));
        let mut seen = Vec::new();
        let mut query_now = Vec::new();
        for page_number in 0..3 {
            let request = tokens
                .request(List::Subscribers, &query_now, 2, now)
                .ok()
                .expect("a page the fake handed out");
            let page = tokens.page(&request, all(), "http://h", now);
            seen.extend(page.items.iter().map(|item| **item));
            assert_eq!(
                page.links.first.as_deref(),
                Some("http://h/api/fabric/resources/subscribers?page_number=0&page_size=2")
            );
            assert_eq!(page.links.prev.is_some(), page_number > 0);
            if page_number < 2 {
                query_now = next_query(&page.links);
                assert_eq!(query_now[0].1, (page_number + 1).to_string());
            } else {
                assert_eq!(page.links.next, None);
            }
        }
        assert_eq!(seen, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn anything_not_handed_out_is_no_page() {
        let mut tokens = PageTokens::default();
        let now = SystemTime::now();
        let items = [(1u64, ()), (2, ())];
        let first = tokens
            .request(List::Subscribers, &[], 1, now)
            .ok()
            .expect("the first page");
        let page = tokens.page(&first, items.iter().map(|(s, i)| (*s, i)), "", now);
        let good = next_query(&page.links);
        let token = good[2].1.clone();
        let other_list = List::Addresses(Uuid::nil());
        for bad in [
            query(&[("page_token", "PA0f3c9a1e2b")]),
            query(&[("page_number", "1"), ("page_size", "1")]),
            query(&[("page_size", "0")]),
            query(&[("page_size", "1001")]),
            query(&[("page_number", "-1")]),
            query(&[("page_number", "0"), ("page_number", "0")]),
            query(&[("page_number", "2"), ("page_token", &token)]),
            query(&[("page_size", "2"), ("page_token", &token)]),
        ] {
            assert!(
                tokens.request(List::Subscribers, &bad, 1, now).is_err(),
                "{bad:?}"
            );
        }
        assert!(tokens.request(other_list, &good, 1, now).is_err());
        let later = now + PAGE_TOKEN_LIFETIME + Duration::from_secs(1);
        assert!(tokens.request(List::Subscribers, &good, 1, later).is_err());
        assert!(tokens.request(List::Subscribers, &good, 1, now).is_ok());
        assert!(
            tokens
                .request(List::Subscribers, &query(&[("page_token", &token)]), 1, now)
                .is_ok(),
            "the number and size may be left out"
        );
    }
}
