//! The refresh call written by hand, as someone would without the SDK: one `reqwest`
//! POST with Basic credentials, decoded with serde into a plain struct.
//!
//! It is a baseline for two measurements in `BENCHMARKS.md`: the refresh round trip
//! (how much the SDK adds per call) and the clean build (how much longer the SDK takes
//! to compile than this). It does none of what the SDK does besides the call itself: no
//! validation, no secret types, no typed errors, no bounded reads.

#![forbid(unsafe_code)]

/// The path of the refresh operation.
pub const REFRESH_PATH: &str = "/api/fabric/subscribers/tokens/refresh";

/// A refresh client for one base URL and one set of credentials.
#[derive(Debug, Clone)]
pub struct BaselineClient {
    http: reqwest::Client,
    url: String,
    project_id: String,
    api_token: String,
}

/// The new pair, as plain strings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TokenPair {
    /// The access token.
    pub token: String,
    /// The refresh token.
    pub refresh_token: String,
}

#[derive(serde::Serialize)]
struct RefreshRequest<'a> {
    refresh_token: &'a str,
}

impl BaselineClient {
    /// A client sending to `base_url` (no trailing slash) with Basic credentials.
    pub fn new(base_url: &str, project_id: &str, api_token: &str) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            url: format!("{base_url}{REFRESH_PATH}"),
            project_id: project_id.to_owned(),
            api_token: api_token.to_owned(),
        })
    }

    /// Exchanges `refresh_token` for a new pair; any non-2xx status is an error.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, reqwest::Error> {
        self.http
            .post(&self.url)
            .basic_auth(&self.project_id, Some(&self.api_token))
            .json(&RefreshRequest { refresh_token })
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}
