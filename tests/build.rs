//! Builds the guest programs in `guests/` (components), `extism/` (Extism modules) and
//! `extism-wasi/` (Extism modules with WASI preview 1) for the integration tests, and writes
//! where each landed.

use std::{env, fs, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = dir.parent().expect("workspace root").to_path_buf();
    let mut crates = ferry_sdk_build::crates_in(&dir.join("guests"));
    // The book's quickstart plugin (docs/src/authoring/rust.md) is built and run by the tests too, so it stays true.
    crates.push(ferry_sdk_build::PluginCrate {
        package: "ratio".into(),
        dir: root.join("examples/quickstart-plugin"),
    });
    let mut built = ferry_sdk_build::build(&crates, &[&root.join("sdk/rust"), &root.join("wit")]);
    // Extism guests are core modules: built without WASI, or for WASI preview 1 when they use
    // files. Each example is tested against the built-in it mirrors.
    let extism_sdk = root.join("sdk/extism-rust");
    let shared_deployer = dir.join("guests/hostile-deployer/src/deployer.rs");
    for (target, folder, example, watch) in [
        (
            ferry_sdk_build::EXTISM_TARGET,
            "extism",
            "extism-log-transform",
            vec![extism_sdk.as_path()],
        ),
        (
            ferry_sdk_build::EXTISM_WASI_TARGET,
            "extism-wasi",
            "extism-directory-deployer",
            vec![extism_sdk.as_path(), shared_deployer.as_path()],
        ),
    ] {
        let mut crates = ferry_sdk_build::crates_in(&dir.join(folder));
        crates.push(ferry_sdk_build::PluginCrate {
            package: example.into(),
            dir: root.join("examples").join(example),
        });
        built.extend(ferry_sdk_build::build_for(target, &crates, &watch));
    }
    let mut code = String::new();
    for b in &built {
        let constant = b.package.to_uppercase().replace('-', "_");
        code.push_str(&format!(
            "/// The `{}` guest component.\npub const {constant}: &str = {:?};\n",
            b.package,
            b.wasm.display().to_string()
        ));
    }
    fs::write(
        PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("guests.rs"),
        code,
    )
    .expect("write guests.rs");
}
