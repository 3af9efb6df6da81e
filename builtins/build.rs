//! Builds the crates in `plugins/` to Wasm components and embeds them as the built-in
//! plugins, each with its sha256 digest, so a server need not hash them at every start. A
//! plugin named in `OPTIONAL` is built only with the Cargo feature of its name.

use std::{env, fs, path::PathBuf};

use sha2::{Digest, Sha256};

/// Plugins built only when this crate's feature of the same name is on (`onnx` alone is about
/// 460 s of CPU in a cold build, three tenths of `cargo build --bin ferry`). Keep in step with
/// `[features]` in Cargo.toml.
const OPTIONAL: &[&str] = &["onnx"];

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = here
        .parent()
        .expect("the builtins crate lives in the workspace")
        .to_path_buf();
    // The folder itself too, so that adding or removing a plugin rebuilds the list.
    println!("cargo:rerun-if-changed={}", root.join("plugins").display());
    let crates: Vec<_> = ferry_sdk_build::crates_in(&root.join("plugins"))
        .into_iter()
        .filter(|c| {
            let folder = c.dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !OPTIONAL.contains(&folder) || feature_on(folder)
        })
        .collect();
    let built = ferry_sdk_build::build(
        &crates,
        &[
            &root.join("sdk/rust"),
            &root.join("sdk/numeric"),
            &root.join("wit"),
            &root.join("bundle/src"),
        ],
    );

    let mut code = String::from(
        "/// The built-in plugins: (name, component bytes, digest), by plugin folder name.\nstatic EMBEDDED: &[(&str, &[u8], &str)] = &[\n",
    );
    for (c, b) in crates.iter().zip(&built) {
        let name = c
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("plugin folders have UTF-8 names");
        let bytes = fs::read(&b.wasm).expect("read a built plugin");
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}), {digest:?}),\n",
            b.wasm.display().to_string()
        ));
    }
    code.push_str(
        "];\n\n/// The optional built-ins this build left out.\nstatic LEFT_OUT: &[&str] = &[",
    );
    for name in OPTIONAL.iter().filter(|n| !feature_on(n)) {
        code.push_str(&format!("{name:?}, "));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    fs::write(out.join("builtins.rs"), code).expect("write builtins.rs");
}

/// Whether Cargo turned on this crate's feature `name`.
fn feature_on(name: &str) -> bool {
    let var = format!("CARGO_FEATURE_{}", name.to_uppercase().replace('-', "_"));
    env::var_os(var).is_some()
}
