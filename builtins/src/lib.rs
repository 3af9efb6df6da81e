//! The first-party plugins (`plugins/`), compiled to components by this crate's build script
//! and embedded, so the `ferry` binary carries them.
//!
//! It depends on `ferry-runtime` alone, and only to load them. It is its own crate so that the
//! plugins are compiled once and cached apart from the host's code; the edge build leaves it
//! out. Start from [`resolve`].

use ferry_runtime::{LoadError, LoadOptions, Plugin, Runtime};

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Built-in plugins compiled in only with the Cargo feature of the same name (`onnx` costs
/// about 460 s of CPU in a cold build, so a plain `cargo build` leaves it out).
pub const OPTIONAL: &[&str] = &["onnx"];

/// The optional built-in plugins this build left out.
pub fn left_out() -> impl Iterator<Item = &'static str> {
    OPTIONAL.iter().copied().filter(|n| bytes(n).is_none())
}

/// The names of the built-in plugins.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}

/// The component bytes of the built-in plugin `name`.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Loads the built-in plugin `name`.
pub async fn load(
    runtime: &Runtime,
    name: &str,
    options: &LoadOptions,
) -> Result<Plugin, LoadError> {
    let bytes = bytes(name).ok_or_else(|| {
        if OPTIONAL.contains(&name) {
            LoadError::LeftOut {
                name: name.to_string(),
                feature: name.to_string(),
            }
        } else {
            LoadError::Unknown {
                name: name.to_string(),
                known: names().collect::<Vec<_>>().join(", "),
            }
        }
    })?;
    runtime
        .load(&format!("builtin:{name}"), bytes, options)
        .await
}

/// Loads a plugin given either as a built-in name or as a path to a `.wasm` file.
pub async fn resolve(
    runtime: &Runtime,
    reference: &str,
    options: &LoadOptions,
) -> Result<Plugin, LoadError> {
    let path = std::path::Path::new(reference);
    if reference.ends_with(".wasm")
        || reference.contains('/')
        || path.exists() && bytes(reference).is_none()
    {
        runtime.load_file(path, options).await
    } else {
        load(runtime, reference, options).await
    }
}
