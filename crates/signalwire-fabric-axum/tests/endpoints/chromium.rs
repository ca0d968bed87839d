//! A headless Chromium driven over WebDriver, for the tests that run the example's page
//! with SignalWire's real browser SDK in it.
//!
//! Chromium and chromedriver come from Debian's packages, the SDK from npm (`.ci/run`
//! installs all three). Where one is missing a test says `SKIPPED` and passes, except
//! under `CI=true`, where it fails (the workspace's one rule for this,
//! `signalwire_fabric::testing::Program`). `CHROMIUM` and `CHROMEDRIVER` name other
//! binaries.
//!
//! The browser resolves no name but `localhost` and `*.localhost` (both to 127.0.0.1), so
//! nothing a page does leaves loopback: the SDK's attempts to reach the fake space's hosts
//! (`*.signalwire.test`) fail at once.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use signalwire_fabric::testing::{Program, skip_or_fail};

/// The browser: `$CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`.
const CHROMIUM: Program = Program {
    names: &["chromium", "chromium-browser"],
    variable: "CHROMIUM",
    install: "apt-get install -y chromium",
};

/// Its WebDriver: `$CHROMEDRIVER`, else `chromedriver` on the `PATH`.
const CHROMEDRIVER: Program = Program {
    names: &["chromedriver"],
    variable: "CHROMEDRIVER",
    install: "apt-get install -y chromium-driver",
};

/// A headless Chromium under chromedriver, in a fresh profile. Both processes run in a
/// process group of their own, which is killed when this is closed or dropped.
pub struct HeadlessChromium {
    driver: Child,
    base: String,
    session: Option<String>,
    http: reqwest::Client,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl HeadlessChromium {
    /// Starts the browser for `test`, or says why not: `None` (after printing `SKIPPED`)
    /// when Chromium, chromedriver or the example's npm install of the SDK is missing,
    /// outside CI.
    pub async fn start_or_skip(test: &str) -> Option<Self> {
        let chromium = CHROMIUM.require(test)?;
        let driver = CHROMEDRIVER.require(test)?;
        if let Err(missing) = crate::demo::installed_sdk() {
            skip_or_fail(test, &missing);
            return None;
        }
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
                // Chromium's own scratch directories go with the profile, not in /tmp
                // (a killed browser leaves them behind).
                .env("TMPDIR", profile.path())
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
            // Every tab's timers on time, seen or not.
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            // Nothing leaves loopback (see the module's docs).
            "--host-resolver-rules=MAP localhost 127.0.0.1, MAP *.localhost 127.0.0.1, \
             MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
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

    /// Loads `url` in the current window.
    pub async fn open(&self, url: &str) {
        let answer = self
            .command("POST", &self.session_path("/url"), json!({ "url": url }))
            .await;
        if !answer.is_null() {
            self.fail(&format!("opening {url}: {answer}"));
        }
    }

    /// Opens a new window, makes it the current one and loads `url` in it; its handle.
    pub async fn open_window(&self, url: &str) -> String {
        let created = self
            .command(
                "POST",
                &self.session_path("/window/new"),
                json!({"type": "window"}),
            )
            .await;
        let handle = created["handle"]
            .as_str()
            .unwrap_or_else(|| self.fail(&format!("no new window: {created}")))
            .to_owned();
        self.switch_to(&handle).await;
        self.open(url).await;
        handle
    }

    /// Makes the window `handle` the current one.
    pub async fn switch_to(&self, handle: &str) {
        let answer = self
            .command(
                "POST",
                &self.session_path("/window"),
                json!({ "handle": handle }),
            )
            .await;
        if !answer.is_null() {
            self.fail(&format!("switching to window {handle}: {answer}"));
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the current window;
    /// what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Runs `script` in the current window and waits for the promise it returns; its
    /// value, or `{"error": message}` when it rejects.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        let body = format!(
            "const done = arguments[arguments.length - 1];\n\
             Promise.resolve().then(async () => {{ {script} }})\n\
             .then((value) => done(value ?? null), (error) => done({{ error: String(error) }}));"
        );
        self.command(
            "POST",
            &self.session_path("/execute/async"),
            json!({"script": body, "args": args}),
        )
        .await
    }

    /// The text of the element with this id.
    pub async fn text_of(&self, id: &str) -> String {
        let script = "return document.getElementById(arguments[0]).textContent;";
        let value = self.execute(script, json!([id])).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Ends the WebDriver session (which closes Chromium) and stops everything.
    pub async fn close(mut self) {
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
    pub fn fail(&self, why: &str) -> ! {
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
