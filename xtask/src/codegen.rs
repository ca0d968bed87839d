//! Every file derived from `openapi/fabric-subscribers.yaml`, and the check that they are
//! fresh.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use signalwire_codegen::{SPEC_PATH, Spec};

/// The committed, reviewed client that `signalwire-fabric-api` compiles.
const CLIENT_COPY: &str = "crates/signalwire-fabric-api/generated/client.rs";
const README: &str = "README.md";
const TABLE_START: &str = "<!-- operations:start (cargo xtask codegen) -->\n";
const TABLE_END: &str = "<!-- operations:end -->";

/// The workspace root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Brings every derived file up to date, or with `check`, reports the stale ones.
pub fn run(root: &Path, check: bool) -> Result<()> {
    let stale: Vec<String> = derived_files(root)?
        .into_iter()
        .filter_map(|(path, contents)| {
            ensure_file_contents(root, &path, &contents, check).transpose()
        })
        .collect::<Result<_>>()?;
    if stale.is_empty() {
        println!("codegen: every file derived from {SPEC_PATH} is up to date");
        return Ok(());
    }
    if check {
        bail!(
            "{} stale: run `cargo xtask codegen` and commit the result",
            stale.join(", ")
        );
    }
    for path in stale {
        println!("codegen: wrote {path}");
    }
    Ok(())
}

/// Each derived file's path (relative to the root) with the contents it must have.
fn derived_files(root: &Path) -> Result<Vec<(String, String)>> {
    let spec = Spec::load(root.join(SPEC_PATH))?;
    let client = spec.generate_client()?;
    let readme_path = root.join(README);
    let readme = std::fs::read_to_string(&readme_path)
        .with_context(|| format!("reading {}", readme_path.display()))?;
    let readme = replace_between_markers(&normalize_newlines(&readme), &spec.operations_table())?;
    Ok(vec![
        (CLIENT_COPY.to_owned(), client),
        (README.to_owned(), readme),
    ])
}

fn replace_between_markers(text: &str, table: &str) -> Result<String> {
    let (Some(start), Some(end)) = (text.find(TABLE_START), text.find(TABLE_END)) else {
        bail!(
            "{README} lacks the markers `{}` and `{TABLE_END}`",
            TABLE_START.trim_end()
        );
    };
    let body_start = start + TABLE_START.len();
    if end < body_start {
        bail!("{README}: `{TABLE_END}` comes before its start marker");
    }
    Ok(format!("{}{table}{}", &text[..body_start], &text[end..]))
}

/// `text` with Windows line endings turned into `\n`, the only ending the generator writes,
/// so a checkout made with `core.autocrlf` is not stale for that alone.
fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Rewrites `path` to hold `contents`, or with `check`, prints a diff and leaves it. Returns
/// the path when it was stale; line endings do not count (see [`normalize_newlines`]).
fn ensure_file_contents(
    root: &Path,
    path: &str,
    contents: &str,
    check: bool,
) -> Result<Option<String>> {
    let full = root.join(path);
    let current = normalize_newlines(&std::fs::read_to_string(&full).unwrap_or_default());
    if current == contents {
        return Ok(None);
    }
    if check {
        let mut diff = String::new();
        let text_diff = similar::TextDiff::from_lines(&current, contents);
        let _ = write!(
            diff,
            "{}",
            text_diff.unified_diff().context_radius(2).header(
                &format!("{path} (committed)"),
                &format!("{path} (from the spec)")
            )
        );
        eprintln!("{diff}");
    } else {
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&full, contents).with_context(|| format!("writing {}", full.display()))?;
    }
    Ok(Some(path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same check CI runs, so a plain `cargo test` catches a stale derived file.
    #[test]
    fn derived_files_match_the_spec() {
        if let Err(error) = run(&workspace_root(), true) {
            panic!("{error:#}");
        }
    }

    /// A one-character edit to the spec must make the committed client stale.
    #[test]
    fn a_one_character_spec_edit_makes_the_committed_client_stale() {
        let root = workspace_root();
        let spec = std::fs::read_to_string(root.join(SPEC_PATH)).expect("the spec is readable");
        let edited = spec.replacen(
            "summary: Exchange a refresh token for a new token pair",
            "summary: Exchange a refresh token for a new token paiR",
            1,
        );
        assert_ne!(edited, spec, "the edited line exists in the spec");
        let regenerated = Spec::parse(&edited)
            .and_then(|spec| spec.generate_client())
            .expect("still a valid spec");
        let committed = std::fs::read_to_string(root.join(CLIENT_COPY)).expect("committed copy");
        assert_ne!(regenerated, committed);
        assert!(
            ensure_file_contents(&root, CLIENT_COPY, &regenerated, true)
                .expect("check mode writes nothing")
                .is_some()
        );
        assert_eq!(
            std::fs::read_to_string(root.join(CLIENT_COPY)).expect("still there"),
            committed,
            "--check must not write"
        );
    }

    /// A checkout with CRLF line endings (git's `core.autocrlf` on Windows) is fresh, and
    /// `codegen` leaves it alone; a one-character change in it is still stale.
    #[test]
    fn a_crlf_checkout_is_fresh_and_a_change_in_it_is_not() {
        let root = workspace_root();
        let checkout = tempfile::tempdir().expect("a temporary directory");
        let crlf_copy = |path: &str| {
            let text = std::fs::read_to_string(root.join(path)).expect("readable");
            assert!(
                !text.contains('\r'),
                "{path} is committed with LF line endings"
            );
            let copy = checkout.path().join(path);
            std::fs::create_dir_all(copy.parent().expect("a file in a directory"))
                .expect("directories created");
            std::fs::write(&copy, text.replace('\n', "\r\n")).expect("copy written");
            copy
        };
        crlf_copy(SPEC_PATH);
        let readme = crlf_copy(README);
        let client = crlf_copy(CLIENT_COPY);
        let before = std::fs::read(&client).expect("readable");

        if let Err(error) = run(checkout.path(), true) {
            panic!("--check must pass on a CRLF checkout: {error:#}");
        }
        run(checkout.path(), false).expect("codegen runs");
        assert_eq!(
            std::fs::read(&client).expect("readable"),
            before,
            "left alone"
        );
        assert!(
            std::fs::read_to_string(&readme)
                .expect("readable")
                .contains("<!-- operations:start (cargo xtask codegen) -->\r\n"),
            "README left alone"
        );

        let edited = String::from_utf8(before).expect("UTF-8").replacen(
            "pub mod types {",
            "pub mod typeS {",
            1,
        );
        std::fs::write(&client, edited).expect("edited");
        let error = run(checkout.path(), true).expect_err("a changed character is stale");
        assert!(error.to_string().contains(CLIENT_COPY), "{error:#}");
    }

    #[test]
    fn the_table_replaces_only_what_lies_between_the_markers() {
        let text = format!("intro\n{TABLE_START}old\n{TABLE_END}\noutro\n");
        let replaced = replace_between_markers(&text, "new\n").expect("markers present");
        assert_eq!(
            replaced,
            format!("intro\n{TABLE_START}new\n{TABLE_END}\noutro\n")
        );
    }

    #[test]
    fn missing_markers_are_an_error_that_names_them() {
        let error =
            replace_between_markers("no markers here", "table").expect_err("markers are required");
        assert!(error.to_string().contains("operations:start"), "{error}");
    }
}
