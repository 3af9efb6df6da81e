//! Embeds the `ferry:plugin` WIT into the SDK: the shared bindings and one export macro per
//! plugin kind, each carrying the WIT as an inline literal so plugin crates need no `wit/` folder.

use std::{env, fs, path::PathBuf};

/// Each kind's macro name, world, and the imports its world adds to `host`.
const KINDS: [(&str, &str, &str); 5] = [
    ("validator", "prepared-validator-plugin", ""),
    ("transform", "prepared-transform-plugin", ""),
    ("model", "prepared-model-plugin", ""),
    ("deployer", "deployer-plugin", ""),
    (
        "alert_sink",
        "alert-sink-plugin",
        "\n                    \"ferry:plugin/smtp@0.1.1\": ::ferry_sdk::__private::smtp,",
    ),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let wit_dir = ["wit", "../../wit"]
        .iter()
        .map(|p| manifest_dir.join(p))
        .find(|p| p.join("types.wit").exists())
        .expect("the ferry:plugin WIT folder (../../wit) was not found");
    println!("cargo:rerun-if-changed={}", wit_dir.display());

    let mut files: Vec<PathBuf> = fs::read_dir(&wit_dir)
        .expect("read the WIT folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    files.sort();
    let mut package = None;
    let mut body = String::new();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let text = fs::read_to_string(file).expect("read a WIT file");
        for line in text.lines() {
            if line.starts_with("package ") {
                package.get_or_insert_with(|| line.to_string());
            } else {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    let wit = format!("{}\n{body}", package.expect("a `package` line in the WIT"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    fs::write(out.join("ferry.wit"), &wit).expect("write ferry.wit");
    let bindings = format!(
        "wit_bindgen::generate!({{\n    inline: {wit:?},\n    world: \"plugin-base\",\n    generate_unused_types: true,\n    additional_derives: [PartialEq, Clone],\n}});\n"
    );
    fs::write(out.join("bindings.rs"), bindings).expect("write bindings.rs");

    let mut macros = String::new();
    for (kind, world, extra) in KINDS {
        let glue = format!("__glue_{kind}");
        macros.push_str(&format!(
            r#"
/// Exports the type given as a Ferry `{world}`: implement the SDK's trait for this kind
/// (and [`Plugin`](crate::Plugin)), then call this macro once at the crate's top level.
#[macro_export]
macro_rules! export_{kind} {{
    ($plugin:ty) => {{
        #[doc(hidden)]
        #[cfg(target_arch = "wasm32")]
        #[allow(clippy::all, unused, missing_docs)]
        mod __ferry_exports {{
            use super::*;
            ::ferry_sdk::__private::wit_bindgen::generate!({{
                inline: {wit:?},
                world: "{world}",
                runtime_path: "::ferry_sdk::__private::wit_bindgen::rt",
                with: {{
                    "ferry:plugin/types@0.1.1": ::ferry_sdk::types,
                    "ferry:plugin/host@0.1.1": ::ferry_sdk::host,{extra}
                }},
            }});
            ::ferry_sdk::{glue}!($plugin);
            export!(Glue);
        }}
    }};
}}
"#
        ));
    }
    fs::write(out.join("export_macros.rs"), macros).expect("write export_macros.rs");
}
