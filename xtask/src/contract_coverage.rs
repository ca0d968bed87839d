//! `cargo xtask contract-coverage`: the contract suite's coverage table, as its coverage
//! test prints it.

use std::path::Path;

use anyhow::{Result, bail};
use signalwire_codegen::{SPEC_PATH, Spec};
use signalwire_fabric_contract_tests::cases::{REQUEST_CASES, RESPONSE_CASES};
use signalwire_fabric_contract_tests::coverage;

/// Prints the table; fails when the registry (`tests/src/cases.rs`) disagrees with the spec.
pub fn run(root: &Path) -> Result<()> {
    let spec = Spec::load(root.join(SPEC_PATH))?;
    let coverage = coverage::check(&spec, REQUEST_CASES, RESPONSE_CASES);
    println!("{}", coverage.table());
    if !coverage.is_complete() {
        bail!(
            "{} problem(s): register the missing cases in tests/src/cases.rs and remove stale ones",
            coverage.problems.len()
        );
    }
    Ok(())
}
