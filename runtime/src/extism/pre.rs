//! An Extism module compiled and linked, ready to instantiate.

use ferry_extism_pdk::wire::Payload;
use wasmtime::InstancePre;

use crate::state::StoreState;

/// An Extism module ready to instantiate, and the encoding its calls travel in.
#[derive(Clone)]
pub(crate) struct ExtismPre {
    pub pre: InstancePre<StoreState>,
    pub payload: Payload,
}
