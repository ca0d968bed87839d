//! Signing in to the browser demo, shared by the crate's test binaries (each includes
//! this file with `#[path]`): the request, and the session cookie its answer sets.

/// The demo's sign-in request for `user` at `base_url` (send it, or hold it on a paused
/// clock first).
pub fn sign_in_request(
    http: &reqwest::Client,
    base_url: &str,
    user: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{base_url}/login"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "user": user }).to_string())
}

/// The session cookie (`name=value`) a sign-in answer sets.
pub fn session_cookie(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned()
}
