//! SECURITY.md names, for every row, the test that proves it as `path::test_name` (a
//! `::test_name` after it in the same cell means the same file). This check keeps those
//! names true: every file must exist and define a function of that name. It runs as an
//! ordinary test, so renaming a test without updating SECURITY.md fails `cargo test`.

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
                Ok(source) => {
                    let defined =
                        source
                            .match_indices(&format!("fn {function}"))
                            .any(|(at, found)| {
                                source[at + found.len()..]
                                    .chars()
                                    .next()
                                    .is_some_and(|next| {
                                        !(next.is_ascii_alphanumeric() || next == '_')
                                    })
                            });
                    if !defined {
                        dangling.push(format!("{file}::{name}"));
                    }
                }
            }
        }
    }
    (checked, dangling)
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
}
