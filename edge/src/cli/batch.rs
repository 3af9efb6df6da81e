//! What `ferry transform --model` and `ferry edge predict` share: how many workers score a
//! file's batches at once, and stopping cleanly when the process is interrupted.

use std::future::Future;
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

/// A run stopped by Ctrl-C or `SIGTERM`; its exit code is [`super::exit::INTERRUPTED`].
#[derive(Debug)]
pub struct Interrupted {
    /// The output, left as it was.
    pub out: std::path::PathBuf,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted: {} was left as it was", self.out.display())
    }
}

impl std::error::Error for Interrupted {}

/// Runs `work` (scoring a file into `out`) until it ends or the process is interrupted
/// (Ctrl-C or `SIGTERM`). An interrupted run is dropped where it stands: its workers stop, the
/// half-written `.partial` file is removed and whatever was at `out` is left as it was; the
/// error is [`Interrupted`].
pub async fn until_interrupted<T, E: Into<anyhow::Error>>(
    out: &std::path::Path,
    work: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T> {
    // Both handlers are in place before any work starts, so no signal finds the default
    // action (which would leave the `.partial` file behind).
    let interrupt = signals();
    tokio::select! {
        result = work => result.map_err(Into::into),
        () = interrupt => Err(Interrupted { out: out.to_path_buf() }.into()),
    }
}

/// A future that ends at the first `SIGINT` or `SIGTERM`, listening from the moment it is made.
#[cfg(unix)]
fn signals() -> impl Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    let received = |s: Option<Signal>| async move {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    async move {
        tokio::select! {
            () = received(int) => {}
            () = received(term) => {}
        }
    }
}

/// A future that ends at the first Ctrl-C.
#[cfg(not(unix))]
fn signals() -> impl Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    }
}
