//! Extism's host ABI (`extism:host/env`) on Ferry's engine and store: the plugin's Extism
//! memory, its input and output, configuration, variables, logging and HTTP. The memory lives
//! in the host, counted against the plugin's memory cap; every access is checked against the
//! blocks the plugin allocated, so a bad offset stops the call instead of reaching anything.

use wasmtime::Linker;

use super::super::bindings::base::ferry::plugin::host::{Host as _, LogLevel};
use super::super::state::StoreState;
use super::access::{Host, alloc_checked, alloc_in, input_at, load, shrunk, store, text_at, trap};

/// The import module every Extism PDK links against.
pub const MODULE: &str = "extism:host/env";

/// Bytes of variables (`var_set`) one instance may keep.
const MAX_VAR_BYTES: usize = 1 << 20;

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
