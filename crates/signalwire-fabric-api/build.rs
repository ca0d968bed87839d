//! Runs progenitor on the spec, with the `codegen` feature.
//!
//! - With `codegen` (on in the workspace's own tests), it generates the client from the
//!   spec through `signalwire-codegen` into `OUT_DIR/client.rs`, and the crate compiles
//!   that. The spec is `SIGNALWIRE_FABRIC_SPEC` when set, else the repository's
//!   `openapi/fabric-subscribers.yaml` next to this crate.
//! - Without it (what users of the SDK build), it does nothing but say so, and the crate
//!   compiles the committed, reviewed copy in `generated/client.rs`, so users do not
//!   compile progenitor. `cargo xtask codegen --check` fails whenever that copy differs
//!   from what the spec generates.
//!
//! Either way it tells crates that depend on this one (through the `links` key) where the
//! client came from: `DEP_SIGNALWIRE_FABRIC_API_CLIENT` is `spec` or `committed`. The
//! contract tests' build script refuses to build unless it is `spec`.

fn main() {
    println!("cargo::rerun-if-env-changed=SIGNALWIRE_FABRIC_SPEC");
    #[cfg(feature = "codegen")]
    generate();
    println!(
        "cargo::metadata=client={}",
        if cfg!(feature = "codegen") {
            "spec"
        } else {
            "committed"
        }
    );
}

#[cfg(feature = "codegen")]
fn generate() {
    use std::path::PathBuf;

    let spec_path = match std::env::var_os("SIGNALWIRE_FABRIC_SPEC") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(signalwire_codegen::SPEC_PATH),
    };
    println!("cargo::rerun-if-changed={}", spec_path.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("client.rs");
    let result = signalwire_codegen::Spec::load(&spec_path)
        .and_then(|spec| spec.generate_client())
        .map_err(|error| {
            format!(
                "{error}\n(the `codegen` feature generates the client from the spec at {}: run it \
                 from the repository, or set SIGNALWIRE_FABRIC_SPEC to the spec's path)",
                spec_path.display()
            )
        })
        .and_then(|source| {
            std::fs::write(&out, source)
                .map_err(|error| format!("cannot write {}: {error}", out.display()))
        });
    if let Err(message) = result {
        // A build script reports failure by exiting non-zero; the message names the
        // operation or path at fault.
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
