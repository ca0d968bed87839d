//! The crates say `MIT OR Apache-2.0`; each one a user can download must carry both texts
//! (the MIT terms require the notice to travel with the code). The texts live once at the
//! root; each published crate links to them, and `cargo package` copies what they point at.

#[cfg(test)]
mod tests {
    use crate::codegen::workspace_root;

    #[test]
    fn every_published_crate_carries_both_license_texts() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(manifest.contains("license = \"MIT OR Apache-2.0\""));
        let mut published = 0;
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(root.join("crates")).expect("crates/") {
            let dir = entry.expect("an entry").path();
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("a manifest");
            if manifest.contains("publish = false") {
                continue;
            }
            published += 1;
            for (file, starts) in [
                ("LICENSE-MIT", "Copyright (c)"),
                (
                    "LICENSE-APACHE",
                    "                              Apache License",
                ),
            ] {
                // Reading through the link proves it resolves.
                match std::fs::read_to_string(dir.join(file)) {
                    Ok(text) if text.starts_with(starts) => {}
                    _ => missing.push(format!("{}/{file}", dir.display())),
                }
            }
        }
        assert!(published >= 7, "only {published} published crates found");
        assert_eq!(missing, Vec::<String>::new());
    }
}
