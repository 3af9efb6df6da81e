//! What `ferry transform --model` and `ferry edge predict` share: how many workers score a
//! file's batches at once.

use std::num::NonZeroUsize;

use clap::Args;

/// The workers that score a file's batches.
#[derive(Debug, Clone, Copy, Args)]
pub struct WorkersArgs {
    /// Batches scored at once, each on fresh instances of its own (default: one per core).
    /// The output is the same, bit for bit, whatever the number.
    #[arg(long, env = "FERRY_WORKERS")]
    pub workers: Option<NonZeroUsize>,
}

impl WorkersArgs {
    /// The number given, or one per core.
    pub fn get(&self) -> NonZeroUsize {
        self.workers
            .unwrap_or_else(ferry_core::batch::default_workers)
    }
}
