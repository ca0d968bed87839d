//! The binary with a stdout that cannot take its output: a pipe whose reader is gone
//! before the command writes (`| true`, `| head` that has finished), or a full device.
//! Nothing panics; output that loses nothing ends quietly with 0; a refreshed pair,
//! which cannot be asked for again, is printed whole on stderr (exit code 1); other new
//! tokens are shown nowhere and the command fails (exit code 1).

use std::process::{Command, Stdio};

use signalwire_fabric::{RefreshToken, StoredTokenPair, TokenKind};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{
    Run, command_for, first_address, json_among, new_refresh_token, new_subscriber, process,
    process_for, run, run_with_stdout, run_with_stdout_closed, shows_a_token,
};

fn assert_no_panic(run: &Run) {
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("failed printing"),
        "{}",
        run.stderr
    );
    assert_ne!(run.code, 101, "a panic's exit code: {}", run.stderr);
}

/// Refreshes `refresh_token` through the CLI with a stdout that works; returns the new
/// refresh token, or panics when the fake refuses it.
fn refresh_through_the_cli(fake: &FakeSpace, refresh_token: &str) -> String {
    let output = run(
        command_for(fake).args(["tokens", "refresh", "--json"]),
        refresh_token,
    )
    .succeeded();
    let json: serde_json::Value = serde_json::from_str(&output.stdout).expect("JSON");
    json["refresh_token"].as_str().expect("a string").to_owned()
}

/// Checks that stderr of a refresh whose stdout failed holds the new pair whole, says it
/// is the only copy, and that the pair is the live one: the fake accepts its refresh
/// token. `old` is the refresh token the command spent.
fn assert_the_pair_is_on_stderr_and_live(fake: &FakeSpace, run: &Run, old: &str, why: &str) {
    assert_no_panic(run);
    assert_eq!(run.code, 1, "exit code 1, a local failure: {}", run.stderr);
    assert!(run.stderr.contains(why), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("printed above, on stderr, in full: it is the only copy"),
        "{}",
        run.stderr
    );
    let pairs = json_among(&run.stderr);
    assert_eq!(pairs.len(), 1, "one whole pair: {}", run.stderr);
    let printed = pairs[0]["refresh_token"].as_str().expect("a refresh token");
    assert_ne!(printed, old);
    assert_eq!(
        RefreshToken::parse(printed).expect("whole").kind(),
        Some(TokenKind::Refresh)
    );
    let spent = fake.answered_count(Operation::Refresh, 201);
    refresh_through_the_cli(fake, printed);
    assert_eq!(
        fake.answered_count(Operation::Refresh, 201),
        spent + 1,
        "the printed refresh token was accepted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refreshed_pair_stdout_cannot_take_is_printed_whole_on_stderr() {
    let fake = FakeSpace::start().await;

    // `tokens refresh --json < rt | true`: the reader is gone.
    let old = new_refresh_token(&fake, "ann@example.com");
    let mut refresh = process_for(&fake);
    refresh.args(["tokens", "refresh", "--json"]);
    let closed = run_with_stdout_closed(refresh, &old);
    assert_the_pair_is_on_stderr_and_live(&fake, &closed, &old, "stdout was closed");

    // A stdout that fails another way: a full device.
    #[cfg(target_os = "linux")]
    {
        let old = new_refresh_token(&fake, "ben@example.com");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut refresh = process_for(&fake);
        refresh.args(["tokens", "refresh", "--json"]);
        let failed = run_with_stdout(refresh, &old, Stdio::from(full));
        assert_the_pair_is_on_stderr_and_live(
            &fake,
            &failed,
            &old,
            "cannot write to stdout: No space left on device",
        );
    }

    // With --out, the saved pair is the copy: a closed stdout loses nothing, and the
    // command ends quietly, with no secret on stderr.
    let old = new_refresh_token(&fake, "cid@example.com");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pair.json");
    let mut refresh = process_for(&fake);
    refresh
        .args(["tokens", "refresh", "--json", "--out"])
        .arg(&path);
    let saved = run_with_stdout_closed(refresh, &old);
    assert_no_panic(&saved);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    assert_eq!(saved.stderr, "");
    let stored: StoredTokenPair =
        serde_json::from_slice(&std::fs::read(&path).expect("saved")).expect("a stored pair");
    refresh_through_the_cli(&fake, stored.refresh_token().expose_secret());
}

#[tokio::test(flavor = "multi_thread")]
async fn output_that_loses_nothing_ends_quietly_with_0_when_stdout_is_closed() {
    let fake = FakeSpace::start().await;
    let id = new_subscriber(&fake, "dan@example.com");
    let runs: Vec<(Vec<&str>, Command)> = vec![
        (vec!["subscribers", "list"], process_for(&fake)),
        (vec!["subscribers", "list", "--json"], process_for(&fake)),
        (vec!["subscribers", "get", &id], process_for(&fake)),
        (
            vec!["subscribers", "addresses", &id, "--json"],
            process_for(&fake),
        ),
        (
            vec!["subscribers", "create", "--email", "eve@example.com"],
            process_for(&fake),
        ),
        (vec!["--help"], process()),
        (vec!["tokens", "refresh", "--help"], process()),
        (vec!["demo"], process()),
        (vec!["fake", "serve"], process()),
    ];
    for (args, mut command) in runs {
        command.args(&args);
        let run = run_with_stdout_closed(command, "");
        assert_no_panic(&run);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?} ends quietly");
    }
    assert!(
        fake.subscriber("eve@example.com").is_some(),
        "the create went through before its output was refused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_token_stdout_cannot_take_is_shown_nowhere_and_the_command_fails() {
    // Created, guest, invite and embed tokens can be asked for again: rather than put
    // a secret on stderr (often a log), the command fails and says to run it again.
    let fake = FakeSpace::start().await;
    let issued = fake.create_subscriber_token("fay@example.com");
    let address = first_address(&fake, "fay@example.com");
    let runs: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["tokens", "create", "--reference", "gus@example.com"],
            "",
        ),
        (
            vec![
                "tokens",
                "create",
                "--reference",
                "gus@example.com",
                "--json",
            ],
            "",
        ),
        (vec!["tokens", "guest", "--address", &address, "--json"], ""),
        (
            vec!["tokens", "invite", "--address-id", &address, "--json"],
            &issued.token,
        ),
        (
            vec![
                "tokens",
                "embed",
                "--c2c-token",
                fake.click_to_call_token(),
                "--json",
            ],
            "",
        ),
    ];
    for (args, stdin) in runs {
        let before = fake.journal().len();
        let mut command = process_for(&fake);
        command.args(&args);
        let run = run_with_stdout_closed(command, stdin);
        assert_no_panic(&run);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(
                "stdout was closed, so the new token was not shown anywhere; run the command \
                 again for another"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!shows_a_token(&run.stderr), "{args:?}: {}", run.stderr);
        assert_eq!(
            fake.journal()[before..]
                .iter()
                .filter(|entry| entry.status < 300)
                .count(),
            1,
            "{args:?}: the token was minted, once"
        );
    }
}
