//! Helpers shared by the facade's integration tests.
#![allow(dead_code)]

use base64::Engine as _;
use signalwire_fabric::Client;
use wiremock::MockServer;

pub const PROJECT_ID: &str = "8c2b3f1e-0d4a-4b6e-9f7a-1e2d3c4b5a69";
pub const API_TOKEN: &str = "PTa1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7";
pub const REFRESH_PATH: &str = "/api/fabric/subscribers/tokens/refresh";
pub const CREATE_PATH: &str = "/api/fabric/subscribers/tokens";

/// A five-segment JWE-shaped token whose protected header says `typ`, with `seed` making
/// it unique.
pub fn jwe(typ: &str, seed: &str) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header =
        format!(r#"{{"alg":"dir","enc":"A256GCM","typ":"{typ}","ch":"puc.signalwire.com"}}"#);
    format!(
        "{}..{}.{}.{}",
        b64(header.as_bytes()),
        b64(format!("iv-{seed}").as_bytes()),
        b64(format!("ciphertext-of-{seed}-").repeat(20).as_bytes()),
        b64(format!("tag-{seed}").as_bytes()),
    )
}

pub fn access(seed: &str) -> String {
    jwe("SAT", seed)
}

pub fn refresh(seed: &str) -> String {
    jwe("Refresh", seed)
}

pub fn client_for(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .project_id(PROJECT_ID)
        .api_token(API_TOKEN)
        .build()
        .expect("a loopback base URL is valid")
}
