//! The `signalwire-fabric` binary, run as a user would, against a fake space.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use signalwire_fabric::{AccessToken, RefreshToken, TokenKind};
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::common::{
    RUN_LIMIT, Run, command_for, first_address, free_port, json_among, new_refresh_token, process,
    process_for, run, shows_a_token, signalwire_fabric, snapshots, start_with_stdout,
    without_credentials,
};

#[test]
fn help_lists_the_commands_and_exit_codes() {
    let _snapshots = snapshots().bind_to_scope();
    let help = run(signalwire_fabric().arg("--help"), "");
    assert_eq!(help.code, 0);
    insta::assert_snapshot!("help", help.stdout);
    let create = run(signalwire_fabric().args(["tokens", "create", "--help"]), "");
    insta::assert_snapshot!("tokens_create_help", create.stdout);
    let refresh = run(
        signalwire_fabric().args(["tokens", "refresh", "--help"]),
        "",
    );
    insta::assert_snapshot!("tokens_refresh_help", refresh.stdout);
}

#[test]
fn the_demo_runs_to_the_end_and_shows_no_token() {
    let demo = run(signalwire_fabric().arg("demo"), "");
    assert_eq!(demo.code, 0, "stderr: {}", demo.stderr);
    assert!(!shows_a_token(&demo.stdout), "{}", demo.stdout);
    assert!(
        demo.stdout.contains("refresh tokens exchanged twice     0"),
        "{}",
        demo.stdout
    );
    let mut settings = snapshots();
    for (matcher, replacement) in [
        (r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:[port]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r"\(\d+ chars\)", "([n] chars)"),
    ] {
        settings.add_filter(matcher, replacement);
    }
    settings.bind(|| insta::assert_snapshot!("demo", demo.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_then_refresh_from_stdin_then_reuse_is_refused() {
    let fake = FakeSpace::start().await;

    let mut create = command_for(&fake);
    create.args([
        "tokens",
        "create",
        "--reference",
        "alice@example.com",
        "--json",
    ]);
    let created = run(&mut create, "").succeeded();
    let json: serde_json::Value = serde_json::from_str(&created.stdout).expect("JSON");
    let refresh_text = json["refresh_token"].as_str().expect("a string").to_owned();
    assert_eq!(
        RefreshToken::parse(refresh_text.clone())
            .expect("valid")
            .kind(),
        Some(TokenKind::Refresh)
    );
    let access_text = json["access_token"].as_str().expect("a string");
    assert_eq!(
        AccessToken::parse(access_text).expect("valid").kind(),
        Some(TokenKind::Access)
    );
    assert_eq!(
        json["subscriber_id"],
        fake.subscriber_id("alice@example.com")
            .expect("created")
            .to_string()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("pair.json");
    let mut refresh = command_for(&fake);
    refresh.args(["tokens", "refresh", "--out"]).arg(&saved);
    let refreshed = run(&mut refresh, &format!("{refresh_text}\n")).succeeded();
    assert!(
        refreshed
            .stdout
            .starts_with("refreshed (the old refresh token is now spent)"),
        "{}",
        refreshed.stdout
    );
    assert!(
        !shows_a_token(&refreshed.stdout),
        "human output shortens tokens: {}",
        refreshed.stdout
    );
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
    let stored: signalwire_fabric::StoredTokenPair =
        serde_json::from_slice(&std::fs::read(&saved).expect("saved")).expect("a stored pair");
    assert_ne!(
        stored.refresh_token().expose_secret(),
        refresh_text,
        "the new refresh token was kept"
    );

    let mut reuse = command_for(&fake);
    reuse.args(["tokens", "refresh", "--json"]);
    let refused = run(&mut reuse, &refresh_text);
    assert_eq!(refused.code, 4, "validation: {}", refused.stderr);
    assert!(
        refused.stderr.contains("token_invalid"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("run `signalwire-fabric tokens create`"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains(&refresh_text[..40]),
        "no token in messages"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn out_saves_the_pair_readable_by_the_owner_only() {
    let fake = FakeSpace::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pair.json");
    let mut create = command_for(&fake);
    create
        .args([
            "tokens",
            "create",
            "--reference",
            "bob@example.com",
            "--out",
        ])
        .arg(&path);
    run(&mut create, "").succeeded();
    let stored: signalwire_fabric::StoredTokenPair =
        serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("a stored pair");
    assert_eq!(stored.refresh_token().kind(), Some(TokenKind::Refresh));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_failure_has_its_own_exit_code_and_says_what_to_do() {
    let fake = FakeSpace::start().await;

    // Usage: no project id anywhere.
    let mut missing = command_for(&fake);
    missing.env_remove("SIGNALWIRE_PROJECT_ID").args([
        "tokens",
        "create",
        "--reference",
        "a@example.com",
    ]);
    run(&mut missing, "").failed_with(2, "set SIGNALWIRE_PROJECT_ID or pass --project-id");

    // Usage: clap's own errors.
    let result = run(command_for(&fake).args(["tokens", "create"]), "");
    assert_eq!(result.code, 2, "{}", result.stderr);

    // Credentials refused.
    let mut wrong = command_for(&fake);
    wrong
        .env("SIGNALWIRE_API_TOKEN", "PTnot-the-right-one")
        .args(["tokens", "create", "--reference", "a@example.com"]);
    let result = run(&mut wrong, "").failed_with(3, "401 Unauthorized");
    assert!(
        !result.stderr.contains("PTnot-the-right-one"),
        "the token is not echoed"
    );

    // Input refused before sending.
    let before = fake.journal().len();
    let mut bad = command_for(&fake);
    bad.args([
        "tokens",
        "create",
        "--reference",
        "a@example.com",
        "--fingerprint",
        "short",
    ]);
    run(&mut bad, "").failed_with(4, "invalid fingerprint");
    assert_eq!(fake.journal().len(), before, "nothing was sent");

    let mut not_a_token = command_for(&fake);
    not_a_token.args(["tokens", "refresh", "--json"]);
    run(&mut not_a_token, "not a token\n").failed_with(4, "invalid refresh_token");

    // Network: an injected 503, then a server that is gone.
    fake.inject(
        Operation::Create,
        signalwire_fabric_fake::Fault::status(503).html(),
        1,
    );
    let mut unavailable = command_for(&fake);
    unavailable.args(["tokens", "create", "--reference", "a@example.com"]);
    run(&mut unavailable, "").failed_with(5, "try again later");

    let port = free_port();
    let mut gone = command_for(&fake);
    gone.env("SIGNALWIRE_BASE_URL", format!("http://127.0.0.1:{port}"))
        .args(["tokens", "create", "--reference", "a@example.com"]);
    let result = run(&mut gone, "");
    assert_eq!(result.code, 5, "{}", result.stderr);
}

#[tokio::test]
async fn malformed_refresh_tokens_on_stdin_are_refused_before_anything_is_sent() {
    let fake = FakeSpace::start().await;
    let huge = "a".repeat(1 << 20);
    for input in [
        "",
        "   \n",
        huge.as_str(),
        "t\u{f6}k\u{e9}n.t\u{f6}k\u{e9}n.x.y.z",
        "eyJhbGciOiJkaXIifQ..aXY.Y3Q.dGFn\r\nX-Injected: yes",
        "eyJhbGciOiJkaXIifQ..a+b/c=.Y3Q.dGFn",
        "only.two",
        "a.b.c.d",
    ] {
        let before = fake.journal().len();
        let mut refresh = command_for(&fake);
        refresh.args(["tokens", "refresh", "--json"]);
        let result = run(&mut refresh, input);
        let shown: String = input.chars().take(40).collect();
        assert_eq!(result.code, 4, "{shown:?}: {}", result.stderr);
        assert!(
            result.stderr.contains("invalid refresh_token"),
            "{shown:?}: {}",
            result.stderr
        );
        assert_eq!(fake.journal().len(), before, "{shown:?}: nothing was sent");
        assert_eq!(result.stdout, "", "{shown:?}");
        if input.trim().len() >= 8 {
            assert!(
                !result.stderr.contains(input.trim()),
                "the input is not echoed: {}",
                result.stderr
            );
        }
    }
}

/// A `fake serve` child process, and what its banner said. Dropping it stops the child.
struct Served {
    child: std::process::Child,
    /// The banner's lines, up to and including "press Ctrl-C to stop".
    banner: Vec<String>,
    rest: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Served {
    /// Starts `signalwire-fabric fake serve` with `args` and reads its banner.
    fn start(args: &[&str]) -> Served {
        let mut child = process()
            .args(["fake", "serve"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let mut rest = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut banner = Vec::new();
        for line in rest.by_ref() {
            let line = line.expect("UTF-8");
            let last = line.starts_with("press Ctrl-C");
            banner.push(line);
            if last {
                break;
            }
        }
        Served {
            child,
            banner,
            rest,
        }
    }

    /// The value of `export <name>=<value>` in the banner.
    fn setting(&self, name: &str) -> &str {
        self.banner
            .iter()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("export ")?
                    .strip_prefix(name)?
                    .strip_prefix('=')
            })
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.banner))
    }

    /// The click-to-call token the banner says the fake accepts.
    fn click_to_call_token(&self) -> &str {
        self.banner
            .iter()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("click-to-call token (for `tokens embed --c2c-token`): ")
            })
            .unwrap_or_else(|| panic!("no click-to-call token in {:?}", self.banner))
    }

    /// A client with the banner's settings.
    fn client(&self) -> signalwire_fabric::Client {
        self.client_at(self.setting("SIGNALWIRE_BASE_URL"))
    }

    /// A client with the banner's credentials and another base URL.
    fn client_at(&self, base_url: &str) -> signalwire_fabric::Client {
        signalwire_fabric::Client::builder()
            .base_url(base_url)
            .project_id(self.setting("SIGNALWIRE_PROJECT_ID"))
            .api_token(self.setting("SIGNALWIRE_API_TOKEN"))
            .build()
            .expect("the printed settings are valid")
    }

    /// Sends Ctrl-C (SIGINT) to the child; returns its exit code and the lines it
    /// printed after the banner.
    fn interrupt(mut self) -> (Option<i32>, Vec<String>) {
        let interrupted = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(interrupted.success());
        let status = self.child.wait().expect("exits");
        let rest = self.rest.by_ref().map_while(Result::ok).collect();
        (status.code(), rest)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only when a test failed before interrupting it: the child must not outlive it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn fake_serve_prints_settings_that_work_and_stops_on_ctrl_c() {
    let served = Served::start(&[]);
    let created = current_thread_runtime().block_on(async {
        served
            .client()
            .subscriber_tokens()
            .create(signalwire_fabric::CreateSubscriberToken::new(
                "carol@example.com",
            ))
            .await
    });
    assert!(created.is_ok(), "{created:?}");

    let (code, rest) = served.interrupt();
    assert_eq!(code, Some(0));
    assert_eq!(rest, vec!["stopped after 1 requests".to_owned()]);
}

#[test]
fn fake_serve_with_a_public_url_names_it_in_every_page_link() {
    use futures_util::TryStreamExt as _;

    let port = free_port();
    let public_url = format!("http://localhost:{port}");
    let served = Served::start(&["--port", &port.to_string(), "--public-url", &public_url]);
    assert_eq!(served.setting("SIGNALWIRE_BASE_URL"), public_url);
    assert!(
        served.banner.contains(&format!(
            "page links name {public_url}, where clients reach it"
        )),
        "{:?}",
        served.banner
    );
    current_thread_runtime().block_on(async {
        let client = served.client();
        // One more than the fake's default page of 50.
        for n in 0..51 {
            client
                .subscribers()
                .create(signalwire_fabric::SubscriberFields::new(format!(
                    "s{n}@example.com"
                )))
                .await
                .expect("created");
        }
        let listed: Vec<signalwire_fabric::Subscriber> = client
            .subscribers()
            .list()
            .try_collect()
            .await
            .expect("every page, through the public URL");
        assert_eq!(listed.len(), 51);

        // Sent to 127.0.0.1 instead, the links still name the public URL, which the
        // client does not follow: the public URL wins over the Host.
        let elsewhere = served.client_at(&format!("http://127.0.0.1:{port}"));
        let error = elsewhere
            .subscribers()
            .list()
            .try_collect::<Vec<_>>()
            .await
            .expect_err("the next link names localhost");
        assert!(
            matches!(error, signalwire_fabric::Error::UnsafeLink { .. }),
            "{error:?}"
        );
    });
    let (code, _) = served.interrupt();
    assert_eq!(code, Some(0));

    let refused = run(
        signalwire_fabric().args(["fake", "serve", "--public-url", "ftp://localhost"]),
        "",
    );
    assert_eq!(refused.code, 2, "a usage error: {}", refused.stderr);
    assert!(refused.stderr.contains("public_url"), "{}", refused.stderr);
    assert_eq!(refused.stdout, "", "no banner");
}

/// `tokens embed --c2c-token <token>` against `base_url`, with no credentials at all.
fn embed_through_the_cli(base_url: &str, token: &str) -> Run {
    run(
        without_credentials(base_url).args(["tokens", "embed", "--c2c-token", token]),
        "",
    )
}

#[test]
fn fake_serve_prints_the_click_to_call_token_it_accepts_and_takes_a_chosen_one() {
    // The generated one, read from the banner, gets an embed token through the CLI.
    let served = Served::start(&[]);
    let printed = served.click_to_call_token().to_owned();
    let digits = printed.strip_prefix("c2c_").expect("c2c_ first");
    assert!(
        digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_hexdigit()),
        "{printed}"
    );
    let base_url = served.setting("SIGNALWIRE_BASE_URL").to_owned();
    let embedded = embed_through_the_cli(&base_url, &printed);
    assert_eq!(embedded.code, 0, "{}", embedded.stderr);
    assert!(
        embedded.stdout.starts_with("created an embed token: eyJ"),
        "{}",
        embedded.stdout
    );
    let unknown = embed_through_the_cli(&base_url, "c2c_00000000000000000000000000000000");
    assert_eq!(unknown.code, 3, "403: {}", unknown.stderr);
    assert!(
        unknown.stderr.contains("403 Forbidden"),
        "{}",
        unknown.stderr
    );
    let (code, rest) = served.interrupt();
    assert_eq!(code, Some(0));
    assert_eq!(rest, vec!["stopped after 2 requests".to_owned()]);

    // A chosen one is printed and accepted, through the facade as through the CLI.
    let chosen = "c2c_0123456789abcdef0123456789ABCDEF";
    let served = Served::start(&["--click-to-call-token", chosen]);
    assert_eq!(served.click_to_call_token(), chosen);
    let embed = current_thread_runtime()
        .block_on(async { served.client().embed_tokens().create(chosen).await });
    assert!(embed.is_ok(), "{embed:?}");
    let other = embed_through_the_cli(served.setting("SIGNALWIRE_BASE_URL"), &printed);
    assert_eq!(
        other.code, 3,
        "the generated one is not this fake's: {}",
        other.stderr
    );
    let (code, _) = served.interrupt();
    assert_eq!(code, Some(0));

    // One the fake could never accept is a usage error, and is not echoed.
    let refused = run(
        signalwire_fabric().args(["fake", "serve", "--click-to-call-token", "c2c_not-hex"]),
        "",
    )
    .failed_with(
        2,
        "click_to_call_token must be c2c_ followed by 32 hexadecimal digits",
    );
    assert!(
        !refused.stderr.contains("c2c_not-hex"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stdout, "", "no banner");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_with_nowhere_to_keep_the_new_pair_is_refused_before_anything_is_sent() {
    let fake = FakeSpace::start().await;
    let refresh_token = new_refresh_token(&fake, "alice@example.com");
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("refresh-token");
    std::fs::write(&token_file, &refresh_token).expect("written");

    // No --out and no --json: the new pair could only be shown shortened, and the spent
    // refresh token could not be replaced. Refused, whether the token comes on stdin or
    // from a file.
    let on_stdin = run(
        command_for(&fake).args(["tokens", "refresh"]),
        &refresh_token,
    );
    let from_file = run(
        command_for(&fake)
            .args(["tokens", "refresh", "--refresh-token-file"])
            .arg(&token_file),
        "",
    );
    for refused in [&on_stdin, &from_file] {
        assert_eq!(refused.code, 2, "a usage error: {}", refused.stderr);
        assert!(
            refused
                .stderr
                .contains("pass --out FILE to save it or --json to print it"),
            "{}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("nothing was sent"),
            "{}",
            refused.stderr
        );
        assert_eq!(refused.stdout, "");
    }

    // An --out the pair could never be saved to is refused before sending as well.
    let nowhere = dir.path().join("no-such-directory").join("pair.json");
    let refused = run(
        command_for(&fake)
            .args(["tokens", "refresh", "--out"])
            .arg(&nowhere),
        &refresh_token,
    )
    .failed_with(2, "cannot create a file in");
    assert!(!nowhere.exists());

    assert_eq!(
        fake.refresh_count(),
        0,
        "no refresh request reached the fake"
    );
    assert!(fake.journal().is_empty(), "nothing at all was sent");
    assert!(!shows_a_token(&on_stdin.stderr) && !shows_a_token(&refused.stderr));

    // The refresh token is still good: with --json the exchange goes through, once.
    let refreshed = run(
        command_for(&fake).args(["tokens", "refresh", "--json"]),
        &refresh_token,
    )
    .succeeded();
    let json: serde_json::Value = serde_json::from_str(&refreshed.stdout).expect("JSON");
    let new_refresh = json["refresh_token"]
        .as_str()
        .expect("the whole new refresh token");
    assert!(RefreshToken::parse(new_refresh).is_ok());
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
}

/// Runs `tokens refresh --json --out <dir>/pair.json` with `refresh_token` and `stdout`.
/// The --out passes the check before sending; then, while the fake holds its answer
/// back, a directory takes the file's place, so the save after the exchange fails.
async fn refresh_while_the_out_file_becomes_a_directory(
    fake: &FakeSpace,
    refresh_token: &str,
    stdout: Stdio,
) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("pair.json");
    fake.inject(
        Operation::Refresh,
        signalwire_fabric_fake::Fault::delay(Duration::from_secs(3)),
        1,
    );
    let answered = fake.answered_count(Operation::Refresh, 201);
    let mut child = start_with_stdout(
        process_for(fake)
            .args(["tokens", "refresh", "--json", "--out"])
            .arg(&out),
        stdout,
    );
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(refresh_token.as_bytes()).expect("written");
    }
    // The fake journals the exchange when it answers it, before the delay.
    let started = std::time::Instant::now();
    while fake.answered_count(Operation::Refresh, 201) == answered {
        assert!(started.elapsed() < RUN_LIMIT, "the refresh never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::create_dir(&out).expect("a directory in the way");
    std::fs::write(out.join("keep"), "x").expect("not empty");
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joined")
        .expect("waits")
        .into()
}

/// The one line of `text` that is a JSON pair, and its refresh token.
fn printed_refresh_token(text: &str) -> String {
    let pairs = json_among(text);
    assert_eq!(pairs.len(), 1, "one whole pair: {text}");
    pairs[0]["refresh_token"]
        .as_str()
        .expect("the whole new refresh token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_pair_that_cannot_be_saved_after_a_refresh_is_printed_whole_not_lost() {
    let fake = FakeSpace::start().await;
    let refresh_token = new_refresh_token(&fake, "alice@example.com");

    let result =
        refresh_while_the_out_file_becomes_a_directory(&fake, &refresh_token, Stdio::piped()).await;
    assert_eq!(result.code, 1, "a store failure: {}", result.stderr);
    assert_eq!(
        fake.answered_count(Operation::Refresh, 201),
        1,
        "the token was spent"
    );
    assert!(
        result.stderr.contains(
            "printed above in full instead: store it now (the old refresh token is spent)"
        ),
        "{}",
        result.stderr
    );
    assert!(!shows_a_token(&result.stderr), "{}", result.stderr);
    let printed = printed_refresh_token(&result.stdout);

    // Neither the file nor stdout (closed) can take the next pair: stderr gets it whole.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let result =
        refresh_while_the_out_file_becomes_a_directory(&fake, &printed, Stdio::from(writer)).await;
    assert_eq!(result.code, 1, "{}", result.stderr);
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 2);
    assert!(!result.stderr.contains("panicked"), "{}", result.stderr);
    assert!(
        result.stderr.contains("the new pair was not saved to "),
        "{}",
        result.stderr
    );
    assert!(
        result.stderr.contains(
            "stdout was closed, so the new pair was printed above, on stderr, in full: it is \
             the only copy"
        ),
        "{}",
        result.stderr
    );
    let printed = printed_refresh_token(&result.stderr);

    // The printed refresh token is the live one: it refreshes.
    run(
        command_for(&fake).args(["tokens", "refresh", "--json"]),
        &printed,
    )
    .succeeded();
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_out_that_names_a_directory_is_refused_before_anything_is_sent() {
    let fake = FakeSpace::start().await;
    let refresh_token = new_refresh_token(&fake, "alice@example.com");
    let address = first_address(&fake, "alice@example.com");
    let dir = tempfile::tempdir().expect("temp dir");
    let existing = dir.path().display().to_string();
    let with_slash = format!("{existing}/");
    let inside = dir.path().join("not-yet");
    let not_yet_a_directory = format!("{}/", inside.display());
    let outs = [
        (existing.as_str(), "names a directory"),
        (with_slash.as_str(), "names a directory"),
        (not_yet_a_directory.as_str(), "names a directory"),
        (".", "names a directory"),
        ("..", "names a directory"),
        ("/dev/null", "is not a regular file"),
    ];
    let commands: [&[&str]; 3] = [
        &["tokens", "refresh", "--json"],
        &["tokens", "create", "--reference", "bob@example.com"],
        &["tokens", "guest", "--address", &address],
    ];
    for (out, problem) in outs {
        for args in commands {
            let refused = run(
                command_for(&fake).args(args).args(["--out", out]),
                &refresh_token,
            );
            assert_eq!(refused.code, 2, "{args:?} --out {out}: {}", refused.stderr);
            assert!(
                refused.stderr.contains(&format!("--out {out}: {problem}")),
                "{args:?} --out {out}: {}",
                refused.stderr
            );
            assert!(
                refused.stderr.contains("nothing was sent"),
                "{}",
                refused.stderr
            );
            assert_eq!(refused.stdout, "");
        }
    }
    assert!(fake.journal().is_empty(), "nothing at all was sent");
    assert!(!inside.exists(), "nothing was created");

    // The refresh token is still good.
    run(
        command_for(&fake).args(["tokens", "refresh", "--json"]),
        &refresh_token,
    )
    .succeeded();
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_that_mint_a_pair_may_shorten_it_and_guest_saves_with_out() {
    // A created or guest pair can be asked for again, so the shortened view is allowed;
    // --out, which guest used to accept and ignore, saves the pair.
    let fake = FakeSpace::start().await;
    let created = run(
        command_for(&fake).args(["tokens", "create", "--reference", "eve@example.com"]),
        "",
    )
    .succeeded();
    assert!(
        created
            .stdout
            .contains("(tokens shortened: --json prints them in full, --out FILE saves them)"),
        "{}",
        created.stdout
    );
    assert!(!shows_a_token(&created.stdout));

    let address = first_address(&fake, "eve@example.com");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("guest.json");
    let guest = run(
        command_for(&fake)
            .args(["tokens", "guest", "--address", &address, "--out"])
            .arg(&path),
        "",
    )
    .succeeded();
    assert!(
        guest.stdout.starts_with("created a guest token pair"),
        "{}",
        guest.stdout
    );
    assert!(
        guest
            .stdout
            .contains(&format!("saved to {}", path.display())),
        "{}",
        guest.stdout
    );
    let stored: signalwire_fabric::StoredTokenPair =
        serde_json::from_slice(&std::fs::read(&path).expect("saved")).expect("a stored pair");
    assert_eq!(
        fake.token_allowed_addresses(stored.refresh_token().expose_secret()),
        Some(vec![address.parse().expect("a uuid")])
    );
}
