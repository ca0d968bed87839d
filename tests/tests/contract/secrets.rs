//! No snapshot holds a secret: not the API token or the Basic credentials, not the
//! subscriber access token invites are sent with, not a password, not any token the suite
//! sends or serves (access, refresh, guest, invite, embed, click-to-call), nor a long
//! piece of one.

use std::path::PathBuf;

use signalwire_fabric_contract_tests::{fixtures, spec};

use crate::support::snapshot_dir;

/// The shortest piece of a token that counts as leaked. Token segments are base64url
/// runs; 24 characters is far longer than any word or code a snapshot legitimately shows.
const MIN_PIECE: usize = 24;

/// Every text a snapshot must not contain: each secret, and each long dot-separated
/// segment of one (a leak may be cut at a segment boundary).
fn forbidden(secrets: &[String]) -> Vec<String> {
    let mut forbidden: Vec<String> = secrets.to_vec();
    for secret in secrets {
        forbidden.extend(
            secret
                .split('.')
                .filter(|segment| segment.len() >= MIN_PIECE)
                .map(str::to_owned),
        );
    }
    forbidden.sort();
    forbidden.dedup();
    forbidden
}

/// The leaks in `text`, described without quoting the secret.
fn leaks(text: &str, forbidden: &[String]) -> Vec<String> {
    forbidden
        .iter()
        .filter(|secret| text.contains(secret.as_str()))
        .map(|secret| {
            format!(
                "a {}-character secret starting {:?}",
                secret.len(),
                secret.chars().take(6).collect::<String>()
            )
        })
        .collect()
}

/// Runs of 40 or more token-alphabet characters: what any token, known or not, looks like.
fn token_shaped_runs(text: &str) -> Vec<String> {
    text.split(|c: char| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '=' | '~'))
    })
    .filter(|run| run.len() >= 40)
    .map(|run| format!("{}... ({} characters)", &run[..12], run.len()))
    .collect()
}

/// Every snapshot in the workspace: this suite's, and each crate's `tests/snapshots`
/// (the CLI's help and demo output, for one).
fn snapshot_files() -> Vec<PathBuf> {
    let own = snapshot_dir();
    let crates = own
        .parent()
        .and_then(|suite| suite.parent())
        .expect("the suite sits in the workspace")
        .join("crates");
    let mut dirs = vec![own];
    dirs.extend(
        std::fs::read_dir(&crates)
            .unwrap_or_else(|error| panic!("{}: {error}", crates.display()))
            .map(|entry| entry.expect("a readable directory entry").path())
            .map(|dir| dir.join("tests").join("snapshots"))
            .filter(|dir| dir.is_dir()),
    );
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(dir)
                .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
                .map(|entry| entry.expect("a readable directory entry").path())
        })
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        files
            .iter()
            .any(|file| file.to_string_lossy().contains("signalwire-fabric-cli")),
        "the CLI's snapshots are scanned too"
    );
    files
}

#[test]
fn no_snapshot_contains_a_secret_or_a_piece_of_one() {
    let secrets = fixtures::secrets(&spec());
    assert!(
        secrets.len() >= 14,
        "the secret list looks incomplete: {} entries",
        secrets.len()
    );
    let forbidden = forbidden(&secrets);
    let files = snapshot_files();
    assert!(
        files.len() >= 12,
        "only {} snapshot files: the scan would prove little",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        for leak in leaks(&text, &forbidden) {
            found.push(format!("{}: {leak}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "secrets in snapshots:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_snapshot_contains_anything_token_shaped() {
    let mut found = Vec::new();
    for file in snapshot_files() {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        for run in token_shaped_runs(&text) {
            found.push(format!("{}: {run}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "token-shaped text in snapshots:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_a_planted_secret_whole_or_in_part() {
    let secrets = fixtures::secrets(&spec());
    let forbidden = forbidden(&secrets);
    let api_token = fixtures::API_TOKEN.to_owned();
    assert_eq!(leaks(&format!("x {api_token} y"), &forbidden).len(), 1);
    let basic = fixtures::basic_credentials();
    assert!(!leaks(&format!("Authorization: Basic {basic}"), &forbidden).is_empty());
    let token = secrets
        .iter()
        .find(|secret| secret.starts_with("eyJ"))
        .expect("the spec's example tokens are in the list");
    let ciphertext = token
        .split('.')
        .max_by_key(|segment| segment.len())
        .expect("segments");
    assert!(!leaks(&format!("body starts: {ciphertext}"), &forbidden).is_empty());
    assert!(!token_shaped_runs(token).is_empty());
    // The secrets of the operations beyond create and refresh are listed too.
    let spec = spec();
    let bearer = fixtures::access_token();
    assert!(!leaks(&format!("Authorization: Bearer {bearer}"), &forbidden).is_empty());
    let from_request = |operation: &str, key: &str| -> String {
        signalwire_fabric_contract_tests::request_examples(&spec, operation)
            .into_iter()
            .find_map(|(_, example)| example.get(key)?.as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("{operation} has no request example with {key}"))
    };
    let click_to_call = from_request("create_guest_embed_token", "token");
    assert!(
        click_to_call.len() < 40,
        "a click-to-call token is short: only the list, not its shape, finds it"
    );
    assert!(!leaks(&format!("token: {click_to_call}"), &forbidden).is_empty());
    let password = from_request("create_subscriber", "password");
    assert!(!leaks(&format!("password: {password}"), &forbidden).is_empty());
    assert!(!leaks(&format!("password: {}", fixtures::PASSWORD), &forbidden).is_empty());
    for operation in ["create_subscriber_invite_token", "create_guest_embed_token"] {
        let (_, example) = signalwire_fabric_contract_tests::success_example(&spec, operation);
        let token = example
            .get("token")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("{operation}: the success example has a token"));
        assert!(
            !leaks(&format!("issued: {token}"), &forbidden).is_empty(),
            "{operation}"
        );
    }
    assert!(
        leaks(
            "display: 401 Unauthorized (server says: Unauthorized)",
            &forbidden
        )
        .is_empty()
    );
}
