//! SECURITY.md names, for every row, the test that proves it as `path::test_name` (a
//! `::test_name` after it in the same cell means the same file). This check keeps those
//! names true: every file must exist and define a function of that name, and that function
//! must be a test `cargo test` runs (marked `#[test]` or `#[tokio::test]`, or named in a
//! test-generating macro's list; not `#[ignore]`d). It runs as an ordinary test, so
//! renaming a test without updating SECURITY.md fails `cargo test`.

use std::path::Path;

/// The references in `markdown` that name nothing: `path::name` whose file is missing or
/// has no `fn name`. Also returns how many references were checked.
pub fn dangling(root: &Path, markdown: &str) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut dangling = Vec::new();
    for line in markdown.lines() {
        let mut file: Option<&str> = None;
        for code in line.split('`').skip(1).step_by(2) {
            let Some((path, name)) = code.split_once("::") else {
                if code.ends_with(".rs") && !root.join(code).exists() {
                    dangling.push(format!("{code} (no such file)"));
                }
                continue;
            };
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            if path.ends_with(".rs") {
                file = Some(path);
            } else if !path.is_empty() {
                continue;
            }
            let Some(file) = file else { continue };
            let function = name.rsplit("::").next().unwrap_or(name);
            checked += 1;
            match std::fs::read_to_string(root.join(file)) {
                Err(_) => dangling.push(format!("{file} (no such file) for {name}")),
                Ok(source) => match test_kind(&source, function) {
                    TestKind::Runs => {}
                    TestKind::Missing => dangling.push(format!("{file}::{name}")),
                    TestKind::NotATest => {
                        dangling.push(format!("{file}::{name} (not a test)"));
                    }
                    TestKind::Ignored => {
                        dangling.push(format!("{file}::{name} (ignored: never runs)"));
                    }
                },
            }
        }
    }
    (checked, dangling)
}

/// What `source` makes of the function `name`.
#[derive(Debug, PartialEq)]
pub enum TestKind {
    /// A test `cargo test` runs: `#[test]`, `#[tokio::test]` (also inside `proptest!`), or
    /// a function a test-generating macro in the same file is invoked with.
    Runs,
    /// No `fn name` at all.
    Missing,
    /// A function, but nothing makes it a test.
    NotATest,
    /// A test marked `#[ignore]`: `cargo test` skips it.
    Ignored,
}

/// Classifies `fn name` in `source` by the attributes right above it.
pub fn test_kind(source: &str, name: &str) -> TestKind {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let Some(at) = source
        .match_indices(&format!("fn {name}"))
        .find_map(|(at, found)| {
            source[at + found.len()..]
                .chars()
                .next()
                .is_some_and(|next| !is_ident(next))
                .then_some(at)
        })
    else {
        return TestKind::Missing;
    };
    // The attribute and comment lines directly above the function.
    let line_start = source[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let attributes: Vec<&str> = source[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .take_while(|line| line.starts_with("#[") || line.starts_with("//") || line.ends_with(")]"))
        .collect();
    if attributes.iter().any(|line| line.starts_with("#[ignore")) {
        return TestKind::Ignored;
    }
    let marked = attributes
        .iter()
        .any(|line| line.starts_with("#[test]") || line.starts_with("#[tokio::test"));
    // A macro that turns a list of names into tests: the name stands alone on a line
    // of an invocation (`name,`).
    let generated = source
        .lines()
        .any(|line| line.trim().trim_end_matches(',') == name);
    if marked || generated {
        TestKind::Runs
    } else {
        TestKind::NotATest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::workspace_root;

    #[test]
    fn every_test_security_md_names_exists() {
        let root = workspace_root();
        let markdown = std::fs::read_to_string(root.join("SECURITY.md")).expect("SECURITY.md");
        let (checked, dangling) = dangling(&root, &markdown);
        assert!(
            checked >= 100,
            "only {checked} references found: is the format the same?"
        );
        assert_eq!(
            dangling,
            Vec::<String>::new(),
            "SECURITY.md names tests that do not exist"
        );
    }

    #[test]
    fn a_renamed_test_or_a_missing_file_is_reported() {
        let root = workspace_root();
        let markdown = "| row | `xtask/src/security_refs.rs::a_renamed_test_or_a_missing_file_is_reported`, \
                        `::no_such_test` | `xtask/src/nowhere.rs::anything` |";
        let (checked, dangling) = dangling(&root, markdown);
        assert_eq!(checked, 3);
        assert_eq!(
            dangling,
            [
                "xtask/src/security_refs.rs::no_such_test",
                "xtask/src/nowhere.rs (no such file) for anything"
            ]
        );
    }

    #[test]
    fn only_tests_that_run_count() {
        let source = "#[test]\nfn plain() {}\n\n#[tokio::test(start_paused = true)]\n\
                      async fn paused() {}\n\n#[test]\n#[ignore = \"a child\"]\nfn child() {}\n\n\
                      fn helper() {}\n\npub async fn generated() {}\nboth!(\n    generated,\n);\n";
        assert_eq!(test_kind(source, "plain"), TestKind::Runs);
        assert_eq!(test_kind(source, "paused"), TestKind::Runs);
        assert_eq!(test_kind(source, "generated"), TestKind::Runs);
        assert_eq!(test_kind(source, "child"), TestKind::Ignored);
        assert_eq!(test_kind(source, "helper"), TestKind::NotATest);
        assert_eq!(test_kind(source, "help"), TestKind::Missing);
        assert_eq!(test_kind(source, "absent"), TestKind::Missing);
    }
}
