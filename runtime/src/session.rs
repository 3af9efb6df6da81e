//! One instance's `Store` and the rules of calling into it: a deadline before every call,
//! failures turned into typed errors, and an instance that failed is never used again.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::types as wit;
use super::error::{Failure, GuestError, PluginError};
use super::metrics::CallLabels;
use super::sandbox::Sandbox;
use super::state::StoreState;

/// Extra wall-clock time allowed beyond a deadline for work the epoch cannot interrupt
/// (a plugin waiting inside a host call).
const WALL_GRACE: Duration = Duration::from_millis(500);

/// A plugin instance's store and whether it may still be used.
pub struct Session {
    pub(crate) store: Store<StoreState>,
    pub(crate) plugin: Arc<Sandbox>,
    discarded: bool,
    call: Option<(&'static str, Instant)>,
}

/// The raw outcome of one guest call.
pub(crate) type Outcome<T> = Result<wasmtime::Result<T>, tokio::time::error::Elapsed>;

impl Session {
    /// A fresh store in `sandbox`, limited and granted as it says.
    pub(crate) fn new(sandbox: &Arc<Sandbox>) -> Result<Self, PluginError> {
        let state = StoreState::new(sandbox)
            .map_err(|e| sandbox.error("instantiate", Failure::Host(e.to_string())))?;
        let mut store = Store::new(&sandbox.engine, state);
        store.limiter(|s| &mut s.limiter);
        // At every epoch tick the call stops if its deadline has passed, and otherwise yields
        // to the executor: calls share their threads fairly, and a call whose caller gave up
        // (its future dropped) stops within a tick.
        store.epoch_deadline_callback(|ctx| {
            Ok(match ctx.data().deadline {
                Some(d) if Instant::now() >= d => UpdateDeadline::Interrupt,
                _ => UpdateDeadline::Yield(1),
            })
        });
        sandbox.metrics.instances_created.inc();
        sandbox.metrics.instances_live.inc();
        Ok(Self {
            store,
            plugin: sandbox.clone(),
            discarded: false,
            call: None,
        })
    }

    /// Gets ready for a call: refuses a discarded instance and sets the deadline.
    pub(crate) fn arm(&mut self, op: &'static str) -> Result<Duration, PluginError> {
        if self.discarded {
            return Err(self.plugin.error(op, Failure::Discarded));
        }
        let timeout = Duration::from_millis(u64::from(self.plugin.limits.timeout_ms));
        let now = Instant::now();
        let state = self.store.data_mut();
        state.limiter.refused = None;
        state.deadline = Some(now + timeout);
        state.random.enter(op);
        self.store.set_epoch_deadline(1);
        self.call = Some((op, now));
        Ok(timeout + WALL_GRACE)
    }

    /// Turns the outcome of a call that returns the contract's `result<T, plugin-error>`.
    pub(crate) fn settle<T>(
        &mut self,
        op: &'static str,
        outcome: Outcome<Result<T, wit::PluginError>>,
    ) -> Result<T, PluginError> {
        self.observe();
        match outcome {
            Ok(Ok(Err(guest))) => {
                let guest = GuestError::from(guest);
                let attempts = self.store.data().denials.take();
                let failure = if self.store.data().limiter.refused.is_some() {
                    // A plugin that catches the failed allocation (Python's MemoryError, a C
                    // malloc returning NULL) still hit its cap: report the cap, not its error.
                    self.discarded = true;
                    Failure::OutOfMemory {
                        limit_mib: self.plugin.limits.memory_mib,
                    }
                } else if attempts.is_empty() {
                    Failure::Guest(guest)
                } else {
                    Failure::CapabilityDenied {
                        attempts,
                        detail: Some(guest.to_string()),
                    }
                };
                Err(self.plugin.error(op, failure))
            }
            Ok(Ok(Ok(v))) => self.settle_plain(op, Ok(Ok(v))),
            Ok(Err(e)) => self.settle_plain(op, Ok(Err(e))),
            Err(elapsed) => self.settle_plain(op, Err(elapsed)),
        }
    }

    /// Turns the outcome of a call without a contract error into a value or a typed error.
    pub(crate) fn settle_plain<T>(
        &mut self,
        op: &'static str,
        outcome: Outcome<T>,
    ) -> Result<T, PluginError> {
        self.observe();
        match outcome {
            Ok(Ok(v)) => {
                let refused = self.store.data().denials.take();
                if !refused.is_empty() {
                    tracing::warn!(plugin = %self.plugin.label, ?refused, "plugin was refused access but carried on");
                }
                Ok(v)
            }
            Ok(Err(e)) => {
                self.discarded = true;
                let failure = self.classify(e);
                Err(self.plugin.error(op, failure))
            }
            Err(_) => {
                self.discarded = true;
                let limit_ms = self.plugin.limits.timeout_ms;
                Err(self.plugin.error(op, Failure::Timeout { limit_ms }))
            }
        }
    }

    /// Times the call `arm` started (once).
    fn observe(&mut self) {
        if let Some((call, started)) = self.call.take() {
            self.plugin
                .metrics
                .plugin_call_seconds
                .get_or_create(&CallLabels {
                    plugin: self.plugin.label.to_string(),
                    call,
                })
                .observe(started.elapsed().as_secs_f64());
        }
    }

    fn classify(&mut self, e: wasmtime::Error) -> Failure {
        if self.store.data_mut().random.take_refused().is_some() {
            return Failure::RandomDrawn;
        }
        let state = self.store.data();
        let attempts = state.denials.take();
        let output = state.output();
        let oom = state.limiter.refused.is_some();
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Failure::Timeout {
                limit_ms: self.plugin.limits.timeout_ms,
            },
            Some(Trap::StackOverflow) => Failure::StackOverflow,
            Some(Trap::MemoryOutOfBounds) if panic_message(&output).is_none() && !oom => Failure::Trap {
                message: "out of bounds memory access (in Rust and C plugins usually an overflow of the stack kept in linear memory)".into(),
            },
            _ if oom => Failure::OutOfMemory {
                limit_mib: self.plugin.limits.memory_mib,
            },
            _ if !attempts.is_empty() => Failure::CapabilityDenied {
                attempts,
                detail: panic_message(&output),
            },
            _ => match panic_message(&output) {
                Some(message) => Failure::Panic { message },
                None => Failure::Trap {
                    message: match e.downcast_ref::<Trap>() {
                        Some(t) => t.to_string(),
                        None => format!("{e:#}"),
                    },
                },
            },
        }
    }

    /// Marks the instance unusable (after a contract violation).
    pub(crate) fn discard(&mut self) {
        self.discarded = true;
    }

    /// True when the instance may still be called.
    pub fn is_usable(&self) -> bool {
        !self.discarded
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.plugin.metrics.instances_live.dec();
    }
}

/// Runs a guest call under a wall-clock deadline.
pub(crate) async fn timed<T>(
    limit: Duration,
    call: impl Future<Output = wasmtime::Result<T>>,
) -> Outcome<T> {
    tokio::time::timeout(limit, call).await
}

/// The panic message a Rust guest printed, if it printed one.
fn panic_message(output: &str) -> Option<String> {
    let start = output.find("panicked at")?;
    let text: String = output[start..]
        .lines()
        .filter(|l| !l.starts_with("note: run with"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = text.trim().to_string();
    if text.len() > 2000 {
        let mut cut = 2000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Some(text)
}
