//! `subscribers ...` and `tokens guest|invite|embed`, run as a user would against a fake.

use assert_cmd::Command;
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{self, Run, command_for, json_lines, new_subscriber, without_credentials};

/// Runs `command` with `stdin`, returning (exit code, stdout, stderr).
fn run(command: &mut Command, stdin: &str) -> (i32, String, String) {
    let Run {
        code,
        stdout,
        stderr,
    } = common::run(command, stdin);
    (code, stdout, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_can_be_created_read_updated_listed_and_deleted() {
    let fake = FakeSpace::builder()
        .page_size(2)
        .start()
        .await
        .expect("starts");
    let mut ids = Vec::new();
    for name in ["ann", "ben", "cid"] {
        let (code, stdout, stderr) = run(
            command_for(&fake).args([
                "subscribers",
                "create",
                "--email",
                &format!("{name}@example.com"),
                "--first-name",
                name,
                "--json",
            ]),
            "",
        );
        assert_eq!(code, 0, "{stderr}");
        let created = &json_lines(&stdout)[0];
        assert_eq!(created["email"], format!("{name}@example.com"));
        assert_eq!(created["first_name"], name);
        ids.push(created["id"].as_str().expect("an id").to_owned());
    }

    let (code, stdout, stderr) = run(
        command_for(&fake).args(["subscribers", "list", "--json"]),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let listed: Vec<String> = json_lines(&stdout)
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed, ids, "every subscriber, across two pages, in order");
    assert_eq!(
        fake.request_count(Operation::ListSubscribers),
        2,
        "followed links.next once"
    );

    let (code, stdout, stderr) = run(
        command_for(&fake).args([
            "subscribers",
            "update",
            &ids[1],
            "--email",
            "ben@example.com",
            "--display-name",
            "Ben B.",
            "--json",
        ]),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json_lines(&stdout)[0]["display_name"], "Ben B.");

    let (code, stdout, _) = run(command_for(&fake).args(["subscribers", "get", &ids[1]]), "");
    assert_eq!(code, 0);
    assert!(
        stdout.contains("ben@example.com") && stdout.contains("Ben B."),
        "{stdout}"
    );

    let (code, stdout, stderr) = run(
        command_for(&fake).args(["subscribers", "addresses", &ids[0], "--json"]),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let addresses = json_lines(&stdout);
    assert!(!addresses.is_empty(), "each subscriber has an address");
    assert!(
        addresses[0]["channels"]["video"].as_str().is_some(),
        "{stdout}"
    );

    let (code, stdout, stderr) = run(
        command_for(&fake).args(["subscribers", "delete", &ids[2]]),
        "",
    );
    assert_eq!(
        (code, stdout.trim()),
        (0, format!("deleted {}", ids[2]).as_str()),
        "{stderr}"
    );
    let (code, _, stderr) = run(command_for(&fake).args(["subscribers", "get", &ids[2]]), "");
    assert_eq!(code, 1, "not found: {stderr}");
    assert!(stderr.contains("404 Not Found"), "{stderr}");

    let (code, _, stderr) = run(
        command_for(&fake).args(["subscribers", "get", "not-a-uuid"]),
        "",
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("invalid id: is not a UUID"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_invite_and_embed_tokens_come_out_shortened_or_as_json() {
    let fake = FakeSpace::start().await;
    let (code, stdout, stderr) = run(
        command_for(&fake).args([
            "tokens",
            "create",
            "--reference",
            "dee@example.com",
            "--json",
        ]),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let pair = &json_lines(&stdout)[0];
    let access_token = pair["access_token"].as_str().expect("a token").to_owned();
    let resource = {
        let (_, stdout, _) = run(
            command_for(&fake).args(["subscribers", "list", "--json"]),
            "",
        );
        json_lines(&stdout)
            .into_iter()
            .find(|s| s["email"] == "dee@example.com")
            .expect("the token's subscriber is a resource")
    };
    let (_, stdout, _) = run(
        command_for(&fake).args([
            "subscribers",
            "addresses",
            resource["id"].as_str().expect("id"),
            "--json",
        ]),
        "",
    );
    let address = json_lines(&stdout)[0]["id"]
        .as_str()
        .expect("an address id")
        .to_owned();

    let (code, stdout, stderr) = run(
        command_for(&fake).args(["tokens", "guest", "--address", &address]),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("created a guest token pair"), "{stdout}");
    assert!(stdout.contains("eyJhbGciOi... ("), "shortened: {stdout}");

    // The invite needs no project credentials: only the subscriber's access token, on stdin.
    let mut invite = without_credentials(fake.base_url());
    let (code, stdout, stderr) = run(
        invite.args(["tokens", "invite", "--address-id", &address, "--json"]),
        &access_token,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        json_lines(&stdout)[0]["token"]
            .as_str()
            .is_some_and(|t| t.len() > 40),
        "{stdout}"
    );

    // The embed token needs no credentials at all.
    let mut embed = without_credentials(fake.base_url());
    let c2c = fake.click_to_call_token().to_owned();
    let (code, stdout, stderr) = run(embed.args(["tokens", "embed", "--c2c-token", &c2c]), "");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("created an embed token: eyJ"),
        "{stdout}"
    );
    let embed_request = fake
        .journal()
        .into_iter()
        .rev()
        .find(|entry| entry.operation == Some(Operation::EmbedToken))
        .expect("journaled");
    assert!(
        !embed_request.authorization_sent,
        "no credentials were sent"
    );

    // A guest token for 11 addresses is refused before sending.
    let before = fake.journal().len();
    let mut eleven = command_for(&fake);
    eleven.args(["tokens", "guest"]);
    for _ in 0..11 {
        eleven.args(["--address", &address]);
    }
    let (code, _, stderr) = run(&mut eleven, "");
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("allows 1 to 10"), "{stderr}");
    assert_eq!(fake.journal().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_through_another_base_url_of_the_same_fake_reads_every_page() {
    // `localhost` instead of the fake's `127.0.0.1`: the fake's next links name the
    // address the CLI used, so the CLI follows them to the end.
    let fake = FakeSpace::builder()
        .page_size(2)
        .start()
        .await
        .expect("starts");
    for n in 0..5 {
        fake.create_subscriber(&format!("s{n}@example.com"));
    }
    let base_url = format!("http://localhost:{}", fake.address().port());
    let (code, stdout, stderr) = run(
        command_for(&fake)
            .env("SIGNALWIRE_BASE_URL", &base_url)
            .args(["subscribers", "list", "--json"]),
        "",
    );
    assert_eq!(code, 0, "{stderr}");
    let emails: Vec<String> = json_lines(&stdout)
        .iter()
        .map(|s| s["email"].as_str().expect("an email").to_owned())
        .collect();
    let expected: Vec<String> = (0..5).map(|n| format!("s{n}@example.com")).collect();
    assert_eq!(emails, expected);
    assert_eq!(fake.request_count(Operation::ListSubscribers), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_that_takes_details_sends_each_one_and_the_time_zone_in_both_spellings() {
    // `tokens create`, `subscribers create` and `subscribers update` share one set of
    // detail flags. The time zone is `--time-zone`; `--timezone`, which `subscribers`
    // used to take, still works but is not shown. The API names the field `time_zone`
    // in token requests and `timezone` in subscriber requests.
    let fake = FakeSpace::start().await;
    let id = new_subscriber(&fake, "zoe@example.com");
    let dir = tempfile::tempdir().expect("temp dir");
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "correct horse battery\n").expect("written");
    let details = [
        ("--first-name", "first_name", "Zoe"),
        ("--last-name", "last_name", "Zed"),
        ("--display-name", "display_name", "Zoe Z."),
        ("--job-title", "job_title", "Tester"),
        ("--country", "country", "Sweden"),
        ("--company-name", "company_name", "Acme"),
    ];
    for (spelling, zone, name) in [
        ("--time-zone", "Europe/Stockholm", "ann"),
        ("--timezone", "America/Chicago", "ben"),
    ] {
        let reference = format!("{name}@example.com");
        let email = format!("{name}.new@example.com");
        let commands: [(&[&str], &str); 3] = [
            (
                &["tokens", "create", "--reference", &reference],
                "time_zone",
            ),
            (&["subscribers", "create", "--email", &email], "timezone"),
            (
                &["subscribers", "update", &id, "--email", "zoe@example.com"],
                "timezone",
            ),
        ];
        for (args, time_zone_field) in commands {
            let before = fake.journal().len();
            let mut command = command_for(&fake);
            command.args(args).args([spelling, zone]);
            for (flag, _, value) in details {
                command.args([flag, value]);
            }
            command.arg("--password-file").arg(&password_file);
            let (code, _, stderr) = run(&mut command, "");
            assert_eq!(code, 0, "{args:?} {spelling}: {stderr}");
            let sent = fake.journal()[before..].to_vec();
            assert_eq!(sent.len(), 1, "{args:?} {spelling}: one request");
            let body = sent[0].body.as_ref().expect("a JSON body");
            assert_eq!(body[time_zone_field], zone, "{args:?} {spelling}: {body}");
            for (flag, field, value) in details {
                assert_eq!(body[field], value, "{args:?} {flag}: {body}");
            }
            assert_eq!(
                body["password"], "correct horse battery",
                "{args:?}: the password file, its newline trimmed"
            );
        }
    }
    for command in [
        ["tokens", "create"],
        ["subscribers", "create"],
        ["subscribers", "update"],
    ] {
        let (code, help, _) = run(command_for(&fake).args(command).arg("--help"), "");
        assert_eq!(code, 0);
        assert!(
            help.contains("--time-zone <TIME_ZONE>"),
            "{command:?}: {help}"
        );
        assert!(!help.contains("--timezone"), "{command:?}: {help}");
        for (flag, _, _) in details {
            assert!(help.contains(flag), "{command:?} {flag}: {help}");
        }
        assert!(
            help.contains("--password-file <PATH>"),
            "{command:?}: {help}"
        );
    }
}
