//! The random source a plugin instance sees, through `wasi:random` (components) and
//! `random_get` (Extism modules built for WASI preview 1).
//!
//! A plugin that computes draws from a generator seeded by its digest, so every fresh instance
//! sees the same sequence. That alone does not keep a row's result independent of the batch:
//! a draw made per row while computing takes its place in the sequence from the row's
//! position in the call. So a plugin that computes may draw while it starts (instantiation,
//! `get-manifest`, its constructors, fitting and training, whose results are pinned) and not
//! while it computes a batch (`validate`, `transformer.apply`, `predictor.predict`): such a
//! draw traps, and the call fails naming the plugin and the call.
//!
//! Deployers and alert sinks act on the world and draw from the operating system.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wasmtime::component::HasData;
use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};

/// The most bytes one call may ask for (as wasmtime-wasi allows).
const MAX_DRAW: u64 = 64 << 20;

/// Where the bytes come from.
enum Source {
    /// A plugin that computes: generators seeded by its digest.
    Seeded {
        secure: Box<StdRng>,
        insecure: Box<StdRng>,
        seed: u128,
    },
    /// A plugin that acts: the operating system, with one insecure seed per instance.
    System { seed: u128 },
}

/// The random source of one instance, which refuses draws during the calls that compute.
pub struct RandomGate {
    source: Source,
    /// The call under way, when it computes a batch (draws are refused).
    computing: Option<&'static str>,
    /// The call in which a draw was refused, if one was.
    refused: Option<&'static str>,
}

/// A draw refused while computing a batch; the guest traps with it.
#[derive(Debug, thiserror::Error)]
#[error("drew random bytes during `{0}`, which computes a batch")]
pub struct DrawRefused(pub &'static str);

/// Whether a call computes a batch, so that a draw during it is refused.
pub fn computes(operation: &str) -> bool {
    matches!(
        operation,
        "validate" | "transformer.apply" | "predictor.predict"
    )
}

impl RandomGate {
    /// A gate over the digest-seeded generators (`seed`), or over the operating system's
    /// source when `seed` is `None`.
    pub fn new(seed: Option<[u8; 32]>) -> Self {
        let source = match seed {
            Some(seed) => {
                let mut insecure = seed;
                insecure[0] ^= 1;
                let mut low = [0u8; 16];
                low.copy_from_slice(&seed[..16]);
                Source::Seeded {
                    secure: Box::new(StdRng::from_seed(seed)),
                    insecure: Box::new(StdRng::from_seed(insecure)),
                    seed: u128::from_le_bytes(low),
                }
            }
            None => {
                let mut bytes = [0u8; 16];
                let _ = getrandom::fill(&mut bytes);
                Source::System {
                    seed: u128::from_le_bytes(bytes),
                }
            }
        };
        Self {
            source,
            computing: None,
            refused: None,
        }
    }

    /// Sets the call under way: draws are refused from now on if it computes a batch and the
    /// source is seeded (a plugin that acts may always draw).
    pub fn enter(&mut self, operation: &'static str) {
        self.computing = (matches!(self.source, Source::Seeded { .. }) && computes(operation))
            .then_some(operation);
    }

    /// The call in which a draw was refused, if one was; clears it.
    pub fn take_refused(&mut self) -> Option<&'static str> {
        self.refused.take()
    }

    fn check(&mut self, len: u64) -> wasmtime::Result<()> {
        if let Some(op) = self.computing {
            self.refused = Some(op);
            return Err(DrawRefused(op).into());
        }
        if len > MAX_DRAW {
            wasmtime::bail!("asked for {len} random bytes, more than the {MAX_DRAW} allowed");
        }
        Ok(())
    }

    /// Fills `buf` from the secure source (`insecure` picks the other one).
    pub fn fill(&mut self, buf: &mut [u8], insecure: bool) -> wasmtime::Result<()> {
        self.check(buf.len() as u64)?;
        match &mut self.source {
            Source::Seeded {
                secure,
                insecure: weak,
                ..
            } => {
                if insecure {
                    weak.fill_bytes(buf)
                } else {
                    secure.fill_bytes(buf)
                }
            }
            Source::System { .. } => getrandom::fill(buf)
                .map_err(|e| wasmtime::Error::msg(format!("the system's random source: {e}")))?,
        }
        Ok(())
    }

    fn bytes(&mut self, len: u64, insecure: bool) -> wasmtime::Result<Vec<u8>> {
        self.check(len)?;
        let mut buf = vec![0u8; len as usize];
        self.fill(&mut buf, insecure)?;
        Ok(buf)
    }

    fn u64(&mut self, insecure: bool) -> wasmtime::Result<u64> {
        let mut buf = [0u8; 8];
        self.fill(&mut buf, insecure)?;
        Ok(u64::from_le_bytes(buf))
    }

    /// The seed `wasi:random/insecure-seed` returns: fixed for the instance, so reading it
    /// is allowed at any time (language runtimes seed their hash maps with it).
    fn seed(&self) -> u128 {
        match self.source {
            Source::Seeded { seed, .. } | Source::System { seed } => seed,
        }
    }
}

/// Puts the gated `wasi:random` interfaces in place of wasmtime-wasi's in a linker that has
/// WASI preview 2; `gate` finds the store's [`RandomGate`].
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    gate: fn(&mut T) -> &mut RandomGate,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    random::add_to_linker::<_, Gated>(linker, gate)?;
    insecure::add_to_linker::<_, Gated>(linker, gate)?;
    insecure_seed::add_to_linker::<_, Gated>(linker, gate)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Puts a gated `random_get` in place of wasmtime-wasi's in a linker of core modules that has
/// WASI preview 1; `gate` finds the store's [`RandomGate`].
pub(crate) fn add_to_p1_linker<T: Send + 'static>(
    linker: &mut wasmtime::Linker<T>,
    module: &str,
    gate: fn(&mut T) -> &mut RandomGate,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap(
        module,
        "random_get",
        move |mut caller: wasmtime::Caller<'_, T>,
              offset: i32,
              len: i32|
              -> wasmtime::Result<i32> {
            const FAULT: i32 = 21;
            let Some(wasmtime::Extern::Memory(memory)) = caller.get_export("memory") else {
                return Ok(FAULT);
            };
            let (start, len) = (offset as u32 as usize, len as u32 as usize);
            let (data, state) = memory.data_and_store_mut(&mut caller);
            match data.get_mut(start..start.saturating_add(len)) {
                Some(buf) => gate(state).fill(buf, false).map(|()| 0),
                None => Ok(FAULT),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The `HasData` of the gated `wasi:random` interfaces.
pub struct Gated;

impl HasData for Gated {
    type Data<'a> = &'a mut RandomGate;
}

impl random::Host for RandomGate {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.bytes(len, false)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        self.u64(false)
    }
}

impl insecure::Host for RandomGate {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.bytes(len, true)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        self.u64(true)
    }
}

impl insecure_seed::Host for RandomGate {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        let seed = self.seed();
        Ok((seed as u64, (seed >> 64) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_draws_repeat_and_stop_while_computing() {
        let mut a = RandomGate::new(Some([7; 32]));
        let mut b = RandomGate::new(Some([7; 32]));
        a.enter("new-transformer");
        b.enter("instantiate");
        assert_eq!(a.u64(false).unwrap(), b.u64(false).unwrap());
        a.enter("transformer.apply");
        let e = a.u64(false).unwrap_err();
        assert!(e.to_string().contains("transformer.apply"), "{e}");
        assert_eq!(a.take_refused(), Some("transformer.apply"));
        assert_eq!(a.seed(), b.seed(), "the insecure seed is always readable");
    }

    #[test]
    fn a_plugin_that_acts_may_always_draw() {
        let mut g = RandomGate::new(None);
        g.enter("validate");
        assert!(g.u64(false).is_ok());
        assert!(g.bytes(MAX_DRAW + 1, false).is_err());
    }
}
