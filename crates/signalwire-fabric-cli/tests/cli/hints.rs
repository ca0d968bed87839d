//! The hint each command prints under an error fits what that command sent, checked
//! against a fake for every kind of refusal a command can meet.

use std::time::Duration;

use assert_cmd::Command;
use signalwire_fabric_fake::{FakeSpace, Fault, Operation};

use crate::common::{
    Run, command_for, first_address, free_port, new_refresh_token, run, without_credentials,
};

/// The project-credentials hint: only for commands that send those credentials.
const PROJECT_HINT: &str = "hint: check SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN";

/// The binary pointed at `fake`, with its project credentials when `credentials`.
fn command(fake: &FakeSpace, credentials: bool) -> Command {
    if credentials {
        command_for(fake)
    } else {
        without_credentials(fake.base_url())
    }
}

/// The single `hint:` line of `stderr`, if any.
fn hint_of(stderr: &str) -> Option<&str> {
    let hints: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("hint: "))
        .collect();
    assert!(hints.len() <= 1, "one hint at most: {stderr}");
    hints.first().copied()
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_refusals_point_at_the_click_to_call_token_not_the_project_credentials() {
    let fake = FakeSpace::start().await;
    // 403: a click-to-call token this space does not know.
    let Run { code, stderr, .. } = run(
        command(&fake, true).args([
            "tokens",
            "embed",
            "--c2c-token",
            "c2c_00000000000000000000000000000000",
        ]),
        "",
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("403 Forbidden"), "{stderr}");
    let hint = hint_of(&stderr).expect("a hint");
    assert!(hint.contains("only the click-to-call token"), "{hint}");
    assert!(hint.contains("--c2c-token"), "{hint}");
    assert!(!stderr.contains("SIGNALWIRE_API_TOKEN"), "{stderr}");
    assert!(!stderr.contains("SIGNALWIRE_PROJECT_ID"), "{stderr}");

    // 401 (a server or proxy that wants credentials anyway): the same, no project hint,
    // and indeed no credentials were sent.
    fake.inject(Operation::EmbedToken, Fault::status(401), 1);
    let Run { code, stderr, .. } = run(
        command(&fake, false).args(["tokens", "embed", "--c2c-token", fake.click_to_call_token()]),
        "",
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        hint_of(&stderr).is_some_and(|hint| hint.contains("only the click-to-call token")),
        "{stderr}"
    );
    assert!(!stderr.contains(PROJECT_HINT), "{stderr}");
    assert!(fake.journal().iter().all(|entry| !entry.authorization_sent));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_refused_401_points_at_the_subscribers_access_token() {
    let fake = FakeSpace::start().await;
    let pair = fake.create_subscriber_token("alice@example.com");
    let address = first_address(&fake, "alice@example.com");
    fake.clock().advance(Duration::from_secs(2 * 3600 + 1));
    for credentials in [true, false] {
        let Run { code, stderr, .. } = run(
            command(&fake, credentials).args(["tokens", "invite", "--address-id", &address]),
            &pair.token,
        );
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("401 Unauthorized"), "{stderr}");
        let hint = hint_of(&stderr).expect("a hint");
        assert!(hint.contains("the subscriber's access token"), "{hint}");
        assert!(hint.contains("--access-token-file"), "{hint}");
        assert!(!hint.contains("SIGNALWIRE_API_TOKEN"), "{hint}");
        assert!(
            !stderr.contains(&pair.token[..40]),
            "the token is not echoed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_that_are_not_the_callers_own_get_a_hint_for_guest_and_invite() {
    let fake = FakeSpace::start().await;
    let alice = fake.create_subscriber_token("alice@example.com");
    let unknown = "0b8e2f7d-4c10-4a51-9e3c-6f1c2b9e4d7a";
    let Run { code, stderr, .. } = run(
        command(&fake, true).args(["tokens", "guest", "--address", unknown]),
        "",
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(
        hint_of(&stderr).is_some_and(|hint| hint.contains("every --address must be an address of this project")),
        "{stderr}"
    );
    let Run { code, stderr, .. } = run(
        command(&fake, false).args(["tokens", "invite", "--address-id", unknown]),
        &alice.token,
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(
        hint_of(&stderr)
            .is_some_and(|hint| hint.contains("one of the access token's subscriber's own")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_that_send_the_project_credentials_point_at_them_when_refused() {
    let fake = FakeSpace::start().await;
    let refresh_token = new_refresh_token(&fake, "alice@example.com");
    let address = first_address(&fake, "alice@example.com");
    let id = fake
        .subscriber("alice@example.com")
        .expect("alice")
        .resource_id
        .to_string();
    let cases: [(&[&str], &str); 7] = [
        (&["tokens", "create", "--reference", "a@example.com"], ""),
        (&["tokens", "refresh", "--json"], &refresh_token),
        (&["tokens", "guest", "--address", &address], ""),
        (&["subscribers", "list"], ""),
        (&["subscribers", "get", &id], ""),
        (&["subscribers", "delete", &id], ""),
        (&["subscribers", "addresses", &id], ""),
    ];
    for (args, stdin) in cases {
        let Run { code, stderr, .. } = run(
            command(&fake, true)
                .env("SIGNALWIRE_API_TOKEN", "PTnot-the-fakes")
                .args(args),
            stdin,
        );
        assert_eq!(code, 3, "{args:?}: {stderr}");
        assert!(
            hint_of(&stderr).is_some_and(|hint| hint.starts_with(PROJECT_HINT)),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(fake.refresh_count(), 1, "the refresh was sent and refused");
    assert!(
        fake.subscriber("alice@example.com").is_some(),
        "nothing was deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_says_whether_the_token_may_be_spent_or_is_dead() {
    let fake = FakeSpace::start().await;
    let refresh_token = new_refresh_token(&fake, "alice@example.com");

    // A 503 after the request reached a server: the token may be spent.
    fake.inject(Operation::Refresh, Fault::status(503).html(), 1);
    let Run { code, stderr, .. } = run(
        command(&fake, true).args(["tokens", "refresh", "--json"]),
        &refresh_token,
    );
    assert_eq!(code, 5, "{stderr}");
    let hint = hint_of(&stderr).expect("a hint");
    assert!(
        hint.contains("may have reached the server and spent the refresh token"),
        "{hint}"
    );
    assert!(hint.contains("try again with the same token"), "{hint}");

    // Another command meeting the same 503 just tries again later.
    fake.inject(Operation::Create, Fault::status(503).html(), 1);
    let Run { code, stderr, .. } = run(
        command(&fake, true).args(["tokens", "create", "--reference", "a@example.com"]),
        "",
    );
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(
        hint_of(&stderr),
        Some("hint: the server could not be reached or failed; try again later")
    );

    // Nothing listening: the refresh was certainly not sent, so nothing may be spent.
    let port = free_port();
    let Run { code, stderr, .. } = run(
        command(&fake, true)
            .env("SIGNALWIRE_BASE_URL", format!("http://127.0.0.1:{port}"))
            .args(["tokens", "refresh", "--json"]),
        &refresh_token,
    );
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(
        hint_of(&stderr),
        Some("hint: the server could not be reached or failed; try again later")
    );

    // The token still works, once; then it is dead, and the hint says so.
    let Run { code, stderr, .. } = run(
        command(&fake, true).args(["tokens", "refresh", "--json"]),
        &refresh_token,
    );
    assert_eq!(code, 0, "{stderr}");
    let Run { code, stderr, .. } = run(
        command(&fake, true).args(["tokens", "refresh", "--json"]),
        &refresh_token,
    );
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(
        hint_of(&stderr),
        Some(
            "hint: this refresh token will never work again; run `signalwire-fabric tokens create`"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_subscriber_id_hints_at_resource_ids_and_other_404s_do_not() {
    let fake = FakeSpace::start().await;
    let subscriber_id = fake
        .create_subscriber_token("alice@example.com")
        .subscriber_id
        .to_string();
    for verb in ["get", "delete", "addresses"] {
        let Run { code, stderr, .. } = run(
            command(&fake, true).args(["subscribers", verb, &subscriber_id]),
            "",
        );
        assert_eq!(code, 1, "{verb}: {stderr}");
        assert!(stderr.contains("404 Not Found"), "{verb}: {stderr}");
        assert!(
            hint_of(&stderr).is_some_and(
                |hint| hint.contains("the subscriber_id of a token pair is another id")
            ),
            "{verb}: {stderr}"
        );
    }
    fake.inject(Operation::Create, Fault::status(404), 1);
    let Run { code, stderr, .. } = run(
        command(&fake, true).args(["tokens", "create", "--reference", "a@example.com"]),
        "",
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(hint_of(&stderr), None, "{stderr}");
}
