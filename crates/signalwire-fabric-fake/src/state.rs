//! The fake's state, and how one request is authenticated, answered and journaled.
//! Nothing here knows about wiremock: `server.rs` hands requests in and turns the
//! [`Reply`] into a response. The operations themselves live in `issuing.rs` (tokens)
//! and `resources.rs` (subscribers and addresses).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::Value;
use uuid::Uuid;

use crate::operation::Authentication;
use crate::paging::PageTokens;
use crate::reply::{Outcome, Reply};
use crate::store::{Details, Store};
use crate::tokens::Kind;
use crate::{
    FakeClock, FakeSubscriber, Fault, IssuedPair, JournalEntry, Operation, RotationPolicy,
};

/// What never changes once the fake runs.
pub(crate) struct Settings {
    pub(crate) project_id: String,
    pub(crate) api_token: String,
    pub(crate) rotation: RotationPolicy,
    pub(crate) clock: FakeClock,
    /// `http://127.0.0.1:<port>`: where the fake listens.
    pub(crate) base_url: String,
    /// Where clients reach the fake, when the builder was told (e.g. a proxy in front of
    /// it): page links name it, whatever the request's `Host` says.
    pub(crate) public_url: Option<String>,
    /// How many items a page holds when the query does not say.
    pub(crate) page_size: usize,
    /// The click-to-call tokens `create_guest_embed_token` accepts.
    pub(crate) click_to_call_tokens: Vec<String>,
}

/// What the request handlers share: the settings plus the mutable state behind a mutex
/// (held only inside one synchronous call, never across an await).
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    state: Mutex<State>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) store: Store,
    /// Every token ever issued, by its text.
    pub(crate) tokens: HashMap<String, Issued>,
    pub(crate) pages: PageTokens,
    /// Faults waiting to be served, oldest first, each with how many requests it has left.
    faults: HashMap<Operation, VecDeque<(Fault, usize)>>,
    journal: Vec<JournalEntry>,
}

/// A token the fake issued.
pub(crate) struct Issued {
    pub(crate) owner: Owner,
    pub(crate) kind: Kind,
    pub(crate) expires_at: SystemTime,
    /// When a refresh token was first exchanged.
    pub(crate) first_used_at: Option<SystemTime>,
}

/// Whom a token was issued to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The subscriber with this subscriber id (pairs and invites).
    Subscriber(Uuid),
    /// A guest allowed into these addresses.
    Guest(Vec<Uuid>),
    /// A click-to-call widget (embed tokens).
    Widget,
}

/// The parts of a request the fake looks at.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    /// The raw query, for the journal.
    pub(crate) query: Option<&'a str>,
    /// The decoded query parameters, in order.
    pub(crate) query_pairs: Vec<(String, String)>,
    /// The raw `Authorization` header, when there is one.
    pub(crate) authorization: Option<&'a [u8]>,
    /// The raw `Host` header, when there is one.
    pub(crate) host: Option<&'a [u8]>,
    pub(crate) body: &'a [u8],
}

/// One authenticated request, as the operation handlers see it.
pub(crate) struct Call<'a> {
    pub(crate) now: SystemTime,
    /// The body, when it was JSON.
    pub(crate) body: Option<&'a Value>,
    /// The path's `{id}` segment, for operations that have one.
    pub(crate) id: Option<&'a str>,
    pub(crate) query: &'a [(String, String)],
    /// The subscriber whose access token authenticated the request (invites only).
    pub(crate) caller: Option<Uuid>,
    /// What page links start with: the address the request was sent to.
    pub(crate) links_base: &'a str,
}

impl Settings {
    /// Where page links point for a request with this `Host` header: the public URL
    /// when one was configured, else `http://` and the `Host` (so a client that reached
    /// the fake as `localhost`, or through a proxy that keeps the `Host`, gets links it
    /// can follow), else the fake's own address. A `Host` that is no plain `host[:port]`
    /// is not used.
    fn links_base(&self, host: Option<&[u8]>) -> String {
        if let Some(public_url) = &self.public_url {
            return public_url.clone();
        }
        host.and_then(|host| std::str::from_utf8(host).ok())
            .filter(|host| !host.contains('@'))
            .and_then(|host| host.parse::<http::uri::Authority>().ok())
            .map_or_else(
                || self.base_url.clone(),
                |authority| format!("http://{authority}"),
            )
    }
}

impl Shared {
    pub(crate) fn new(settings: Settings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-changed in a way that matters
        // to a fake, so a poisoned lock is simply used.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers one request to `operation` (`None`: no operation matched its method and
    /// path) and journals it.
    pub(crate) fn handle(&self, operation: Option<Operation>, request: Incoming<'_>) -> Reply {
        let settings = &self.settings;
        let now = settings.clock.now();
        let body: Option<Value> = serde_json::from_slice(request.body).ok();
        let basic_valid = self.basic_credentials_match(request.authorization);

        let mut state = self.lock();
        let authentication = operation.map_or(Authentication::Basic, Operation::authentication);
        let caller = match authentication {
            Authentication::SubscriberBearer => state.bearer_subscriber(request.authorization, now),
            Authentication::Basic | Authentication::None => None,
        };
        let credentials_valid = match authentication {
            Authentication::Basic => basic_valid,
            Authentication::SubscriberBearer => caller.is_some(),
            Authentication::None => true,
        };

        let links_base = settings.links_base(request.host);
        let fault = operation.and_then(|operation| state.take_fault(operation));
        let outcome = match fault.as_ref().and_then(Fault::answer) {
            // A status fault stands in for a failing server or proxy: it answers before
            // anything else is looked at and changes nothing.
            Some(answer) => Outcome::ok(Reply::from_fault(answer)),
            None => {
                let mut outcome = match operation {
                    _ if !credentials_valid => Outcome::ok(Reply::unauthorized()),
                    None => Outcome::not_found(),
                    Some(operation) => {
                        let call = Call {
                            now,
                            body: body.as_ref(),
                            id: operation.id_in(request.path),
                            query: &request.query_pairs,
                            caller,
                            links_base: &links_base,
                        };
                        state.answer(operation, settings, &call)
                    }
                };
                outcome.reply.delay = fault.as_ref().and_then(Fault::delay_time);
                outcome
            }
        };
        state.journal.push(JournalEntry {
            operation,
            method: request.method.to_owned(),
            path: request.path.to_owned(),
            query: request.query.map(str::to_owned),
            status: outcome.reply.status.as_u16(),
            credentials_valid,
            authorization_sent: request.authorization.is_some(),
            body,
            error_code: outcome.error_code,
            faulted: fault.is_some(),
            received_at: now,
        });
        outcome.reply
    }

    /// Whether `authorization` is `Basic base64(project_id:api_token)`.
    fn basic_credentials_match(&self, authorization: Option<&[u8]>) -> bool {
        let Some((scheme, encoded)) = split_authorization(authorization) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        let expected = format!("{}:{}", self.settings.project_id, self.settings.api_token);
        decoded == expected.as_bytes()
    }

    /// Issues a pair for `reference` without a request, as a create with only
    /// `reference` would.
    pub(crate) fn seed(&self, reference: &str) -> IssuedPair {
        let now = self.settings.clock.now();
        let mut state = self.lock();
        let subscriber_id = state
            .store
            .find_or_insert(Details::email(reference), now)
            .subscriber_id;
        state.issue_pair(
            Owner::Subscriber(subscriber_id),
            now,
            later(now, crate::ACCESS_TOKEN_LIFETIME),
        )
    }

    /// Adds the subscriber with this email without a request, or finds it.
    pub(crate) fn seed_subscriber(&self, email: &str) -> FakeSubscriber {
        let now = self.settings.clock.now();
        let mut state = self.lock();
        FakeSubscriber::from(state.store.find_or_insert(Details::email(email), now))
    }

    pub(crate) fn subscriber(&self, email: &str) -> Option<FakeSubscriber> {
        self.lock().store.by_email(email).map(FakeSubscriber::from)
    }

    pub(crate) fn subscribers(&self) -> Vec<FakeSubscriber> {
        self.lock()
            .store
            .subscribers()
            .iter()
            .map(FakeSubscriber::from)
            .collect()
    }

    pub(crate) fn add_address(&self, email: &str, name: &str) -> Option<Uuid> {
        let now = self.settings.clock.now();
        self.lock().store.add_address(email, name, now)
    }

    pub(crate) fn inject(&self, operation: Operation, fault: Fault, times: usize) {
        if times > 0 {
            self.lock()
                .faults
                .entry(operation)
                .or_default()
                .push_back((fault, times));
        }
    }

    pub(crate) fn faults_pending(&self, operation: Operation) -> usize {
        self.lock().faults.get(&operation).map_or(0, |queue| {
            queue
                .iter()
                .fold(0, |total: usize, (_, times)| total.saturating_add(*times))
        })
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub(crate) fn journal(&self) -> Vec<JournalEntry> {
        self.lock().journal.clone()
    }

    pub(crate) fn count(&self, matches: impl Fn(&JournalEntry) -> bool) -> usize {
        self.lock()
            .journal
            .iter()
            .filter(|entry| matches(entry))
            .count()
    }

    pub(crate) fn clear_journal(&self) {
        self.lock().journal.clear();
    }

    pub(crate) fn token_expires_at(&self, token: &str) -> Option<SystemTime> {
        self.lock()
            .tokens
            .get(token)
            .map(|issued| issued.expires_at)
    }

    pub(crate) fn token_subscriber(&self, token: &str) -> Option<Uuid> {
        match self.lock().tokens.get(token).map(|issued| &issued.owner) {
            Some(Owner::Subscriber(id)) => Some(*id),
            _ => None,
        }
    }

    pub(crate) fn token_allowed_addresses(&self, token: &str) -> Option<Vec<Uuid>> {
        match self.lock().tokens.get(token).map(|issued| &issued.owner) {
            Some(Owner::Guest(addresses)) => Some(addresses.clone()),
            _ => None,
        }
    }

    pub(crate) fn subscriber_id(&self, reference: &str) -> Option<Uuid> {
        self.lock()
            .store
            .by_email(reference)
            .map(|record| record.subscriber_id)
    }
}

impl State {
    fn take_fault(&mut self, operation: Operation) -> Option<Fault> {
        let queue = self.faults.get_mut(&operation)?;
        let (fault, times) = queue.front_mut()?;
        let fault = fault.clone();
        *times -= 1;
        if *times == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    /// The subscriber whose live access token `authorization` carries as a Bearer token:
    /// one the fake issued to a subscriber it still holds, not past its expiry.
    fn bearer_subscriber(&self, authorization: Option<&[u8]>, now: SystemTime) -> Option<Uuid> {
        let (scheme, token) = split_authorization(authorization)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let issued = self.tokens.get(token)?;
        let Owner::Subscriber(subscriber_id) = issued.owner else {
            return None;
        };
        let live = issued.kind == Kind::Access && now < issued.expires_at;
        (live && self.store.by_subscriber_id(subscriber_id).is_some()).then_some(subscriber_id)
    }

    /// Hands an authenticated call to its operation.
    fn answer(&mut self, operation: Operation, settings: &Settings, call: &Call<'_>) -> Outcome {
        match operation {
            Operation::Create => self.create_subscriber_token(call),
            Operation::Refresh => self.refresh(call, settings.rotation),
            Operation::GuestToken => self.guest_token(call),
            Operation::InviteToken => self.invite_token(call),
            Operation::EmbedToken => self.embed_token(call, settings),
            Operation::ListSubscribers => self.list_subscribers(call, settings),
            Operation::CreateSubscriber => self.create_subscriber(call, settings),
            Operation::GetSubscriber => self.get_subscriber(call, settings),
            Operation::UpdateSubscriber => self.update_subscriber(call, settings),
            Operation::DeleteSubscriber => self.delete_subscriber(call),
            Operation::ListSubscriberAddresses => self.list_addresses(call, settings),
        }
    }
}

/// An `Authorization` header's scheme and credentials, when it is readable text.
fn split_authorization(authorization: Option<&[u8]>) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(authorization?).ok()?;
    let (scheme, credentials) = text.trim().split_once(' ')?;
    Some((scheme, credentials.trim()))
}

pub(crate) fn later(now: SystemTime, by: Duration) -> SystemTime {
    now.checked_add(by).unwrap_or(now)
}
