//! Where plugin calls run in a server: a pool of threads of their own, one per core, so that
//! plugins computing on every core never hold up the threads that accept requests, answer
//! health checks and fire deadlines. The pool's threads run at a lower priority (nice 10), so
//! the request threads get a core as soon as they have work. A call yields to the pool at
//! every epoch tick, so calls share it fairly and a call that is given up on stops within a
//! tick.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::task::JoinHandle;

/// Why work sent to the pool did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// The pool's threads could not be started.
    #[error("cannot start the plugin threads: {0}")]
    Start(String),
    /// The work panicked.
    #[error("the plugin work panicked: {0}")]
    Panicked(String),
}

struct Pool {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A handle to the pool (started on first use). Cheap to clone.
#[derive(Clone, Default)]
pub struct Compute {
    pool: Arc<OnceLock<Result<Pool, String>>>,
}

/// The nice value of the pool's threads.
#[cfg(unix)]
const NICE: i32 = 10;

/// Lowers the calling thread's priority (on Linux the nice value is per thread).
fn lower_priority() {
    #[cfg(unix)]
    // SAFETY: setpriority only reads its arguments; `0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
    }
}

/// Stops the work when the caller stops waiting for it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Compute {
    fn handle(&self) -> Result<tokio::runtime::Handle, ComputeError> {
        let pool = self.pool.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("ferry-plugin")
                .on_thread_start(lower_priority)
                .enable_all()
                .build()
                .map(|rt| Pool { runtime: Some(rt) })
                .map_err(|e| e.to_string())
        });
        match pool {
            Ok(Pool {
                runtime: Some(rt), ..
            }) => Ok(rt.handle().clone()),
            Ok(_) => Err(ComputeError::Start("the pool was shut down".into())),
            Err(e) => Err(ComputeError::Start(e.clone())),
        }
    }

    /// Runs `work` on the pool and waits for it. Dropping the returned future (a deadline
    /// passed, the client went away) stops the work at its next yield.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, ComputeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut task = AbortOnDrop(self.handle()?.spawn(work));
        match (&mut task.0).await {
            Ok(v) => Ok(v),
            Err(e) => Err(ComputeError::Panicked(e.to_string())),
        }
    }

    /// Starts `work` on the pool without waiting for it: it runs to its end whoever started
    /// it, for work shared by several callers (a batched call).
    pub fn spawn<F>(&self, work: F) -> Result<(), ComputeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle()?.spawn(work);
        Ok(())
    }
}
