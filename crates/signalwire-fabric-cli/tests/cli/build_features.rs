//! What each build of the binary says about the `fake` feature: the default build's
//! `demo` and `fake` explain how to leave them out, and the lean build
//! (`cargo test -p signalwire-fabric-cli --no-default-features --test cli`) says they are
//! missing and why.

use crate::common::{Run, run, signalwire_fabric};

/// Runs the binary with `args`, a clean environment and an empty stdin.
fn run_with(args: &[&str]) -> Run {
    run(signalwire_fabric().args(args), "")
}

/// The names in the help's `Commands:` section.
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[cfg(feature = "fake")]
#[test]
fn demo_and_fake_help_say_a_lean_build_leaves_them_out() {
    let help = run_with(&["--help"]);
    assert_eq!(
        listed_commands(&help.stdout),
        ["demo", "tokens", "subscribers", "fake", "help"]
    );
    for command in ["demo", "fake"] {
        let help = run_with(&[command, "--help"]);
        assert_eq!(help.code, 0, "{command} --help");
        let help = help.stdout;
        assert!(
            help.contains("default `fake` feature") && help.contains("--no-default-features"),
            "{command} --help:\n{help}"
        );
    }
}

#[cfg(not(feature = "fake"))]
#[test]
fn lean_help_lists_no_demo_or_fake_and_says_why() {
    let help = run_with(&["--help"]);
    assert_eq!(help.code, 0);
    let help = help.stdout;
    assert_eq!(listed_commands(&help), ["tokens", "subscribers", "help"]);
    crate::common::snapshots().bind(|| insta::assert_snapshot!("lean_help", help));
}

#[cfg(not(feature = "fake"))]
#[test]
fn lean_demo_and_fake_fail_as_usage_errors_that_say_how_to_get_them() {
    for args in [&["demo"][..], &["fake", "serve"], &["fake"]] {
        let run = run_with(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
        let stderr = run.stderr;
        assert!(
            stderr.starts_with("error: this build of signalwire-fabric has no `demo` or `fake`")
                && stderr.contains("--no-default-features")
                && stderr.contains("with default features"),
            "{args:?}: {stderr}"
        );
    }
}
