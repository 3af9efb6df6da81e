//! Reaching one instance's Extism memory from a host function: reading texts, blocks and
//! input, allocating within the memory cap, and the request and response of `http_request`.

use wasmtime::Caller;

use super::super::state::StoreState;

/// Longest HTTP response body handed to a plugin.
#[cfg(feature = "net")]
const MAX_HTTP_BODY: usize = 16 << 20;

pub(super) type Host<'a> = Caller<'a, StoreState>;

pub(super) fn trap(message: String) -> wasmtime::Error {
    wasmtime::Error::msg(message)
}

/// Allocates `n` bytes (filled with `data` when given) within what the memory cap leaves
/// beside linear memory; a refusal is reported as the cap.
pub(super) fn alloc_checked(
    caller: &mut Host<'_>,
    n: u64,
    data: Option<&[u8]>,
) -> wasmtime::Result<u64> {
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

pub(super) fn alloc_in(caller: &mut Host<'_>, data: &[u8]) -> wasmtime::Result<u64> {
    alloc_checked(caller, data.len() as u64, Some(data))
}

/// Records what the Extism memory holds after it shrank.
pub(super) fn shrunk(caller: &mut Host<'_>) {
    let state = caller.data_mut();
    state.limiter.set_outside(state.extism.held());
}

pub(super) fn text_at(caller: &Host<'_>, offset: u64) -> wasmtime::Result<String> {
    let bytes = caller.data().extism.block(offset).map_err(trap)?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

pub(super) fn load<const N: usize>(caller: &Host<'_>, offset: u64) -> wasmtime::Result<[u8; N]> {
    let bytes = caller.data().extism.slice(offset, N as u64).map_err(trap)?;
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

pub(super) fn store(caller: &mut Host<'_>, offset: u64, data: &[u8]) -> wasmtime::Result<()> {
    let m = &mut caller.data_mut().extism;
    let (start, end) = m.span(offset, data.len() as u64).map_err(trap)?;
    m.bytes[start..end].copy_from_slice(data);
    Ok(())
}

pub(super) fn input_at<const N: usize>(
    caller: &Host<'_>,
    offset: u64,
) -> wasmtime::Result<[u8; N]> {
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
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub fn respond(c: &mut Host<'_>, status: i32, body: &[u8]) -> wasmtime::Result<u64> {
    c.data_mut().extism.http_status = status;
    alloc_in(c, body)
}

/// A refusal or failure that stops the call.
pub fn fail(message: String) -> wasmtime::Error {
    trap(message)
}

#[cfg(feature = "net")]
pub const MAX_BODY: usize = MAX_HTTP_BODY;
