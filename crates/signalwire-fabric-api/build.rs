//! Generates the client from the contract into `OUT_DIR/client.rs`.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec_path = root.join(signalwire_codegen::SPEC_PATH);
    println!("cargo::rerun-if-changed={}", spec_path.display());

    let source = signalwire_codegen::Spec::load(&spec_path)
        .and_then(|spec| spec.generate_client())
        .unwrap_or_else(|error| {
            // A build script reports failure by exiting non-zero; the message names the
            // operation or path at fault.
            eprintln!("error: {error}");
            std::process::exit(1);
        });
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("client.rs");
    if let Err(error) = std::fs::write(&out, source) {
        eprintln!("error: cannot write {}: {error}", out.display());
        std::process::exit(1);
    }
}
