//! The record of what the sandbox refused a plugin: kept outside the store, so callbacks that
//! run outside it (socket and HTTP checks) can add to it.

use std::sync::{Arc, Mutex};

/// Attempts the sandbox refused, shared with callbacks that run outside the store.
#[derive(Debug, Clone, Default)]
pub struct Denials(Arc<Mutex<Vec<String>>>);

impl Denials {
    /// Records a refused attempt (at most 32 are kept).
    pub(crate) fn push(&self, what: String) {
        if let Ok(mut v) = self.0.lock()
            && v.len() < 32
        {
            v.push(what);
        }
    }

    /// Takes the recorded refusals.
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}
