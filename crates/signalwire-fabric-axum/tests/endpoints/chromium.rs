//! The example's page in a real headless Chromium, driven over WebDriver: sign-in, a
//! token, a refresh 5 s before its expiry, and a second user who cannot get the first
//! user's token.
//!
//! Chromium and chromedriver come from Debian's packages (`.ci/run` installs them). Where
//! they are missing the test says `SKIPPED` and passes, except under `CI=true`, where it
//! fails. `CHROMIUM` and `CHROMEDRIVER` name other binaries.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signalwire_fabric::InProcessCoordinator;
use signalwire_fabric_fake::{FakeSpace, Operation};

use crate::demo::{Demo, DemoSettings};

/// Finds `name` on the `PATH`, or takes the path in the environment variable `variable`.
fn binary(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Says so where cargo's test output capture cannot hide it.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// A headless Chromium under chromedriver, in a fresh profile. Both processes run in a
/// process group of their own, which is killed when this is closed or dropped.
struct HeadlessChromium {
    driver: Child,
    base: String,
    session: Option<String>,
    http: reqwest::Client,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl HeadlessChromium {
    /// Starts the browser, or says why not: `None` (after printing `SKIPPED`) when the
    /// binaries are missing outside CI.
    async fn start_or_skip() -> Option<Self> {
        let chromium = binary("CHROMIUM", &["chromium", "chromium-browser"]);
        let driver = binary("CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let why = "chromium or chromedriver is not installed \
                       (apt-get install -y chromium chromium-driver)";
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("the browser test must run in CI, but {why}");
            }
            say(&format!(
                "SKIPPED: the real-browser test of the demo page: {why}"
            ));
            return None;
        };
        Some(Self::start(&chromium, &driver).await)
    }

    async fn start(chromium: &Path, driver: &Path) -> Self {
        let profile = tempfile::tempdir().expect("a profile directory");
        let log = profile.path().join("chromedriver.log");
        let port = {
            let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port");
            probe.local_addr().expect("its address").port()
        };
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new(driver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts")
        };
        let mut browser = Self {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            session: None,
            http: crate::common::http_client(),
            log,
            _profile: profile,
        };
        browser.wait_until_ready().await;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!(
                "--user-data-dir={}",
                browser._profile.path().join("chromium").display()
            ),
        ];
        let capabilities = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            }}
        });
        let created = browser.command("POST", "/session", capabilities).await;
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| browser.fail(&format!("no WebDriver session: {created}")));
        browser.session = Some(session.to_owned());
        browser
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = self.http.get(format!("{}/status", self.base)).send().await;
            if let Ok(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    return;
                }
            }
            if Instant::now() > deadline {
                self.fail("chromedriver did not become ready in 20 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One WebDriver command; its `value`.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let answer = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|error| self.fail(&format!("WebDriver {path}: {error}")));
        let body: Value = answer.json().await.unwrap_or_default();
        body["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!(
            "/session/{}{rest}",
            self.session.as_deref().unwrap_or("none")
        )
    }

    async fn open(&self, url: &str) {
        self.command("POST", &self.session_path("/url"), json!({ "url": url }))
            .await;
    }

    /// The text of the element with this id.
    async fn text_of(&self, id: &str) -> String {
        let script = "return document.getElementById(arguments[0]).textContent;";
        let value = self
            .command(
                "POST",
                &self.session_path("/execute/sync"),
                json!({"script": script, "args": [id]}),
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Ends the WebDriver session (which closes Chromium) and stops everything.
    async fn close(mut self) {
        if self.session.is_some() {
            let _ = tokio::time::timeout(
                Duration::from_secs(10),
                self.command("DELETE", &self.session_path(""), json!({})),
            )
            .await;
            self.session = None;
        }
        self.kill();
    }

    fn kill(&mut self) {
        // The whole group: chromedriver and the browser processes it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// Panics with `why` and the end of chromedriver's log.
    fn fail(&self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: String = log
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("{why}\n--- chromedriver log (end) ---\n{tail}");
    }
}

impl Drop for HeadlessChromium {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_signs_in_refreshes_before_expiry_and_keeps_users_apart_in_chromium() {
    let Some(browser) = HeadlessChromium::start_or_skip().await else {
        return;
    };
    let fake = FakeSpace::start().await;
    let settings = DemoSettings::default();
    let demo = Demo::new(
        fake.client(),
        Arc::new(InProcessCoordinator::new()),
        settings,
    );
    let instance = demo
        .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the demo starts");
    browser.open(&format!("{}/?auto", instance.url())).await;

    // The page needs the token's life less 5 s to get to its refresh: about 8 s.
    let deadline = Instant::now() + settings.token_lifetime + Duration::from_secs(30);
    let result: Value = loop {
        let text = browser.text_of("result").await;
        let result: Value = serde_json::from_str(&text).unwrap_or_default();
        if !result["done"].is_null() || Instant::now() > deadline {
            break result;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let steps = browser.text_of("steps").await;
    browser.close().await;

    assert_eq!(result["done"], "ok", "the page's run: {result:#} {steps}");
    assert_eq!(result["anonymous"], "unauthenticated");
    assert_eq!(result["signedIn"], "alice");
    let expiry_at = result["expiryAt"].as_u64().expect("an expiry in ms");
    let refreshed_at = result["refreshedAt"].as_u64().expect("when it refreshed");
    assert!(
        refreshed_at + 6_000 >= expiry_at && refreshed_at < expiry_at,
        "refreshed 5 s before expiry: at {refreshed_at}, expiry {expiry_at}"
    );
    assert_eq!(result["refreshedIsNew"], true, "{result:#}");
    assert_ne!(result["refreshedToken"], result["token"]);
    assert!(result["refreshedExpiryAt"].as_u64() > Some(expiry_at + 60_000));
    assert_eq!(result["bodyNamingAlice"], "invalid_body");
    assert_eq!(result["bobGotAlicesToken"], false);
    assert_ne!(result["bobToken"], result["refreshedToken"]);
    // What SignalWire saw: two subscribers' tokens and one refresh, for alice.
    let creates: Vec<String> = fake
        .journal()
        .into_iter()
        .filter(|entry| entry.operation == Some(Operation::Create))
        .filter_map(|entry| {
            entry
                .body
                .and_then(|body| body["reference"].as_str().map(str::to_owned))
        })
        .collect();
    assert_eq!(creates, ["alice@example.com", "bob@example.com"]);
    assert_eq!(fake.answered_count(Operation::Refresh, 201), 1);
    assert_eq!(fake.refresh_count(), 1);
}
