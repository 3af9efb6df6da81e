//! Compiled components cached on disk, keyed by the component's sha256 and the engine's
//! compatibility hash: a second load is a deserialize, not a compile.

use std::{
    fs,
    hash::{DefaultHasher, Hash, Hasher},
    io::Write,
    path::{Path, PathBuf},
};

use wasmtime::{Engine, Module, component::Component};

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (and written to the cache when there is one).
    Compiled,
    /// Deserialized from the cache.
    Cached,
}

/// A folder of compiled components; `None` compiles every time.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// No cache: compile every time.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// The cache folder, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn path_for(&self, engine: &Engine, digest_hex: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        Some(dir.join(format!("{digest_hex}-{:016x}.cwasm", h.finish())))
    }

    /// The compiled component for `bytes` (whose sha256 is `digest_hex`).
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest_hex: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        self.load_with(
            engine,
            digest_hex,
            // SAFETY: see `load_with`.
            |path| unsafe { Component::deserialize_file(engine, path) },
            || Component::new(engine, bytes),
            Component::serialize,
        )
    }

    /// The compiled core module (an Extism plugin) for `bytes`.
    pub fn load_module(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest_hex: &str,
    ) -> wasmtime::Result<(Module, CacheOutcome)> {
        self.load_with(
            engine,
            digest_hex,
            // SAFETY: see `load_with`.
            |path| unsafe { Module::deserialize_file(engine, path) },
            || Module::new(engine, bytes),
            Module::serialize,
        )
    }

    /// Takes the compiled code from the cache, or compiles it and writes it there. The
    /// deserializer is only given files written by `serialize` into a folder only this host
    /// writes; wasmtime checks their header and engine compatibility before use.
    fn load_with<T>(
        &self,
        engine: &Engine,
        digest_hex: &str,
        deserialize: impl Fn(&Path) -> wasmtime::Result<T>,
        compile: impl FnOnce() -> wasmtime::Result<T>,
        serialize: impl FnOnce(&T) -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<(T, CacheOutcome)> {
        let path = self.path_for(engine, digest_hex);
        if let Some(path) = &path
            && path.exists()
        {
            match deserialize(path) {
                Ok(c) => return Ok((c, CacheOutcome::Cached)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached code");
                    let _ = fs::remove_file(path);
                }
            }
        }
        let compiled = compile()?;
        let Some(path) = &path else {
            return Ok((compiled, CacheOutcome::Compiled));
        };
        if let Err(e) = write_atomically(path, &serialize(&compiled)?) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled code");
            return Ok((compiled, CacheOutcome::Compiled));
        }
        // The code just written is the code used: wasmtime then maps each instance's initial
        // memory from that file, as for a cached load, instead of copying it into a sealed
        // memfd, a step the kernel can refuse (EBUSY) while the pages are briefly pinned.
        match deserialize(path) {
            Ok(mapped) => Ok((mapped, CacheOutcome::Compiled)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not map the code just cached");
                Ok((compiled, CacheOutcome::Compiled))
            }
        }
    }
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
