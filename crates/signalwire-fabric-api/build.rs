//! Puts the generated client in `OUT_DIR/client.rs`.
//!
//! - With the `codegen` feature (on in the workspace's own test builds), it generates the
//!   client from `openapi/fabric-subscribers.yaml` with progenitor, through
//!   `signalwire-codegen`.
//! - Without it (what users of the SDK build), it uses the committed copy in
//!   `generated/client.rs`, so they do not compile progenitor and its dependencies. That
//!   copy is exactly what the feature generates: `cargo xtask codegen --check`, in CI and
//!   as an ordinary test, fails when it is stale.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("client.rs");
    let source = client_source(&manifest_dir).unwrap_or_else(|error| {
        // A build script reports failure by exiting non-zero; the message names the
        // operation or path at fault.
        eprintln!("error: {error}");
        std::process::exit(1);
    });
    if let Err(error) = std::fs::write(&out, source) {
        eprintln!("error: cannot write {}: {error}", out.display());
        std::process::exit(1);
    }
}

#[cfg(feature = "codegen")]
fn client_source(manifest_dir: &Path) -> Result<String, String> {
    let spec_path = manifest_dir
        .join("../..")
        .join(signalwire_codegen::SPEC_PATH);
    println!("cargo::rerun-if-changed={}", spec_path.display());
    signalwire_codegen::Spec::load(&spec_path)
        .and_then(|spec| spec.generate_client())
        .map_err(|error| error.to_string())
}

#[cfg(not(feature = "codegen"))]
fn client_source(manifest_dir: &Path) -> Result<String, String> {
    let copy = manifest_dir.join("generated/client.rs");
    println!("cargo::rerun-if-changed={}", copy.display());
    std::fs::read_to_string(&copy).map_err(|error| {
        format!(
            "cannot read {} ({error}); run `cargo xtask codegen`",
            copy.display()
        )
    })
}
