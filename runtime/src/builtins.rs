//! Plugins embedded in the binary, by name: what a bare name such as `impute` resolves to.
//! The crate that embeds them (`ferry-builtins`) hands a [`Builtins`] to the runtime it
//! builds, so the crates in between load built-ins through the [`Runtime`] they are given and
//! need not wait for the plugins to compile.

use std::path::Path;

use crate::{LoadError, LoadOptions, Plugin, Runtime};

/// A set of embedded plugins: (name, component bytes) pairs, and the names of optional
/// built-ins this build left out. Empty by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtins {
    embedded: &'static [(&'static str, &'static [u8])],
    left_out: &'static [&'static str],
}

impl Builtins {
    /// The embedded plugins, and the optional ones left out of this build (each built in by
    /// the Cargo feature of its name).
    pub const fn new(
        embedded: &'static [(&'static str, &'static [u8])],
        left_out: &'static [&'static str],
    ) -> Self {
        Self { embedded, left_out }
    }

    /// The names of the embedded plugins.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.embedded.iter().map(|(name, _)| *name)
    }

    /// The component bytes of the embedded plugin `name`.
    pub fn bytes(&self, name: &str) -> Option<&'static [u8]> {
        self.embedded
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }

    /// The optional built-ins this build left out.
    pub fn left_out(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.left_out.iter().copied()
    }

    /// Loads the embedded plugin `name`; a name this build left out, or one it never had, is
    /// refused with the names there are.
    pub async fn load(
        &self,
        runtime: &Runtime,
        name: &str,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        let bytes = self.bytes(name).ok_or_else(|| {
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
        })?;
        runtime
            .load(&format!("builtin:{name}"), bytes, options)
            .await
    }

    /// Loads a plugin given either as a built-in name or as a path to a `.wasm` file.
    pub async fn resolve(
        &self,
        runtime: &Runtime,
        reference: &str,
        options: &LoadOptions,
    ) -> Result<Plugin, LoadError> {
        let path = Path::new(reference);
        if reference.ends_with(".wasm")
            || reference.contains('/')
            || path.exists() && self.bytes(reference).is_none()
        {
            runtime.load_file(path, options).await
        } else {
            self.load(runtime, reference, options).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuntimeOptions;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
            .block_on(f)
    }

    #[test]
    fn a_left_out_built_in_names_the_feature_and_an_unknown_one_the_names_there_are() {
        let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
        let builtins = Builtins::new(&[], &["onnx"]);
        let options = LoadOptions::default();

        let left_out = block_on(builtins.resolve(&runtime, "onnx", &options)).err();
        assert!(
            matches!(&left_out, Some(LoadError::LeftOut { name, feature }) if name == "onnx" && feature == "onnx"),
            "{left_out:?}"
        );
        let text = left_out.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("`--features onnx`"), "{text}");

        let unknown = block_on(builtins.resolve(&runtime, "no-such-plugin", &options)).err();
        assert!(
            matches!(&unknown, Some(LoadError::Unknown { name, .. }) if name == "no-such-plugin"),
            "{unknown:?}"
        );
        assert_eq!(builtins.left_out().collect::<Vec<_>>(), ["onnx"]);
        assert_eq!(builtins.names().count(), 0);
    }
}
