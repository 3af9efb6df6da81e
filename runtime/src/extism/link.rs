//! The linker of Extism modules, built once per runtime.

use wasmtime::Linker;

use crate::state::StoreState;

/// The WASI preview 1 module an Extism plugin built for `wasm32-wasip1` imports.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The linker of Extism modules: Extism's host ABI and WASI preview 1, nothing else.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    super::kernel::add_to_linker(&mut linker)?;
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, StoreState::wasi_p1)?;
    crate::random::add_to_p1_linker(&mut linker, WASI_MODULE, |s| &mut s.random)?;
    Ok(linker)
}
