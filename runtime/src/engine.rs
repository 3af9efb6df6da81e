//! The one shared wasmtime `Engine`: component model, pooling allocator, epoch deadlines.

use std::{thread, time::Duration};

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

use crate::metrics::RuntimeMetrics;

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Set (to anything) to have the engine write `/tmp/perf-PID.map`, so that `perf` names the
/// plugins' compiled functions (`bench/profile.sh`).
pub const PERF_MAP_VAR: &str = "FERRY_PERF_MAP";

/// The largest memory any plugin instance may be granted.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

/// Settings of the engine shared by every plugin.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Instances that can be alive at once (pool slots).
    pub max_instances: u32,
    /// Use the pooling allocator (falls back to on-demand allocation when false).
    pub pooling: bool,
}

/// Set to `off` to allocate instances on demand instead of from the pool, for hosts that
/// cannot hold the pool's address-space reservation (an emulator such as `qemu-aarch64`).
pub const INSTANCE_POOL_VAR: &str = "FERRY_INSTANCE_POOL";

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_instances: 256,
            pooling: std::env::var(INSTANCE_POOL_VAR).map_or(true, |v| v != "off"),
        }
    }
}

/// Linear memory (and table) bytes a pooled slot keeps resident after its instance is dropped,
/// reset in place where the kernel can say which pages were touched (`PAGEMAP_SCAN`, Linux
/// 6.7 and later) instead of unmapped and faulted in again: every call that computes gets a
/// fresh instance, so this is what a fresh instance costs.
const KEEP_RESIDENT: usize = 1 << 20;

/// Builds the engine and starts the thread that advances its epoch: with the fast reset of
/// pooled slots where the kernel offers it, without it elsewhere.
pub fn new_engine(settings: &EngineSettings, metrics: &RuntimeMetrics) -> wasmtime::Result<Engine> {
    let engine = match configured(settings, true).and_then(|c| Engine::new(&c)) {
        Ok(engine) => engine,
        Err(_) => Engine::new(&configured(settings, false)?)?,
    };
    if settings.pooling {
        metrics
            .instance_pool_capacity
            .set(i64::from(settings.max_instances));
    }
    start_epoch(&engine)?;
    Ok(engine)
}

fn configured(settings: &EngineSettings, fast_reset: bool) -> wasmtime::Result<Config> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
    // The same bytes compute the same bits on every machine, so features learned on one
    // architecture are served unchanged on another: NaNs are canonicalised and relaxed SIMD
    // takes its deterministic lowering.
    config.cranelift_nan_canonicalization(true);
    config.relaxed_simd_deterministic(true);
    config.async_stack_size(4 << 20);
    if std::env::var_os(PERF_MAP_VAR).is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    if settings.pooling {
        let mut pool = PoolingAllocationConfig::default();
        let n = settings.max_instances;
        pool.total_component_instances(n)
            .total_core_instances(n * 4)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memories_per_component(8)
            .max_tables_per_component(8)
            .max_core_instances_per_component(16)
            .max_memory_size(MAX_MEMORY_BYTES);
        if fast_reset {
            pool.linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT >> 4)
                .pagemap_scan(Enabled::Yes);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(config)
}

fn start_epoch(engine: &Engine) -> wasmtime::Result<()> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("ferry-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| wasmtime::Error::msg(format!("could not start the epoch thread: {e}")))?;
    Ok(())
}
