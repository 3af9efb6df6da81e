//! The edge build's stand-in for `net.rs`: no outgoing HTTP. `wasi:http` is not linked, so a
//! component that imports it is refused when it loads.

use std::sync::Arc;

use wasmtime::component::Linker;

use super::denials::Denials;
use super::grants::Grants;

/// No outgoing HTTP.
pub struct Net;

impl Net {
    /// No outgoing HTTP, whatever the grants.
    pub(super) fn new(_grants: Arc<Grants>, _denials: Denials) -> Self {
        Self
    }
}

/// Links nothing: this build has no outgoing HTTP.
pub(super) fn add_to_linker<T>(_linker: &mut Linker<T>) -> wasmtime::Result<()> {
    Ok(())
}
