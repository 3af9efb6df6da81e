//! Builds every crate in `plugins/` to a Wasm component and embeds them as the built-in
//! plugins.

use std::{env, fs, path::PathBuf};

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = here
        .parent()
        .expect("the builtins crate lives in the workspace")
        .to_path_buf();
    // The folder itself too, so that adding or removing a plugin rebuilds the list.
    println!("cargo:rerun-if-changed={}", root.join("plugins").display());
    let crates = ferry_sdk_build::crates_in(&root.join("plugins"));
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
        "/// The built-in plugins: (name, component bytes), by plugin folder name.\npub static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for (c, b) in crates.iter().zip(&built) {
        let name = c
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("plugin folders have UTF-8 names");
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            b.wasm.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    fs::write(out.join("builtins.rs"), code).expect("write builtins.rs");
}
