//! Builds plugin crates of the current workspace to Wasm components from a `build.rs`.
//!
//! The build runs `cargo build --release --target wasm32-wasip2 -p <package>` for each given
//! package alone, in a target folder of its own (beside the outer build's), the way wasmtime
//! builds its guest test programs, and returns where each component landed. Each package is
//! built by itself so that its bytes depend on its own inputs only, and the same on any machine.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

/// The Wasm target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// A plugin crate found on disk.
#[derive(Debug, Clone)]
pub struct PluginCrate {
    /// The package name from its `Cargo.toml`.
    pub package: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// A built component.
#[derive(Debug, Clone)]
pub struct Built {
    /// The package name.
    pub package: String,
    /// The component file.
    pub wasm: PathBuf,
}

/// Every crate in the sub-folders of `dir` (each with a `Cargo.toml`), sorted by folder.
pub fn crates_in(dir: &Path) -> Vec<PluginCrate> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue;
        };
        let value: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("parse {}: {e}", manifest.display()));
        let package = value
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        found.push(PluginCrate {
            package: package.to_string(),
            dir: entry.path(),
        });
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    found
}

/// The target Extism plugins are built for: a core module without WASI.
pub const EXTISM_TARGET: &str = "wasm32-unknown-unknown";

/// The target of Extism plugins that use files: a core module with WASI preview 1, whose
/// allowed paths are the operator's directory grants.
pub const EXTISM_WASI_TARGET: &str = "wasm32-wasip1";

/// Builds `crates` to components and returns them in the same order. `watch` lists further
/// folders (the SDK, the WIT) whose changes must rebuild them.
pub fn build(crates: &[PluginCrate], watch: &[&Path]) -> Vec<Built> {
    build_for(TARGET, crates, watch)
}

/// Builds `crates` for `target` ([`TARGET`] for components, [`EXTISM_TARGET`] or
/// [`EXTISM_WASI_TARGET`] for Extism modules) and returns them in the same order.
pub fn build_for(target: &str, crates: &[PluginCrate], watch: &[&Path]) -> Vec<Built> {
    for c in crates {
        println!("cargo:rerun-if-changed={}", c.dir.display());
    }
    for w in watch {
        println!("cargo:rerun-if-changed={}", w.display());
    }
    if crates.is_empty() {
        return Vec::new();
    }
    check_target_installed(target);

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: share one Wasm folder per target.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"));

    for c in crates {
        build_alone(target, &target_dir, &c.package);
    }
    crates
        .iter()
        .map(|c| {
            let release = target_dir.join(target).join("release");
            // A library is named with underscores, a binary keeps its dashes.
            let wasm = [c.package.replace('-', "_"), c.package.clone()]
                .iter()
                .map(|n| release.join(format!("{n}.wasm")))
                .find(|p| p.exists())
                .unwrap_or_else(|| {
                    panic!("{} was not built into {}", c.package, release.display())
                });
            Built {
                package: c.package.clone(),
                wasm,
            }
        })
        .collect()
}

/// Builds one package in a `cargo build` of its own. Cargo unifies the features of shared
/// dependencies across the packages of one invocation, so building plugins together would make
/// each one's bytes (and behaviour: `serde-saphyr` turns on `serde_json/preserve_order`, which
/// changes key order) depend on which other plugins sit beside it. Alone, a plugin builds as its
/// author's `cargo build -p` does, and its bytes depend on its own inputs only.
fn build_alone(target: &str, target_dir: &Path, package: &str) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(target)
        .arg("--target-dir")
        .arg(target_dir)
        .arg("-p")
        .arg(package);
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        reproducible_rustflags(target_dir),
    )
    .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
    .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build plugin {package}: {e}"));
    if !status.success() {
        panic!(
            "building plugin {package} for {target} failed ({status}); if the error is E0463 \
             (can't find crate for `core`), run `rustup toolchain install` in the project folder"
        );
    }
}

/// The flags that make a plugin's bytes the same on every machine: panic messages name the
/// source files of dependencies by their path under the Cargo home, which differs between
/// users, so it is written as `/cargo`; code that build scripts generate lives under the
/// target folder (tract-linalg includes a macro from its `OUT_DIR`), written as `/target`.
/// (The workspace's own files are named relative to it, and the standard library's as
/// `/rustc/<commit>/`, already.) Flags are separated by `\x1f`, as Cargo encodes them.
fn reproducible_rustflags(target_dir: &Path) -> String {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut flags = Vec::new();
    if let Some(home) = home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.push(format!(
        "--remap-path-prefix={}=/target",
        target_dir.display()
    ));
    flags.join("\x1f")
}

fn check_target_installed(target: &str) {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return;
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !sysroot.join("lib/rustlib").join(target).exists() {
        panic!(
            "the Rust target {target} is not installed for {}: run `rustup toolchain install` \
             in the project folder (it reads rust-toolchain.toml), or `rustup target add {target}`",
            sysroot.display()
        );
    }
}
