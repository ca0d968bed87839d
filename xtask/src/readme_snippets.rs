//! The READMEs' Rust snippets are only worth showing if they compile against the public
//! API. `tests/tests/readme.rs` holds each one verbatim inside a function that compiles
//! (and runs it against the fake space where it can); this check keeps the two in step:
//! every ```rust block of `README.md` and `crates/*/README.md` must appear in that file,
//! token for token and comment for comment (whitespace aside).

use std::path::Path;

/// Where the snippets are compiled.
pub const COMPILED: &str = "tests/tests/readme.rs";

/// The ```rust blocks of `markdown`, each as its non-blank lines, trimmed.
pub fn rust_blocks(markdown: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence.starts_with("```rust") => current = Some(Vec::new()),
            None => {}
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some(block) if !line.trim().is_empty() => block.push(line.trim().to_owned()),
            Some(_) => {}
        }
    }
    blocks
}

/// Whether `block` appears in `source` once all whitespace is set aside (so rustfmt may
/// wrap and indent the compiled copy as it likes, but not change a token or comment).
pub fn contains_block(source: &str, block: &[String]) -> bool {
    let squeeze = |text: &str| text.split_whitespace().collect::<String>();
    squeeze(source).contains(&squeeze(&block.join("\n")))
}

/// The README files whose snippets are checked: the root one and each crate's.
pub fn readmes(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![root.join("README.md")];
    if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
        let mut crates: Vec<_> = crates
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("README.md"))
            .filter(|path| path.exists())
            .collect();
        crates.sort();
        found.extend(crates);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::workspace_root;

    #[test]
    fn every_readme_rust_block_is_compiled_in_tests_readme() {
        let root = workspace_root();
        let compiled = std::fs::read_to_string(root.join(COMPILED)).expect(COMPILED);
        let mut checked = 0;
        let mut missing = Vec::new();
        for readme in readmes(&root) {
            let markdown = std::fs::read_to_string(&readme).expect("a README");
            for block in rust_blocks(&markdown) {
                checked += 1;
                if !contains_block(&compiled, &block) {
                    let name = readme.strip_prefix(&root).unwrap_or(&readme).display();
                    missing.push(format!("{name}: {}", block.join("\n")));
                }
            }
        }
        assert!(
            checked >= 8,
            "only {checked} snippets found: did the fences change?"
        );
        assert_eq!(
            missing,
            Vec::<String>::new(),
            "README snippets not compiled in {COMPILED}"
        );
    }

    #[test]
    fn a_block_matches_only_token_for_token() {
        let blocks =
            rust_blocks("text\n```rust\nlet a = 1;\n\n  let b = 2;\n```\n```sh\nls\n```\n");
        assert_eq!(
            blocks,
            vec![vec!["let a = 1;".to_owned(), "let b = 2;".to_owned()]]
        );
        assert!(contains_block(
            "fn f() {\n    let a = 1;\n    let b = 2;\n}",
            &blocks[0]
        ));
        assert!(!contains_block(
            "fn f() {\n    let a = 1;\n    let c = 2;\n}",
            &blocks[0]
        ));
        assert!(!contains_block("let b = 2;\nlet a = 1;", &blocks[0]));
        assert!(contains_block("let a =\n    1; let b = 2;", &blocks[0]));
    }
}
