//! Loading exactly what a lineage pins, from wherever it is kept, refusing anything that does
//! not match. Where the parts come from is a [`Pins`]: an edge bundle here, a registry (with
//! its trust policy) in `ferry-pipeline`.

use std::future::Future;

use ferry_bundle::Bundle;
use ferry_runtime::{LoadOptions, Plugin, Runtime};

use crate::CoreError;
use crate::lineage::PinnedPlugin;

/// Where the parts a lineage pins come from: the plugins and the bytes (states, artifacts)
/// named by digest.
pub trait Pins: Sync {
    /// What fails here; any [`CoreError`] becomes one.
    type Error: From<CoreError> + Send;

    /// How a plugin loaded from here is named in errors and logs.
    fn name_of(&self, pin: &PinnedPlugin) -> String;

    /// Checks `pin` before it is loaded: that the source holds it as pinned and that whatever
    /// policy governs the source accepts it.
    fn admit(&self, pin: &PinnedPlugin) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The bytes pinned by `digest` (`what` names them in errors).
    fn blob(
        &self,
        digest: &str,
        what: &str,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send;
}

/// An edge bundle, already checked whole against its manifest and its own trust policy when
/// it was read.
impl Pins for Bundle {
    type Error = CoreError;

    fn name_of(&self, pin: &PinnedPlugin) -> String {
        format!("bundle:{}@{}", pin.name, pin.version)
    }

    async fn admit(&self, _pin: &PinnedPlugin) -> Result<(), CoreError> {
        Ok(())
    }

    async fn blob(&self, digest: &str, what: &str) -> Result<Vec<u8>, CoreError> {
        self.by_digest(digest).map(<[u8]>::to_vec).ok_or_else(|| {
            CoreError::Skew(format!(
                "{what}: the bundle holds no file with digest {digest}"
            ))
        })
    }
}

/// Loads the plugin a lineage pins, after checking it against its source, and refuses it
/// unless the component loaded is the one pinned.
pub async fn load_pinned<S: Pins>(
    runtime: &Runtime,
    source: &S,
    pin: &PinnedPlugin,
    load: &LoadOptions,
) -> Result<Plugin, S::Error> {
    source.admit(pin).await?;
    let bytes = source
        .blob(&pin.digest, &format!("plugin {}@{}", pin.name, pin.version))
        .await?;
    let plugin = runtime
        .load(&source.name_of(pin), &bytes, load)
        .await
        .map_err(CoreError::from)?;
    if plugin.digest() != pin.digest || plugin.name() != pin.name {
        return Err(CoreError::Skew(format!(
            "plugin {pin}: the component loaded is {}@{} ({})",
            plugin.name(),
            plugin.manifest().version,
            plugin.digest()
        ))
        .into());
    }
    Ok(plugin)
}
