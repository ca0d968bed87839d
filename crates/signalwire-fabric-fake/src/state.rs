//! The fake's state and the logic that answers one request. Nothing here knows about
//! wiremock: `server.rs` hands requests in and turns the [`Reply`] into a response.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::faults::{FaultAnswer, FaultBody};
use crate::tokens::{self, Kind};
use crate::wire::{
    ErrorResponse, RefreshSubscriberTokenResponse, SubscriberTokenRequest, SubscriberTokenResponse,
    ValidationError,
};
use crate::{
    ACCESS_TOKEN_LIFETIME, FakeClock, Fault, IssuedPair, JournalEntry, Operation,
    REFRESH_TOKEN_LIFETIME, RotationPolicy, SCOPED_ACCESS_TOKEN_LIFETIME, rules,
};

/// What the request handlers share: fixed settings plus the mutable state behind a
/// mutex (held only inside one synchronous call, never across an await).
pub(crate) struct Shared {
    pub(crate) project_id: String,
    pub(crate) api_token: String,
    pub(crate) rotation: RotationPolicy,
    pub(crate) clock: FakeClock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Subscriber ids by reference.
    subscribers: HashMap<String, Uuid>,
    /// Every token ever issued, by its text.
    tokens: HashMap<String, Issued>,
    /// Faults waiting to be served, oldest first, each with how many requests it has left.
    faults: HashMap<Operation, VecDeque<(Fault, usize)>>,
    journal: Vec<JournalEntry>,
}

struct Issued {
    subscriber_id: Uuid,
    kind: Kind,
    expires_at: SystemTime,
    /// When a refresh token was first exchanged.
    first_used_at: Option<SystemTime>,
}

/// The parts of a request the fake looks at.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    /// The raw `Authorization` header, when there is one.
    pub(crate) authorization: Option<&'a [u8]>,
    pub(crate) body: &'a [u8],
}

/// The answer to one request.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: ReplyBody,
    pub(crate) retry_after_seconds: Option<u64>,
    pub(crate) delay: Option<Duration>,
}

pub(crate) enum ReplyBody {
    Json(Vec<u8>),
    Html(String),
}

impl Reply {
    fn json(status: StatusCode, body: &impl serde::Serialize) -> Self {
        Self {
            status,
            // Serializing these plain structs cannot fail; an empty object is a safe
            // stand-in if it ever did.
            body: ReplyBody::Json(serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())),
            retry_after_seconds: None,
            delay: None,
        }
    }

    fn reason(status: StatusCode, reason: &str) -> Self {
        Self::json(status, &ErrorResponse::reason(reason))
    }

    fn from_fault(answer: FaultAnswer) -> Self {
        let mut reply = match answer.body {
            FaultBody::Reason(reason) => Self::reason(answer.status, &reason),
            FaultBody::Html(page) => Self {
                status: answer.status,
                body: ReplyBody::Html(page),
                retry_after_seconds: None,
                delay: None,
            },
        };
        reply.retry_after_seconds = answer.retry_after_seconds;
        reply
    }
}

/// A reply and, for a 422, the first code in it (for the journal).
struct Outcome {
    reply: Reply,
    error_code: Option<String>,
}

impl Outcome {
    fn ok(reply: Reply) -> Self {
        Self {
            reply,
            error_code: None,
        }
    }

    fn rejected(errors: Vec<ValidationError>) -> Self {
        let error_code = errors.first().map(|error| error.code.clone());
        Self {
            reply: Reply::json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ErrorResponse::rejected(errors),
            ),
            error_code,
        }
    }
}

impl Shared {
    pub(crate) fn new(
        project_id: String,
        api_token: String,
        rotation: RotationPolicy,
        clock: FakeClock,
    ) -> Self {
        Self {
            project_id,
            api_token,
            rotation,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state half-changed in a way that matters
        // to a fake, so a poisoned lock is simply used.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers one request to `operation` (`None`: no operation matched its method and
    /// path) and journals it.
    pub(crate) fn handle(&self, operation: Option<Operation>, request: Incoming<'_>) -> Reply {
        let now = self.clock.now();
        let body: Option<Value> = serde_json::from_slice(request.body).ok();
        let credentials_valid = self.credentials_match(request.authorization);

        let mut state = self.lock();
        let fault = operation.and_then(|operation| state.take_fault(operation));
        let outcome = match fault.as_ref().and_then(Fault::answer) {
            // A status fault stands in for a failing server or proxy: it answers before
            // anything else is looked at and changes nothing.
            Some(answer) => Outcome::ok(Reply::from_fault(answer)),
            None => {
                let mut outcome = if !credentials_valid {
                    Outcome::ok(Reply::reason(StatusCode::UNAUTHORIZED, "Unauthorized"))
                } else {
                    match operation {
                        None => Outcome::ok(Reply::reason(StatusCode::NOT_FOUND, "Not Found")),
                        Some(Operation::Create) => state.create(body.as_ref(), now),
                        Some(Operation::Refresh) => {
                            state.refresh(body.as_ref(), now, self.rotation)
                        }
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
            status: outcome.reply.status.as_u16(),
            credentials_valid,
            body,
            error_code: outcome.error_code,
            faulted: fault.is_some(),
            received_at: now,
        });
        outcome.reply
    }

    /// Whether `authorization` is `Basic base64(project_id:api_token)`.
    fn credentials_match(&self, authorization: Option<&[u8]>) -> bool {
        let Some(text) = authorization.and_then(|header| std::str::from_utf8(header).ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = text.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", self.project_id, self.api_token);
        decoded == expected.as_bytes()
    }

    /// Issues a pair for `reference` without a request, as a create with only
    /// `reference` would.
    pub(crate) fn seed(&self, reference: &str) -> IssuedPair {
        let now = self.clock.now();
        self.lock()
            .issue_for_reference(reference, now, later(now, ACCESS_TOKEN_LIFETIME))
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
        self.lock()
            .tokens
            .get(token)
            .map(|issued| issued.subscriber_id)
    }

    pub(crate) fn subscriber_id(&self, reference: &str) -> Option<Uuid> {
        self.lock().subscribers.get(reference).copied()
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

    fn create(&mut self, body: Option<&Value>, now: SystemTime) -> Outcome {
        let request = match rules::create_request(body, now) {
            Ok(request) => request,
            Err(errors) => return Outcome::rejected(errors),
        };
        let access_expires_at = access_expiry(&request, now);
        let pair = self.issue_for_reference(&request.reference, now, access_expires_at);
        Outcome::ok(Reply::json(
            StatusCode::OK,
            &SubscriberTokenResponse {
                subscriber_id: pair.subscriber_id.to_string(),
                token: pair.token,
                refresh_token: pair.refresh_token,
            },
        ))
    }

    fn refresh(
        &mut self,
        body: Option<&Value>,
        now: SystemTime,
        rotation: RotationPolicy,
    ) -> Outcome {
        let token = match rules::refresh_request(body) {
            Ok(request) => request.refresh_token,
            Err(error) => return Outcome::rejected(vec![error]),
        };
        let Some(issued) = self.tokens.get_mut(&token) else {
            let error = if tokens::header_typ(&token).as_deref() == Some("SAT") {
                rules::not_a_refresh_token()
            } else {
                rules::token_invalid()
            };
            return Outcome::rejected(vec![error]);
        };
        if issued.kind == Kind::Access {
            return Outcome::rejected(vec![rules::not_a_refresh_token()]);
        }
        if now >= issued.expires_at {
            return Outcome::rejected(vec![rules::token_expired()]);
        }
        if !rotation.allows(issued.first_used_at, now) {
            return Outcome::rejected(vec![rules::token_invalid()]);
        }
        issued.first_used_at.get_or_insert(now);
        let subscriber_id = issued.subscriber_id;
        let pair = self.issue(subscriber_id, now, later(now, ACCESS_TOKEN_LIFETIME));
        Outcome::ok(Reply::json(
            StatusCode::CREATED,
            &RefreshSubscriberTokenResponse {
                token: pair.token,
                refresh_token: pair.refresh_token,
            },
        ))
    }

    fn issue_for_reference(
        &mut self,
        reference: &str,
        now: SystemTime,
        access_expires_at: SystemTime,
    ) -> IssuedPair {
        let subscriber_id = *self
            .subscribers
            .entry(reference.to_owned())
            .or_insert_with(random_uuid);
        self.issue(subscriber_id, now, access_expires_at)
    }

    fn issue(
        &mut self,
        subscriber_id: Uuid,
        now: SystemTime,
        access_expires_at: SystemTime,
    ) -> IssuedPair {
        let mut remember = |kind: Kind, expires_at: SystemTime| {
            let token = tokens::mint(kind);
            self.tokens.insert(
                token.clone(),
                Issued {
                    subscriber_id,
                    kind,
                    expires_at,
                    first_used_at: None,
                },
            );
            token
        };
        let token = remember(Kind::Access, access_expires_at);
        let refresh_token = remember(Kind::Refresh, later(now, REFRESH_TOKEN_LIFETIME));
        IssuedPair {
            subscriber_id,
            token,
            refresh_token,
        }
    }
}

/// When a created access token expires: at `expire_at` when given, else after the
/// standard two hours; never later than 60 seconds when `scope` is set without a
/// `fingerprint`.
fn access_expiry(request: &SubscriberTokenRequest, now: SystemTime) -> SystemTime {
    let requested = request
        .expire_at
        .and_then(|seconds| u64::try_from(seconds).ok())
        .and_then(|seconds| UNIX_EPOCH.checked_add(Duration::from_secs(seconds)));
    let expires_at = requested.unwrap_or_else(|| later(now, ACCESS_TOKEN_LIFETIME));
    if request.scope.is_some() && request.fingerprint.is_none() {
        expires_at.min(later(now, SCOPED_ACCESS_TOKEN_LIFETIME))
    } else {
        expires_at
    }
}

fn later(now: SystemTime, by: Duration) -> SystemTime {
    now.checked_add(by).unwrap_or(now)
}

fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
