//! `cargo xtask msrv`: checks the part of the `rust-version` promise that a single
//! toolchain can check.
//!
//! Only one toolchain is installed where this project is built, so the published crates
//! cannot simply be compiled with the Rust they promise. The promise is held up by three
//! things instead:
//!
//! - **Dependencies** (this check): no crate that a published crate depends on, through
//!   normal or build dependencies, with every feature on and for every platform, at the
//!   versions in `Cargo.lock`, declares a `rust-version` newer than the published crate's.
//!   The highest one declared is the floor our promise cannot go below; the check prints
//!   it and the crates that set it. Crates that declare no `rust-version` cannot be
//!   checked; the check counts them.
//! - **The standard library**: clippy's `incompatible_msrv` lint (on by default, and
//!   named in `[workspace.lints.clippy]`) reads `rust-version` and flags every standard
//!   library item that became stable after it.
//! - **The language**: by review. Edition 2024 needs 1.85; `if let` chains, used in
//!   `signalwire-fabric-fake`, need 1.88.
//!
//! With `Cargo.lock` as committed, progenitor-client 0.15.1 and the icu_* 2.x crates
//! (through `url`) declare 1.88, as the let chains need, so `rust-version` is 1.88. A
//! user with an older lockfile or a newer toolchain gets other versions; cargo's
//! MSRV-aware resolver (the default for `resolver = "3"`) prefers versions that fit the
//! user's toolchain when it picks new ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use cargo_metadata::semver::Version;
use cargo_metadata::{
    CargoOpt, DependencyKind, Metadata, MetadataCommand, Node, Package, PackageId,
};

/// Runs the check on the workspace at `root` and prints what it found.
pub fn run(root: &Path) -> Result<()> {
    let metadata = workspace_metadata(root)?;
    let report = check(&metadata)?;
    println!("{report}");
    if !report.too_new.is_empty() {
        bail!(
            "{} ways from a published crate to a dependency that needs a newer Rust than \
             the crate promises: raise `rust-version`, or pin an older dependency",
            report.too_new.len()
        );
    }
    Ok(())
}

/// `cargo metadata` for the workspace: every feature of every member, every platform, the
/// versions in `Cargo.lock` (which it must not change).
fn workspace_metadata(root: &Path) -> Result<Metadata> {
    MetadataCommand::new()
        .manifest_path(root.join("Cargo.toml"))
        .features(CargoOpt::AllFeatures)
        .other_options(vec!["--locked".to_owned()])
        .exec()
        .context("running `cargo metadata --all-features --locked`")
}

/// A dependency that declares a newer `rust-version` than the published crate that
/// reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TooNew {
    /// The published crate, then each crate on the way, ending with the dependency; as
    /// `name version`.
    path: Vec<String>,
    /// What the dependency declares.
    needs: Version,
    /// What the published crate promises.
    promised: Version,
}

/// What the check found over all published crates.
#[derive(Debug)]
struct Report {
    /// The promise of each published crate, as `name version` and `rust-version`.
    promises: Vec<(String, Version)>,
    /// How many distinct dependencies from outside the workspace were checked, and how
    /// many of them declare no `rust-version`.
    dependencies: usize,
    undeclared: usize,
    /// The highest `rust-version` a dependency from outside the workspace declares, with
    /// the crates that declare it.
    floor: Option<(Version, Vec<String>)>,
    too_new: Vec<TooNew>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (package, promise) in &self.promises {
            writeln!(f, "msrv: {package} promises Rust {promise}")?;
        }
        write!(
            f,
            "msrv: {} dependencies (normal and build, all features, all platforms, \
             versions from Cargo.lock); {} declare no rust-version",
            self.dependencies, self.undeclared
        )?;
        if let Some((floor, crates)) = &self.floor {
            write!(
                f,
                "\nmsrv: the highest declared is {floor}, by {}",
                crates.join(", ")
            )?;
        }
        for finding in &self.too_new {
            write!(
                f,
                "\nmsrv: {} needs Rust {}, newer than the {} promised",
                finding.path.join(" -> "),
                finding.needs,
                finding.promised
            )?;
        }
        Ok(())
    }
}

/// Checks the dependencies of every published crate against its `rust-version`.
fn check(metadata: &Metadata) -> Result<Report> {
    let graph = Graph::new(metadata)?;
    let mut report = Report {
        promises: Vec::new(),
        dependencies: 0,
        undeclared: 0,
        floor: None,
        too_new: Vec::new(),
    };
    let mut seen: HashSet<&PackageId> = HashSet::new();
    for package in published(metadata) {
        let promise = package.rust_version.clone().ok_or_else(|| {
            anyhow!(
                "{} is published but has no `rust-version`",
                graph.label(&package.id)
            )
        })?;
        report
            .promises
            .push((graph.label(&package.id), promise.clone()));
        for (dependency, path) in graph.dependencies(&package.id) {
            let ours = metadata.workspace_members.contains(&dependency.id);
            if !ours && seen.insert(&dependency.id) {
                report.dependencies += 1;
                match &dependency.rust_version {
                    None => report.undeclared += 1,
                    Some(needs) => {
                        raise_floor(&mut report.floor, needs, graph.label(&dependency.id))
                    }
                }
            }
            if let Some(needs) = &dependency.rust_version
                && *needs > promise
            {
                report.too_new.push(TooNew {
                    path: path.iter().map(|id| graph.label(id)).collect(),
                    needs: needs.clone(),
                    promised: promise.clone(),
                });
            }
        }
    }
    Ok(report)
}

fn raise_floor(floor: &mut Option<(Version, Vec<String>)>, needs: &Version, label: String) {
    match floor {
        Some((highest, crates)) if needs == highest => crates.push(label),
        Some((highest, _)) if needs < highest => {}
        _ => *floor = Some((needs.clone(), vec![label])),
    }
}

/// The workspace members that may be published (those without `publish = false`).
fn published(metadata: &Metadata) -> Vec<&Package> {
    let mut packages: Vec<&Package> = metadata
        .workspace_packages()
        .into_iter()
        .filter(|package| package.publish.as_ref().is_none_or(|to| !to.is_empty()))
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// The resolved dependency graph, by package id.
struct Graph<'a> {
    packages: HashMap<&'a PackageId, &'a Package>,
    nodes: HashMap<&'a PackageId, &'a Node>,
}

impl<'a> Graph<'a> {
    fn new(metadata: &'a Metadata) -> Result<Self> {
        let resolve = metadata
            .resolve
            .as_ref()
            .context("`cargo metadata` resolved no dependencies")?;
        Ok(Self {
            packages: metadata.packages.iter().map(|p| (&p.id, p)).collect(),
            nodes: resolve.nodes.iter().map(|n| (&n.id, n)).collect(),
        })
    }

    fn label(&self, id: &PackageId) -> String {
        self.packages
            .get(id)
            .map_or_else(|| id.repr.clone(), |p| format!("{} {}", p.name, p.version))
    }

    /// Every package `root` reaches through normal and build dependencies, each with the
    /// shortest path to it (starting at `root`).
    fn dependencies(&self, root: &'a PackageId) -> Vec<(&'a Package, Vec<&'a PackageId>)> {
        let mut paths: HashMap<&PackageId, Vec<&PackageId>> = HashMap::from([(root, vec![root])]);
        let mut queue = VecDeque::from([root]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            let path = paths.get(id).cloned().unwrap_or_default();
            for dependency in &node.deps {
                let builds_with = dependency.dep_kinds.iter().any(|info| {
                    matches!(info.kind, DependencyKind::Normal | DependencyKind::Build)
                });
                if !builds_with || paths.contains_key(&dependency.pkg) {
                    continue;
                }
                let mut to_it = path.clone();
                to_it.push(&dependency.pkg);
                if let Some(package) = self.packages.get(&dependency.pkg) {
                    found.push((*package, to_it.clone()));
                }
                paths.insert(&dependency.pkg, to_it);
                queue.push_back(&dependency.pkg);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::workspace_root;

    fn metadata() -> Metadata {
        workspace_metadata(&workspace_root()).expect("cargo metadata runs")
    }

    /// The same check CI runs: no dependency of a published crate needs a newer Rust.
    #[test]
    fn no_dependency_of_a_published_crate_needs_a_newer_rust() {
        let report = check(&metadata()).expect("every published crate has a rust-version");
        assert_eq!(report.too_new, [], "{report}");
        let published: Vec<&str> = report.promises.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            published,
            [
                "signalwire-codegen 0.1.0",
                "signalwire-fabric 0.1.0",
                "signalwire-fabric-api 0.1.0",
                "signalwire-fabric-axum 0.1.0",
                "signalwire-fabric-cli 0.1.0",
                "signalwire-fabric-fake 0.1.0",
                "signalwire-fabric-redis 0.1.0",
            ],
            "the crates .ci/run packages"
        );
        assert!(report.dependencies > 100, "{report}");
    }

    /// With a promise below what progenitor-client declares, the check names it and the
    /// way each published crate reaches it.
    #[test]
    fn a_promise_below_a_dependency_s_rust_version_is_reported_with_its_path() {
        let mut metadata = metadata();
        let older = Version::new(1, 85, 0);
        for package in &mut metadata.packages {
            if package.name.as_str() == "signalwire-fabric" {
                package.rust_version = Some(older.clone());
            }
        }
        let report = check(&metadata).expect("runs");
        let progenitor_client: Vec<&TooNew> = report
            .too_new
            .iter()
            .filter(|finding| {
                finding
                    .path
                    .last()
                    .is_some_and(|last| last.starts_with("progenitor-client "))
            })
            .collect();
        assert_eq!(progenitor_client.len(), 1, "{report}");
        let finding = progenitor_client[0];
        assert_eq!(
            finding.path[..2],
            ["signalwire-fabric 0.1.0", "signalwire-fabric-api 0.1.0"]
        );
        assert_eq!(finding.needs, Version::new(1, 88, 0));
        assert_eq!(finding.promised, older);
        assert!(
            report
                .too_new
                .iter()
                .all(|finding| finding.path[0] == "signalwire-fabric 0.1.0"),
            "the other crates still promise 1.88: {report}"
        );
    }

    #[test]
    fn the_floor_keeps_every_crate_at_the_highest_version() {
        let mut floor = None;
        raise_floor(&mut floor, &Version::new(1, 70, 0), "a".to_owned());
        raise_floor(&mut floor, &Version::new(1, 88, 0), "b".to_owned());
        raise_floor(&mut floor, &Version::new(1, 80, 0), "c".to_owned());
        raise_floor(&mut floor, &Version::new(1, 88, 0), "d".to_owned());
        assert_eq!(
            floor,
            Some((Version::new(1, 88, 0), vec!["b".to_owned(), "d".to_owned()]))
        );
    }
}
