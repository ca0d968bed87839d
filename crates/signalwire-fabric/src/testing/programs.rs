//! The workspace's one rule for tests that need a program the machine may not have
//! (`redis-server`, `redis-cli`, Chromium and chromedriver, the browser SDK's npm
//! install): without it a test says `SKIPPED` where the test harness cannot hide it, and
//! passes; under `CI=true` it fails instead, because CI must run every test (`.ci/run`
//! installs what they need). [`Program::require`] looks a program up under that rule;
//! [`skip_or_fail`] is the rule itself, for anything else a test may lack.

use std::io::Write as _;
use std::path::PathBuf;

/// A program a test needs: the names to look for on `PATH`, the environment variable
/// that names another binary instead, and how to install it.
///
/// ```
/// use signalwire_fabric::testing::Program;
///
/// const SH: Program = Program {
///     names: &["sh"],
///     variable: "SWF_EXAMPLE_SH",
///     install: "install a POSIX shell",
/// };
///
/// # fn main() {
/// // In a test: without `sh`, this says SKIPPED and the test returns (under CI=true it
/// // fails instead).
/// let Some(sh) = SH.require("my_test") else { return };
/// assert!(sh.is_file());
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The names to look for in each directory of `PATH`, in order
    /// (`["chromium", "chromium-browser"]`).
    pub names: &'static [&'static str],
    /// The environment variable that names the binary to use instead (`REDIS_SERVER`).
    pub variable: &'static str,
    /// How to get it, said when it is missing (`install Debian's redis-server package`).
    pub install: &'static str,
}

impl Program {
    /// Where it is: the file `$variable` names when that is set (`None` when it names no
    /// file), else the first of `names` found on `PATH`.
    pub fn find(&self) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(self.variable) {
            return Some(PathBuf::from(path)).filter(|path| path.is_file());
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|dir| self.names.iter().map(move |name| dir.join(name)))
            .find(|candidate| candidate.is_file())
    }

    /// [`Program::find`], or, when it is missing, `None` after [`skip_or_fail`] said why
    /// `test` does not run (so under `CI=true` this panics instead).
    #[track_caller]
    pub fn require(&self, test: &str) -> Option<PathBuf> {
        let found = self.find();
        if found.is_none() {
            let name = self.names.first().copied().unwrap_or(self.variable);
            skip_or_fail(
                test,
                &format!(
                    "{name} not found ({}, or set {} to its path)",
                    self.install, self.variable
                ),
            );
        }
        found
    }
}

/// Says that `test` does not run, and why, as a line `SKIPPED: <test>: <why>` written
/// straight to stderr, past the test harness's output capture; under `CI=true` panics
/// instead, because CI must run every test. The caller then returns without asserting.
///
/// ```
/// // Outside CI this prints "SKIPPED: my_test: the SDK is not installed" and returns.
/// # if std::env::var("CI").as_deref() != Ok("true") {
/// signalwire_fabric::testing::skip_or_fail("my_test", "the SDK is not installed");
/// # }
/// ```
#[track_caller]
pub fn skip_or_fail(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "{test}: {why}; under CI=true every test must run (.ci/run installs what they need)"
        );
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Set for the child run of [`child_requires_programs`].
    const CHILD: &str = "SWF_TESTING_PROGRAMS_CHILD";
    /// What the child's present program's variable names.
    const PRESENT: &str = "SWF_TESTING_PROGRAMS_PRESENT";

    const MISSING: Program = Program {
        names: &["swf-no-such-program", "swf-nor-this-one"],
        variable: "SWF_TESTING_PROGRAMS_MISSING",
        install: "nothing installs it",
    };

    /// Runs [`child_requires_programs`] in a child process with `CI` set to `ci` (or
    /// unset); whether it passed, and everything it wrote.
    fn child(ci: Option<&str>) -> (bool, String) {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command
            .args([
                "--exact",
                "testing::programs::tests::child_requires_programs",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env(PRESENT, std::env::current_exe().expect("the test binary"))
            .env_remove("CI")
            .env_remove(MISSING.variable);
        if let Some(ci) = ci {
            command.env("CI", ci);
        }
        let output = command.output().expect("the test binary runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    #[test]
    fn a_missing_program_says_skipped_and_passes_except_under_ci_where_it_fails() {
        for ci in [None, Some("false"), Some("1")] {
            let (passed, text) = child(ci);
            assert!(passed, "CI={ci:?}: {text}");
            assert!(
                text.contains(
                    "SKIPPED: the child: swf-no-such-program not found (nothing installs it, \
                     or set SWF_TESTING_PROGRAMS_MISSING to its path)"
                ),
                "CI={ci:?}: {text}"
            );
        }
        let (passed, text) = child(Some("true"));
        assert!(!passed, "under CI=true a missing program fails: {text}");
        assert!(
            text.contains("the child: swf-no-such-program not found")
                && text.contains("under CI=true every test must run"),
            "{text}"
        );
        assert!(!text.contains("SKIPPED"), "{text}");
    }

    #[test]
    #[ignore = "a child of a_missing_program_says_skipped_and_passes_except_under_ci_where_it_fails"]
    fn child_requires_programs() {
        let Some(present) = std::env::var_os(PRESENT).filter(|_| std::env::var_os(CHILD).is_some())
        else {
            return; // run by hand: nothing to do
        };
        // A variable naming a file wins over PATH; one naming no file finds nothing.
        let named = Program {
            names: &["swf-no-such-program"],
            variable: PRESENT,
            install: "it is this test binary",
        };
        assert_eq!(named.find(), Some(PathBuf::from(&present)));
        let nowhere = Program {
            names: &["sh"],
            variable: CHILD, // "1": no such file
            install: "",
        };
        assert_eq!(nowhere.find(), None);
        let on_path = Program {
            names: &["swf-no-such-program", "sh"],
            variable: MISSING.variable,
            install: "",
        };
        assert!(on_path.find().is_some_and(|sh| sh.ends_with("sh")));
        assert_eq!(MISSING.require("the child"), None);
    }
}
