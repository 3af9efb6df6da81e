//! What projects carry, built into the binary: the contract, the Python and JavaScript
//! authoring layers, and the templates of each kind in each language.

/// The contract, as `wit/NAME`.
pub(super) const WIT: &[(&str, &str)] = &[
    (
        "wit/alert-sink.wit",
        include_str!("../../../wit/alert-sink.wit"),
    ),
    (
        "wit/deployer.wit",
        include_str!("../../../wit/deployer.wit"),
    ),
    ("wit/model.wit", include_str!("../../../wit/model.wit")),
    (
        "wit/prepared.wit",
        include_str!("../../../wit/prepared.wit"),
    ),
    ("wit/smtp.wit", include_str!("../../../wit/smtp.wit")),
    (
        "wit/transform.wit",
        include_str!("../../../wit/transform.wit"),
    ),
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    (
        "wit/validator.wit",
        include_str!("../../../wit/validator.wit"),
    ),
    ("wit/worlds.wit", include_str!("../../../wit/worlds.wit")),
];

/// The Python authoring layer, as `ferry_plugin/NAME`.
pub(super) const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "ferry_plugin/__init__.py",
        include_str!("../../../sdk/python/ferry_plugin/__init__.py"),
    ),
    (
        "ferry_plugin/_draws.py",
        include_str!("../../../sdk/python/ferry_plugin/_draws.py"),
    ),
    (
        "ferry_plugin/_wit.py",
        include_str!("../../../sdk/python/ferry_plugin/_wit.py"),
    ),
    (
        "ferry_plugin/acting.py",
        include_str!("../../../sdk/python/ferry_plugin/acting.py"),
    ),
    (
        "ferry_plugin/config.py",
        include_str!("../../../sdk/python/ferry_plugin/config.py"),
    ),
    (
        "ferry_plugin/data.py",
        include_str!("../../../sdk/python/ferry_plugin/data.py"),
    ),
    (
        "ferry_plugin/errors.py",
        include_str!("../../../sdk/python/ferry_plugin/errors.py"),
    ),
    (
        "ferry_plugin/kinds.py",
        include_str!("../../../sdk/python/ferry_plugin/kinds.py"),
    ),
    (
        "ferry_plugin/log.py",
        include_str!("../../../sdk/python/ferry_plugin/log.py"),
    ),
    (
        "ferry_plugin/manifest.py",
        include_str!("../../../sdk/python/ferry_plugin/manifest.py"),
    ),
    (
        "ferry_plugin/model.py",
        include_str!("../../../sdk/python/ferry_plugin/model.py"),
    ),
    (
        "ferry_plugin/report.py",
        include_str!("../../../sdk/python/ferry_plugin/report.py"),
    ),
    (
        "ferry_plugin/state.py",
        include_str!("../../../sdk/python/ferry_plugin/state.py"),
    ),
    (
        "ferry_plugin/text.py",
        include_str!("../../../sdk/python/ferry_plugin/text.py"),
    ),
];

/// The JavaScript authoring layer and its build script.
pub(super) const JS_SDK: &[(&str, &str)] = &[
    (
        "ferry-plugin.js",
        include_str!("../../../sdk/js/ferry-plugin.js"),
    ),
    ("build.mjs", include_str!("../../../sdk/js/build.mjs")),
];

/// The C authoring layer, as `ferry-sdk/NAME`.
pub(super) const C_SDK: &[(&str, &str)] = &[
    ("ferry-sdk/ferry.h", include_str!("../../../sdk/c/ferry.h")),
    (
        "ferry-sdk/ferry.mk",
        include_str!("../../../sdk/c/ferry.mk"),
    ),
    (
        "ferry-sdk/src/convert.h",
        include_str!("../../../sdk/c/src/convert.h"),
    ),
    (
        "ferry-sdk/src/core.c",
        include_str!("../../../sdk/c/src/core.c"),
    ),
    (
        "ferry-sdk/src/internal.h",
        include_str!("../../../sdk/c/src/internal.h"),
    ),
    (
        "ferry-sdk/src/json.c",
        include_str!("../../../sdk/c/src/json.c"),
    ),
    (
        "ferry-sdk/src/model.c",
        include_str!("../../../sdk/c/src/model.c"),
    ),
    (
        "ferry-sdk/src/transform.c",
        include_str!("../../../sdk/c/src/transform.c"),
    ),
    (
        "ferry-sdk/src/validator.c",
        include_str!("../../../sdk/c/src/validator.c"),
    ),
];

/// The JavaScript toolchain's pinned versions (`devDependencies` of `sdk/js/package.json`).
pub(super) const JS_PACKAGE: &str = include_str!("../../../sdk/js/package.json");

/// The `Cargo.toml` of a Rust project.
pub(super) const RUST_CARGO: &str = include_str!("../../templates/rust/Cargo.toml");

/// The source of a plugin of `kind` in `language` (`rust`, `python`, `js` or `c`), where one
/// exists.
pub(super) fn source(language: &str, kind: &str) -> Option<&'static str> {
    Some(match (language, kind) {
        ("rust", "validator") => include_str!("../../templates/rust/validator.rs"),
        ("rust", "transform") => include_str!("../../templates/rust/transform.rs"),
        ("rust", "model") => include_str!("../../templates/rust/model.rs"),
        ("rust", "deployer") => include_str!("../../templates/rust/deployer.rs"),
        ("rust", "alert-sink") => include_str!("../../templates/rust/alert-sink.rs"),
        ("python", "validator") => include_str!("../../templates/python/validator.py"),
        ("python", "transform") => include_str!("../../templates/python/transform.py"),
        ("python", "model") => include_str!("../../templates/python/model.py"),
        ("python", "deployer") => include_str!("../../templates/python/deployer.py"),
        ("python", "alert-sink") => include_str!("../../templates/python/alert-sink.py"),
        ("js", "validator") => include_str!("../../templates/js/validator.js"),
        ("js", "transform") => include_str!("../../templates/js/transform.js"),
        ("js", "model") => include_str!("../../templates/js/model.js"),
        ("c", "validator") => include_str!("../../templates/c/validator.c"),
        ("c", "transform") => include_str!("../../templates/c/transform.c"),
        ("c", "model") => include_str!("../../templates/c/model.c"),
        _ => return None,
    })
}

/// The configuration schema of the template of `kind` in `language`.
pub(super) fn schema(language: &str, kind: &str) -> &'static str {
    match kind {
        "alert-sink" if !matches!(language, "rust" | "extism-rust") => {
            include_str!("../../templates/schemas/alert-sink-file.json")
        }
        "validator" => include_str!("../../templates/schemas/validator.json"),
        "transform" => include_str!("../../templates/schemas/transform.json"),
        "model" => include_str!("../../templates/schemas/model.json"),
        "deployer" => include_str!("../../templates/schemas/deployer.json"),
        _ => include_str!("../../templates/schemas/alert-sink.json"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn names(dir: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        let mut out: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| keep(n))
            .collect();
        out.sort();
        out
    }

    fn embedded(list: &[(&str, &str)], prefix: &str) -> Vec<String> {
        list.iter()
            .map(|(p, _)| p.strip_prefix(prefix).unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_contract_and_sdk_file_is_embedded() {
        assert_eq!(embedded(super::WIT, "wit/"), names("wit", |_| true));
        assert_eq!(
            embedded(super::PYTHON_SDK, "ferry_plugin/"),
            names("sdk/python/ferry_plugin", |n| n.ends_with(".py"))
        );
        let mut c = names("sdk/c", |n| n.ends_with(".h") || n.ends_with(".mk"));
        c.extend(
            names("sdk/c/src", |_| true)
                .into_iter()
                .map(|n| format!("src/{n}")),
        );
        c.sort();
        assert_eq!(embedded(super::C_SDK, "ferry-sdk/"), c);
    }
}
