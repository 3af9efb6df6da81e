//! Plugins embedded in the binary, by name: what a bare name such as `impute` resolves to.
//! The crate that embeds them (`ferry-builtins`) hands a [`Builtins`] to the runtime it
//! builds, so the crates in between load built-ins through the runtime they are given
//! (`Runtime::resolve`) and need not wait for the plugins to compile.

use std::path::Path;

use crate::error::LoadError;

/// One embedded plugin: its name, component bytes and digest (`sha256:…`, computed when the
/// binary was built).
pub type Embedded = (&'static str, &'static [u8], &'static str);

/// A set of embedded plugins, and the names of optional built-ins this build left out. Empty
/// by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtins {
    embedded: &'static [Embedded],
    left_out: &'static [&'static str],
}

impl Builtins {
    /// The embedded plugins, and the optional ones left out of this build (each built in by
    /// the Cargo feature of its name).
    pub const fn new(embedded: &'static [Embedded], left_out: &'static [&'static str]) -> Self {
        Self { embedded, left_out }
    }

    /// The names of the embedded plugins.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.embedded.iter().map(|(name, ..)| *name)
    }

    /// The component bytes of the embedded plugin `name`.
    pub fn bytes(&self, name: &str) -> Option<&'static [u8]> {
        self.embedded
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, b, _)| *b)
    }

    /// The digest (`sha256:…`) of the embedded plugin `name`'s bytes, computed when the binary
    /// was built, so that nothing reads the bytes to know it.
    pub fn digest(&self, name: &str) -> Option<&'static str> {
        self.embedded
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, _, d)| *d)
    }

    /// The optional built-ins this build left out.
    pub fn left_out(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.left_out.iter().copied()
    }

    /// The component bytes of the embedded plugin `name`, or why there are none: a name this
    /// build left out names the feature that builds it in, any other the names there are.
    pub fn find(&self, name: &str) -> Result<&'static [u8], LoadError> {
        self.bytes(name).ok_or_else(|| {
            if self.left_out.contains(&name) {
                LoadError::LeftOut {
                    name: name.to_string(),
                    feature: name.to_string(),
                }
            } else {
                LoadError::Unknown {
                    name: name.to_string(),
                    known: self.names().collect::<Vec<_>>().join(", "),
                }
            }
        })
    }

    /// Whether `reference` names a `.wasm` file rather than a built-in: it ends in `.wasm`,
    /// holds a `/`, or is an existing path that is no built-in's name.
    pub fn is_file(&self, reference: &str) -> bool {
        reference.ends_with(".wasm")
            || reference.contains('/')
            || Path::new(reference).exists() && self.bytes(reference).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Runtime, RuntimeOptions};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
            .block_on(f)
    }

    #[test]
    fn a_left_out_built_in_names_the_feature_and_an_unknown_one_the_names_there_are() {
        let builtins = Builtins::new(&[], &["onnx"]);
        let runtime = Runtime::new(RuntimeOptions {
            builtins,
            ..Default::default()
        })
        .expect("runtime");
        let options = LoadOptions::default();

        let left_out = block_on(runtime.resolve("onnx", &options)).err();
        assert!(
            matches!(&left_out, Some(LoadError::LeftOut { name, feature }) if name == "onnx" && feature == "onnx"),
            "{left_out:?}"
        );
        let text = left_out.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("`--features onnx`"), "{text}");

        let unknown = block_on(runtime.resolve("no-such-plugin", &options)).err();
        assert!(
            matches!(&unknown, Some(LoadError::Unknown { name, .. }) if name == "no-such-plugin"),
            "{unknown:?}"
        );
        assert_eq!(builtins.left_out().collect::<Vec<_>>(), ["onnx"]);
        assert_eq!(builtins.names().count(), 0);
    }
}
