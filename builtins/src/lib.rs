//! The first-party plugins (`plugins/`), compiled to components by this crate's build script
//! and embedded, so the `ferry` binary carries them.
//!
//! It depends on `ferry-runtime` alone. Only the binary (and the tests) depend on it: the
//! binary hands [`BUILTINS`] to the runtime it builds (`RuntimeOptions::builtins`), and the
//! library crates load built-ins through that runtime, so they compile while the plugins do.
//! The edge build leaves it out. `onnx` is built in only with the Cargo feature `onnx`. Start
//! from [`BUILTINS`].

use ferry_runtime::{Builtins, LoadError, LoadOptions, Plugin, Runtime};

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The plugins this build embeds, and the optional ones it left out.
pub static BUILTINS: Builtins = Builtins::new(EMBEDDED, LEFT_OUT);

/// The names of the built-in plugins.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.names()
}

/// The component bytes of the built-in plugin `name`.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    BUILTINS.bytes(name)
}

/// The digest (`sha256:…`) of the built-in plugin `name`, computed when the binary was built.
pub fn digest(name: &str) -> Option<&'static str> {
    BUILTINS.digest(name)
}

/// Loads the built-in plugin `name`.
pub async fn load(
    runtime: &Runtime,
    name: &str,
    options: &LoadOptions,
) -> Result<Plugin, LoadError> {
    let bytes = BUILTINS.find(name)?;
    runtime
        .load(&format!("builtin:{name}"), bytes, options)
        .await
}
