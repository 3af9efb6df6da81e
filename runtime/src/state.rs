//! The data of one plugin instance's `Store`: its WASI context built from its grants (and, for
//! the kinds that compute, a deterministic clock and random source), its outgoing HTTP
//! (`crate::net`), the memory cap, captured output and the record of refused attempts.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::base::ferry::plugin::host::{self, LogLevel};
use super::denials::Denials;
use super::error::LoadError;
use super::grants::Grants;
use super::net::Net;
use super::random::RandomGate;
use super::sandbox::Sandbox;

/// Bytes of a plugin's stdout and stderr kept for error reports.
const OUTPUT_CAPTURE: usize = 64 * 1024;
/// Log lines one instance may write; later ones are dropped.
const MAX_LOG_LINES: u32 = 10_000;
/// Longest log message kept, in bytes.
const MAX_LOG_BYTES: usize = 4096;

/// A memory cap that remembers when it refused to grow. Memory an instance holds outside its
/// linear memory (an Extism plugin's Extism memory) counts against the same cap.
#[derive(Debug)]
pub struct MemoryCap {
    limit: usize,
    /// The largest linear memory granted so far.
    linear: usize,
    /// Bytes held outside linear memory.
    outside: usize,
    /// The size a refused growth asked for.
    pub refused: Option<usize>,
}

impl MemoryCap {
    /// Room left for memory outside linear memory, in bytes.
    pub(super) fn room_outside(&self) -> usize {
        self.limit.saturating_sub(self.linear)
    }

    /// Records how many bytes are held outside linear memory.
    pub(super) fn set_outside(&mut self, bytes: usize) {
        self.outside = bytes;
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired.saturating_add(self.outside) > self.limit {
            self.refused = Some(desired);
            Ok(false)
        } else {
            self.linear = self.linear.max(desired);
            Ok(true)
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        32
    }
}

/// The wall clock of a plugin that computes: it reads 1970-01-01T00:00:00Z and never moves.
struct FixedWallClock;

impl wasmtime_wasi::HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// The monotonic clock of a plugin that computes: it reads 0 and never moves.
struct FixedMonotonicClock;

impl wasmtime_wasi::HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// Everything a plugin instance's store holds.
pub struct StoreState {
    /// The WASI context, built from the grants. A component uses the `WasiCtx` inside it with
    /// [`Self::table`]; an Extism module that imports WASI preview 1 uses it whole, so both
    /// backends see the same files, variables, clocks and random source. Built on first use
    /// (see [`Self::new`]).
    wasi: Option<WasiP1Ctx>,
    source: WasiSource,
    /// Outgoing HTTP (`wasi:http`) through the grants' allow-list; nothing in the edge build.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    net: Net,
    table: ResourceTable,
    /// The memory cap.
    pub limiter: MemoryCap,
    output: MemoryOutputPipe,
    /// Refused attempts.
    pub denials: Denials,
    /// `name@version`, as logs attribute lines.
    pub(super) plugin: Arc<str>,
    log_lines: u32,
    /// The capabilities granted.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(super) grants: Arc<Grants>,
    /// Messages sent through `ferry:plugin/smtp` (which the edge build does not link).
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(super) mails_sent: u32,
    /// An Extism plugin's memory and call slots (unused by components).
    pub(super) extism: crate::extism::memory::ExtismMemory,
    /// The random source, which refuses draws while a plugin that computes computes a batch.
    pub(super) random: RandomGate,
    /// When the call under way must stop: the plugin's own deadline, or the caller's when
    /// that comes first. The epoch callback traps past it.
    pub(super) deadline: Option<std::time::Instant>,
}

/// What a store's WASI context is built from.
struct WasiSource {
    seed: Option<[u8; 32]>,
    grants: Arc<Grants>,
    output: MemoryOutputPipe,
    denials: Denials,
}

impl WasiSource {
    /// The WASI context: exactly the grants, with stdout and stderr captured, and for a
    /// plugin that computes, the fixed clocks and seeded random source. It can fail only when
    /// a granted directory cannot be opened.
    fn build(&self) -> Result<WasiP1Ctx, LoadError> {
        let mut b = WasiCtxBuilder::new();
        b.stdout(self.output.clone()).stderr(self.output.clone());
        if let Some(seed) = self.seed {
            let mut insecure = seed;
            insecure[0] ^= 1;
            b.wall_clock(FixedWallClock)
                .monotonic_clock(FixedMonotonicClock)
                .secure_random(StdRng::from_seed(seed))
                .insecure_random(StdRng::from_seed(insecure))
                .insecure_random_seed(u128::from_le_bytes(
                    seed[..16].try_into().unwrap_or_default(),
                ));
        }
        for (k, v) in &self.grants.env {
            b.env(k, v);
        }
        for d in &self.grants.dirs {
            let perms = if d.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            b.preopened_dir(&d.host_path, &d.guest_path, perms)
                .map_err(|e| LoadError::Grant {
                    guest_path: d.guest_path.clone(),
                    host_path: d.host_path.display().to_string(),
                    message: e.to_string(),
                })?;
        }
        let socket_denials = self.denials.clone();
        b.allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(false)
            .socket_addr_check(move |addr, usage| {
                let what = match usage {
                    SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => {
                        "a TCP connection (its implicit bind)".to_string()
                    }
                    SocketAddrUse::TcpBind => format!("a TCP bind to {addr}"),
                    SocketAddrUse::TcpConnect => format!("a TCP connection to {addr}"),
                    SocketAddrUse::UdpBind => format!("a UDP bind to {addr}"),
                    _ => format!("UDP traffic to {addr}"),
                };
                socket_denials.push(format!("{what}: no network access is granted"));
                Box::pin(async { false })
            });
        Ok(b.build_p1())
    }
}

/// `wasi`, built from `source` if it was not yet. A lazy build has no directories to open
/// and cannot fail; should it, the plugin gets a context that grants nothing.
fn built<'a>(
    wasi: &'a mut Option<WasiP1Ctx>,
    source: &WasiSource,
    plugin: &str,
) -> &'a mut WasiP1Ctx {
    wasi.get_or_insert_with(|| {
        source.build().unwrap_or_else(|e| {
            tracing::error!(plugin, "cannot build the WASI context: {e}");
            WasiCtxBuilder::new().build_p1()
        })
    })
}

impl StoreState {
    /// A fresh store's data for an instance in `sandbox`: exactly its grants and limits, and
    /// for a plugin that computes, the fixed clocks and seeded random source.
    ///
    /// The WASI context is built on the plugin's first WASI call (most calls of an instance
    /// started from a snapshot make none), except when directories are granted: opening them
    /// can fail, and that is reported here, before the instance is used.
    pub(crate) fn new(sandbox: &Sandbox) -> Result<Self, LoadError> {
        let grants = sandbox.grants.clone();
        let output = MemoryOutputPipe::new(OUTPUT_CAPTURE);
        let denials = Denials::default();
        let source = WasiSource {
            seed: sandbox.seed,
            grants: grants.clone(),
            output: output.clone(),
            denials: denials.clone(),
        };
        let wasi = if grants.dirs.is_empty() {
            None
        } else {
            Some(source.build()?)
        };
        Ok(Self {
            wasi,
            source,
            net: Net::new(grants.clone(), denials.clone()),
            table: ResourceTable::new(),
            limiter: MemoryCap {
                limit: sandbox.limits.memory_bytes(),
                linear: 0,
                outside: 0,
                refused: None,
            },
            output,
            denials,
            plugin: sandbox.label.clone(),
            log_lines: 0,
            grants,
            mails_sent: 0,
            extism: Default::default(),
            random: RandomGate::new(sandbox.seed),
            deadline: None,
        })
    }

    /// The WASI preview 1 context an Extism module's `wasi_snapshot_preview1` imports use.
    pub(crate) fn wasi_p1(&mut self) -> &mut WasiP1Ctx {
        built(&mut self.wasi, &self.source, &self.plugin)
    }

    /// Whether the instance holds a resource from the host (a stream, a descriptor).
    pub(crate) fn holds_resources(&self) -> bool {
        !self.table.is_empty()
    }

    /// What the plugin printed to stdout and stderr (the last 64 KiB).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.contents()).into_owned()
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: built(&mut self.wasi, &self.source, &self.plugin).ctx().ctx,
            table: &mut self.table,
        }
    }
}

#[cfg(feature = "net")]
impl wasmtime_wasi_http::WasiHttpView for StoreState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        self.net.view(&mut self.table)
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(plugin = %self.plugin, "plugin logged more than {MAX_LOG_LINES} lines; dropping the rest");
            }
            return;
        }
        let mut message = message;
        if message.len() > MAX_LOG_BYTES {
            let mut cut = MAX_LOG_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let fields: String = fields
            .iter()
            .take(32)
            .map(|(k, v)| format!(" {k}={v:?}"))
            .collect();
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}{fields}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}{fields}"),
            LogLevel::Info => tracing::info!(plugin, "{message}{fields}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}{fields}"),
            LogLevel::Error => tracing::error!(plugin, "{message}{fields}"),
        }
    }
}

impl super::bindings::base::ferry::plugin::types::Host for StoreState {}
