//! Raw HTTP helpers: what the fake answers to bytes, not to the facade.

use base64::Engine as _;
use serde_json::Value;
use signalwire_fabric_fake::{FakeSpace, Operation};

/// What the fake answered.
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the fake answered JSON")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The code of the first 422 entry.
    pub fn code(&self) -> String {
        assert_eq!(self.status, 422, "{}", self.text());
        self.json()["errors"][0]["code"]
            .as_str()
            .expect("a code")
            .to_owned()
    }

    /// The attribute of the first 422 entry.
    pub fn attribute(&self) -> Option<String> {
        self.json()["errors"][0]["attribute"]
            .as_str()
            .map(str::to_owned)
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// The fake's own credentials.
    Fake,
    /// No Authorization header.
    None,
    /// This exact Authorization header value.
    Header(&'a [u8]),
}

pub fn basic(user: &str, password: &str) -> Vec<u8> {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
    .into_bytes()
}

pub async fn send(
    fake: &FakeSpace,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    body: impl Into<reqwest::Body>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    let credentials = basic(fake.project_id(), fake.api_token());
    let header = match auth {
        Auth::Fake => Some(credentials.as_slice()),
        Auth::None => None,
        Auth::Header(value) => Some(value),
    };
    if let Some(header) = header {
        request = request.header(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_bytes(header).expect("a header value"),
        );
    }
    let response = request.send().await.expect("the fake answers");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("a whole body").to_vec();
    Answer {
        status,
        content_type,
        retry_after,
        body,
    }
}

/// `Bearer <token>`, as an Authorization header value.
pub fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

/// Sends `body` as JSON to `operation` (at its method and path) with the fake's
/// credentials.
pub async fn call(fake: &FakeSpace, operation: Operation, body: Value) -> Answer {
    send(
        fake,
        operation.method(),
        operation.path(),
        Auth::Fake,
        body.to_string(),
    )
    .await
}

/// Sends `body` to `operation` for the subscriber resource `id`, with the fake's
/// credentials (an empty body when `body` is `None`).
pub async fn call_at(
    fake: &FakeSpace,
    operation: Operation,
    id: &str,
    body: Option<Value>,
) -> Answer {
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    send(
        fake,
        operation.method(),
        &operation.path_for(id),
        Auth::Fake,
        body,
    )
    .await
}

/// GETs `path_and_query` (or an absolute URL on the fake) with the fake's credentials.
pub async fn get(fake: &FakeSpace, path_and_query: &str) -> Answer {
    let path = path_and_query
        .strip_prefix(fake.base_url())
        .unwrap_or(path_and_query);
    send(fake, "GET", path, Auth::Fake, "").await
}

/// An invite request sent with `access_token` as the Bearer token.
pub async fn invite(fake: &FakeSpace, access_token: &str, body: Value) -> Answer {
    let header = bearer(access_token);
    send(
        fake,
        "POST",
        Operation::InviteToken.path(),
        Auth::Header(&header),
        body.to_string(),
    )
    .await
}

/// An embed request with no credentials.
pub async fn embed(fake: &FakeSpace, body: Value) -> Answer {
    send(
        fake,
        "POST",
        Operation::EmbedToken.path(),
        Auth::None,
        body.to_string(),
    )
    .await
}

pub async fn refresh(fake: &FakeSpace, refresh_token: &str) -> Answer {
    call(
        fake,
        Operation::Refresh,
        serde_json::json!({ "refresh_token": refresh_token }),
    )
    .await
}

pub async fn create(fake: &FakeSpace, reference: &str) -> Answer {
    call(
        fake,
        Operation::Create,
        serde_json::json!({ "reference": reference }),
    )
    .await
}

/// A JWE-shaped token the fake never issued, whose header names `typ`.
pub fn foreign_token(typ: &str) -> String {
    signalwire_fabric::testing::jwe(typ, "never-issued-by-the-fake")
}

/// The current unix time on the fake's clock.
pub fn fake_unix_now(fake: &FakeSpace) -> i64 {
    i64::try_from(fake.clock().unix_seconds()).expect("a sane clock")
}
