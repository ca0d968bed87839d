//! What the endpoints answer when they succeed: a credential, `{token, expiry_at}`; and
//! the JSON every answer is written as (a refusal's is [`Failure`](crate::failure::Failure)'s).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use signalwire_fabric::{AccessToken, TokenPair};
use tokio::time::Instant;

/// The answer for `pair`'s access token.
pub(crate) fn credential(pair: &TokenPair) -> Response {
    access(pair.access_token(), pair.access_expires_at())
}

/// The answer for `token`, which expires at `expires_at` (on tokio's clock).
pub(crate) fn access(token: &AccessToken, expires_at: Instant) -> Response {
    let token = token.expose_secret();
    let expiry_at = unix_millis(expires_at.saturating_duration_since(Instant::now()));
    // An `AccessToken` is only ever made by `AccessToken::parse`, which takes nothing but
    // base64url and dots: characters JSON takes as they are. So the text is written
    // directly, without serde's per-character escaping and growing buffer (a third of
    // the endpoint's own time once), and without looking at each byte again.
    let mut body = String::with_capacity(token.len() + 40);
    body.push_str("{\"token\":\"");
    body.push_str(token);
    body.push_str("\",\"expiry_at\":");
    body.push_str(&expiry_at.to_string());
    body.push('}');
    with_status(StatusCode::OK, body.into_bytes())
}

/// Wall-clock milliseconds since the epoch, `ahead` from now.
fn unix_millis(ahead: Duration) -> u64 {
    let at = SystemTime::now()
        .checked_add(ahead)
        .unwrap_or_else(SystemTime::now);
    at.duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    // Serializing these plain structs cannot fail; an empty object is the safe fallback.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    with_status(status, bytes)
}

fn with_status(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[tokio::test]
    async fn a_credential_is_the_token_and_its_expiry_in_milliseconds() {
        let pair = signalwire_fabric::testing::pair("answer");
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64;
        let body = body_of(credential(&pair)).await;
        assert_eq!(body["token"], pair.access_token().expose_secret());
        let expiry = body["expiry_at"].as_u64().expect("a number");
        let two_hours = 2 * 60 * 60 * 1000;
        assert!(expiry >= before + two_hours - 1_000 && expiry <= before + two_hours + 1_000);
        assert_eq!(body.as_object().map(|fields| fields.len()), Some(2));
    }
}
