//! What each build of the binary says about the `fake` feature: the default build's
//! `demo` and `fake` explain how to leave them out, and the lean build
//! (`cargo test -p signalwire-fabric-cli --no-default-features --test build_features`)
//! says they are missing and why.

use std::process::{Command, Output};

fn signalwire_fabric(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signalwire-fabric"))
        .args(args)
        .env_clear()
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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
    let help = signalwire_fabric(&["--help"]);
    assert_eq!(
        listed_commands(&text(&help.stdout)),
        ["demo", "tokens", "subscribers", "fake", "help"]
    );
    for command in ["demo", "fake"] {
        let help = signalwire_fabric(&[command, "--help"]);
        assert_eq!(help.status.code(), Some(0), "{command} --help");
        let help = text(&help.stdout);
        assert!(
            help.contains("default `fake` feature") && help.contains("--no-default-features"),
            "{command} --help:\n{help}"
        );
    }
}

#[cfg(not(feature = "fake"))]
#[test]
fn lean_help_lists_no_demo_or_fake_and_says_why() {
    let help = signalwire_fabric(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = text(&help.stdout);
    assert_eq!(listed_commands(&help), ["tokens", "subscribers", "help"]);
    insta::assert_snapshot!("lean_help", help);
}

#[cfg(not(feature = "fake"))]
#[test]
fn lean_demo_and_fake_fail_as_usage_errors_that_say_how_to_get_them() {
    for args in [&["demo"][..], &["fake", "serve"], &["fake"]] {
        let run = signalwire_fabric(args);
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
        let stderr = text(&run.stderr);
        assert!(
            stderr.starts_with("error: this build of signalwire-fabric has no `demo` or `fake`")
                && stderr.contains("--no-default-features")
                && stderr.contains("with default features"),
            "{args:?}: {stderr}"
        );
    }
}
