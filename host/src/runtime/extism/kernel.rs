//! Extism's host ABI (`extism:host/env`) on Ferry's engine and store: the plugin's Extism
//! memory, its input and output, configuration, variables, logging and HTTP. The memory lives
//! in the host, counted against the plugin's memory cap; every access is checked against the
//! blocks the plugin allocated, so a bad offset stops the call instead of reaching anything.

use std::cell::Cell;
use std::collections::BTreeMap;

use wasmtime::{Caller, Linker};

use super::super::bindings::base::ferry::plugin::host::{Host as _, LogLevel};
use super::super::state::StoreState;

/// The import module every Extism PDK links against.
pub const MODULE: &str = "extism:host/env";

/// What the host spends to keep track of one block, counted against the memory cap with the
/// block's bytes, so a plugin cannot make the host hold more than its cap in many tiny blocks.
const BLOCK_OVERHEAD: usize = 64;

/// Bytes of variables (`var_set`) one instance may keep.
const MAX_VAR_BYTES: usize = 1 << 20;

/// Longest HTTP response body handed to a plugin.
#[cfg(feature = "registry")]
const MAX_HTTP_BODY: usize = 16 << 20;

/// One instance's Extism memory and call slots.
#[derive(Debug)]
pub struct ExtismMemory {
    /// The blocks' bytes. Offset 0 is never a block, so 0 can mean "none": the first
    /// allocation reserves it (a component's store never allocates, so never pays for it).
    bytes: Vec<u8>,
    /// Block start → length.
    blocks: BTreeMap<u64, u64>,
    input: Vec<u8>,
    output: Option<(u64, u64)>,
    error: Option<u64>,
    vars: BTreeMap<String, Vec<u8>>,
    http_status: i32,
    /// The block the last access fell in, `[start, end)`: PDKs copy a block 8 bytes at a
    /// time, so most accesses land in the same one. Cleared whenever a block goes away.
    last: Cell<(u64, u64)>,
}

impl Default for ExtismMemory {
    fn default() -> Self {
        Self {
            bytes: Vec::new(),
            blocks: BTreeMap::new(),
            input: Vec::new(),
            output: None,
            error: None,
            vars: BTreeMap::new(),
            http_status: 0,
            last: Cell::new((0, 0)),
        }
    }
}

/// What a call left behind.
#[derive(Debug)]
pub struct CallResult {
    /// The bytes the plugin set as its output.
    pub output: Vec<u8>,
    /// The message the plugin set as its error.
    pub error: Option<String>,
}

impl ExtismMemory {
    /// Starts a call with `input`: blocks from the previous call are freed.
    pub fn begin(&mut self, input: Vec<u8>) {
        self.bytes.clear();
        self.bytes.shrink_to(1 << 20);
        self.blocks.clear();
        self.last.set((0, 0));
        self.input = input;
        self.output = None;
        self.error = None;
    }

    /// Takes what the call set as its output and error.
    pub fn finish(&mut self) -> CallResult {
        let output = self
            .output
            .take()
            .and_then(|(o, n)| self.slice(o, n).ok().map(<[u8]>::to_vec))
            .unwrap_or_default();
        let error = self.error.take().and_then(|o| {
            let n = *self.blocks.get(&o)?;
            let bytes = self.slice(o, n).ok()?;
            Some(String::from_utf8_lossy(bytes).into_owned())
        });
        self.input = Vec::new();
        CallResult { output, error }
    }

    fn slice(&self, offset: u64, len: u64) -> Result<&[u8], String> {
        let (start, end) = self.span(offset, len)?;
        Ok(&self.bytes[start..end])
    }

    /// The byte range of `len` bytes at `offset`, which must lie inside one block.
    fn span(&self, offset: u64, len: u64) -> Result<(usize, usize), String> {
        if len == 0 {
            return Ok((0, 0));
        }
        let end = offset.checked_add(len);
        let (start, stop) = self.last.get();
        let inside = (stop > 0 && start <= offset && end.is_some_and(|e| e <= stop))
            || self
                .blocks
                .range(..=offset)
                .next_back()
                .is_some_and(|(&start, &n)| {
                    let fits = end.is_some_and(|e| e <= start + n);
                    if fits {
                        self.last.set((start, start + n));
                    }
                    fits
                });
        if !inside {
            return Err(format!(
                "Extism memory: {len} bytes at offset {offset} lie outside every block the plugin allocated"
            ));
        }
        Ok((offset as usize, (offset + len) as usize))
    }

    fn block(&self, offset: u64) -> Result<&[u8], String> {
        match self.blocks.get(&offset) {
            Some(&n) => self.slice(offset, n),
            None => Err(format!(
                "Extism memory: offset {offset} is not the start of a block the plugin allocated"
            )),
        }
    }

    /// Allocates `n` bytes, if the blocks' bytes and bookkeeping stay within `cap`.
    fn alloc(&mut self, n: u64, cap: usize) -> Result<u64, usize> {
        if n == 0 {
            return Ok(0);
        }
        if self.bytes.is_empty() {
            self.bytes.push(0);
        }
        let offset = self.bytes.len() as u64;
        let wanted = (offset as usize)
            .saturating_add(n as usize)
            .saturating_add((self.blocks.len() + 1) * BLOCK_OVERHEAD);
        if n > cap as u64 || wanted > cap {
            return Err(wanted);
        }
        self.bytes.resize(offset as usize + n as usize, 0);
        self.blocks.insert(offset, n);
        Ok(offset)
    }

    fn alloc_with(&mut self, data: &[u8], cap: usize) -> Result<u64, usize> {
        let offset = self.alloc(data.len() as u64, cap)?;
        if offset != 0 {
            self.bytes[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        }
        Ok(offset)
    }

    fn free(&mut self, offset: u64) {
        self.last.set((0, 0));
        if let Some(n) = self.blocks.remove(&offset)
            && offset + n == self.bytes.len() as u64
        {
            self.bytes.truncate(offset as usize);
        }
    }

    /// Bytes the variables hold.
    fn var_bytes(&self) -> usize {
        self.vars.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Bytes the Extism memory, its bookkeeping and the variables hold: what counts against
    /// the memory cap beside linear memory.
    pub fn held(&self) -> usize {
        self.bytes.len() + self.blocks.len() * BLOCK_OVERHEAD + self.var_bytes()
    }
}

type Host<'a> = Caller<'a, StoreState>;

fn trap(message: String) -> wasmtime::Error {
    wasmtime::Error::msg(message)
}

/// Allocates `n` bytes (filled with `data` when given) within what the memory cap leaves
/// beside linear memory; a refusal is reported as the cap.
fn alloc_checked(caller: &mut Host<'_>, n: u64, data: Option<&[u8]>) -> wasmtime::Result<u64> {
    let state = caller.data_mut();
    let room = state
        .limiter
        .room_outside()
        .saturating_sub(state.extism.var_bytes());
    let result = match data {
        Some(d) => state.extism.alloc_with(d, room),
        None => state.extism.alloc(n, room),
    };
    let offset = result.map_err(|wanted| {
        state.limiter.refused = Some(wanted);
        trap(format!(
            "Extism memory: an allocation of {n} bytes passes the plugin's memory cap"
        ))
    })?;
    state.limiter.set_outside(state.extism.held());
    Ok(offset)
}

fn alloc_in(caller: &mut Host<'_>, data: &[u8]) -> wasmtime::Result<u64> {
    alloc_checked(caller, data.len() as u64, Some(data))
}

/// Records what the Extism memory holds after it shrank.
fn shrunk(caller: &mut Host<'_>) {
    let state = caller.data_mut();
    state.limiter.set_outside(state.extism.held());
}

fn text_at(caller: &Host<'_>, offset: u64) -> wasmtime::Result<String> {
    let bytes = caller.data().extism.block(offset).map_err(trap)?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn load<const N: usize>(caller: &Host<'_>, offset: u64) -> wasmtime::Result<[u8; N]> {
    let bytes = caller.data().extism.slice(offset, N as u64).map_err(trap)?;
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

fn store(caller: &mut Host<'_>, offset: u64, data: &[u8]) -> wasmtime::Result<()> {
    let m = &mut caller.data_mut().extism;
    let (start, end) = m.span(offset, data.len() as u64).map_err(trap)?;
    m.bytes[start..end].copy_from_slice(data);
    Ok(())
}

fn input_at<const N: usize>(caller: &Host<'_>, offset: u64) -> wasmtime::Result<[u8; N]> {
    let input = &caller.data().extism.input;
    let range = usize::try_from(offset)
        .ok()
        .and_then(|s| Some(s..s.checked_add(N)?))
        .filter(|r| r.end <= input.len())
        .ok_or_else(|| {
            trap(format!(
                "Extism input: {N} bytes at offset {offset} lie past the input's {} bytes",
                input.len()
            ))
        })?;
    let mut out = [0; N];
    out.copy_from_slice(&input[range]);
    Ok(out)
}

fn log_at(caller: &mut Host<'_>, level: LogLevel, offset: u64) -> wasmtime::Result<()> {
    let message = text_at(caller, offset)?;
    caller.data_mut().log(level, message, Vec::new());
    Ok(())
}

/// The level below which the plugin need not format log lines, in Extism's numbering.
fn log_level() -> i32 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::TRACE => 0,
        LevelFilter::DEBUG => 1,
        LevelFilter::INFO => 2,
        LevelFilter::WARN => 3,
        LevelFilter::ERROR => 4,
        _ => i32::MAX,
    }
}

/// Adds `extism:host/env` to `linker`.
pub fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    let m = MODULE;
    linker.func_wrap(m, "alloc", |mut c: Host<'_>, n: u64| {
        alloc_checked(&mut c, n, None)
    })?;
    linker.func_wrap(m, "free", |mut c: Host<'_>, offset: u64| {
        c.data_mut().extism.free(offset);
        shrunk(&mut c);
    })?;
    for name in ["length", "length_unsafe"] {
        linker.func_wrap(m, name, |c: Host<'_>, offset: u64| -> u64 {
            c.data().extism.blocks.get(&offset).copied().unwrap_or(0)
        })?;
    }
    linker.func_wrap(
        m,
        "load_u8",
        |c: Host<'_>, o: u64| -> wasmtime::Result<u32> { Ok(u32::from(load::<1>(&c, o)?[0])) },
    )?;
    linker.func_wrap(
        m,
        "load_u64",
        |c: Host<'_>, o: u64| -> wasmtime::Result<u64> {
            Ok(u64::from_le_bytes(load::<8>(&c, o)?))
        },
    )?;
    linker.func_wrap(m, "store_u8", |mut c: Host<'_>, o: u64, v: u32| {
        store(&mut c, o, &[v as u8])
    })?;
    linker.func_wrap(m, "store_u64", |mut c: Host<'_>, o: u64, v: u64| {
        store(&mut c, o, &v.to_le_bytes())
    })?;
    linker.func_wrap(m, "input_length", |c: Host<'_>| -> u64 {
        c.data().extism.input.len() as u64
    })?;
    linker.func_wrap(
        m,
        "input_load_u8",
        |c: Host<'_>, o: u64| -> wasmtime::Result<u32> { Ok(u32::from(input_at::<1>(&c, o)?[0])) },
    )?;
    linker.func_wrap(
        m,
        "input_load_u64",
        |c: Host<'_>, o: u64| -> wasmtime::Result<u64> {
            Ok(u64::from_le_bytes(input_at::<8>(&c, o)?))
        },
    )?;
    linker.func_wrap(m, "output_set", |mut c: Host<'_>, o: u64, n: u64| {
        let mem = &mut c.data_mut().extism;
        mem.span(o, n).map_err(trap)?;
        mem.output = Some((o, n));
        Ok(())
    })?;
    linker.func_wrap(m, "error_set", |mut c: Host<'_>, o: u64| {
        let mem = &mut c.data_mut().extism;
        if o != 0 {
            mem.block(o).map_err(trap)?;
        }
        mem.error = (o != 0).then_some(o);
        Ok(())
    })?;
    linker.func_wrap(m, "reset", |mut c: Host<'_>| {
        let mem = &mut c.data_mut().extism;
        mem.bytes.clear();
        mem.blocks.clear();
        mem.last.set((0, 0));
        shrunk(&mut c);
    })?;
    linker.func_wrap(m, "config_get", |mut c: Host<'_>, o: u64| {
        let key = text_at(&c, o)?;
        let value = c
            .data()
            .grants
            .env
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone());
        match value {
            Some(v) => alloc_in(&mut c, v.as_bytes()),
            None => Ok(0),
        }
    })?;
    linker.func_wrap(m, "var_get", |mut c: Host<'_>, o: u64| {
        let key = text_at(&c, o)?;
        match c.data().extism.vars.get(&key).cloned() {
            Some(v) => alloc_in(&mut c, &v),
            None => Ok(0),
        }
    })?;
    linker.func_wrap(m, "var_set", |mut c: Host<'_>, k: u64, v: u64| {
        let key = text_at(&c, k)?;
        let value = match v {
            0 => None,
            v => Some(c.data().extism.block(v).map_err(trap)?.to_vec()),
        };
        let mem = &mut c.data_mut().extism;
        mem.vars.remove(&key);
        if let Some(value) = value {
            if mem.var_bytes() + key.len() + value.len() > MAX_VAR_BYTES {
                return Err(trap(format!(
                    "Extism variables: setting `{key}` passes the {MAX_VAR_BYTES} bytes an instance may keep"
                )));
            }
            mem.vars.insert(key, value);
        }
        shrunk(&mut c);
        Ok(())
    })?;
    for (name, level) in [
        ("log_trace", LogLevel::Trace),
        ("log_debug", LogLevel::Debug),
        ("log_info", LogLevel::Info),
        ("log_warn", LogLevel::Warn),
        ("log_error", LogLevel::Error),
    ] {
        linker.func_wrap(m, name, move |mut c: Host<'_>, o: u64| {
            log_at(&mut c, level, o)
        })?;
    }
    linker.func_wrap(m, "get_log_level", |_: Host<'_>| -> i32 { log_level() })?;
    linker.func_wrap(m, "http_status_code", |c: Host<'_>| -> i32 {
        c.data().extism.http_status
    })?;
    linker.func_wrap(m, "http_headers", |_: Host<'_>| -> u64 { 0 })?;
    linker.func_wrap_async(
        m,
        "http_request",
        |mut c: Host<'_>, (req, body): (u64, u64)| {
            Box::new(async move { super::http::request(&mut c, req, body).await })
        },
    )?;
    Ok(())
}

/// What `http_request` needs from the kernel.
pub(super) mod access {
    use super::*;

    /// The request's JSON and body.
    pub fn request(c: &Host<'_>, req: u64, body: u64) -> wasmtime::Result<(String, Vec<u8>)> {
        let json = text_at(c, req)?;
        let body = match body {
            0 => Vec::new(),
            b => c.data().extism.block(b).map_err(trap)?.to_vec(),
        };
        Ok((json, body))
    }

    /// Hands the response to the plugin.
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub fn respond(c: &mut Host<'_>, status: i32, body: &[u8]) -> wasmtime::Result<u64> {
        c.data_mut().extism.http_status = status;
        alloc_in(c, body)
    }

    /// A refusal or failure that stops the call.
    pub fn fail(message: String) -> wasmtime::Error {
        trap(message)
    }

    #[cfg(feature = "registry")]
    pub const MAX_BODY: usize = MAX_HTTP_BODY;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_stay_inside_blocks() {
        let mut m = ExtismMemory::default();
        let a = m.alloc(16, 1 << 20).unwrap();
        let b = m.alloc(8, 1 << 20).unwrap();
        assert!(m.span(a, 16).is_ok());
        assert!(m.span(a + 8, 8).is_ok());
        assert!(
            m.span(a + 9, 8).is_err(),
            "a read may not straddle two blocks"
        );
        assert!(m.span(b + 1, 8).is_err());
        assert!(m.span(u64::MAX - 2, 8).is_err());
        assert!(m.span(0, 1).is_err(), "offset 0 is never a block");
        assert_eq!(m.span(0, 0), Ok((0, 0)), "nothing is anywhere");
        assert!(m.span(b, 8).is_ok());
        m.free(b);
        assert!(
            m.span(b, 8).is_err(),
            "a freed block cannot be read, even just after a read"
        );
        let c = m.alloc(4, 1 << 20).unwrap();
        assert_eq!(c, b, "the freed tail is reused");
        assert!(
            m.span(c, 8).is_err(),
            "the old block's extent does not outlive it"
        );
    }

    #[test]
    fn an_allocation_past_the_cap_is_refused_with_the_size_wanted() {
        let mut m = ExtismMemory::default();
        assert_eq!(m.alloc(2048, 1024), Err(2049 + BLOCK_OVERHEAD));
        assert_eq!(m.alloc(u64::MAX, 1024), Err(usize::MAX));
        assert_eq!(m.alloc(0, 1024), Ok(0));
    }

    #[test]
    fn tiny_blocks_count_their_bookkeeping_against_the_cap() {
        let mut m = ExtismMemory::default();
        let cap = 100 * BLOCK_OVERHEAD;
        let mut made = 0;
        while m.alloc(1, cap).is_ok() {
            made += 1;
        }
        assert!(
            made < 100,
            "{made} one-byte blocks fit a cap of {cap} bytes"
        );
        assert!(m.held() <= cap);
    }
}
