//! One instance's Extism memory: the blocks a plugin allocates in the host, its input, output
//! and variables. Every access is checked against the blocks, so a bad offset is an error,
//! never a read of anything else.

use std::cell::Cell;
use std::collections::BTreeMap;

/// What the host spends to keep track of one block, counted against the memory cap with the
/// block's bytes, so a plugin cannot make the host hold more than its cap in many tiny blocks.
const BLOCK_OVERHEAD: usize = 64;

/// One instance's Extism memory and call slots.
#[derive(Debug)]
pub struct ExtismMemory {
    /// The blocks' bytes. Offset 0 is never a block, so 0 can mean "none": the first
    /// allocation reserves it (a component's store never allocates, so never pays for it).
    pub(super) bytes: Vec<u8>,
    /// Block start → length.
    pub(super) blocks: BTreeMap<u64, u64>,
    pub(super) input: Vec<u8>,
    pub(super) output: Option<(u64, u64)>,
    pub(super) error: Option<u64>,
    pub(super) vars: BTreeMap<String, Vec<u8>>,
    pub(super) http_status: i32,
    /// The block the last access fell in, `[start, end)`: PDKs copy a block 8 bytes at a
    /// time, so most accesses land in the same one. Cleared whenever a block goes away.
    pub(super) last: Cell<(u64, u64)>,
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

    pub(super) fn slice(&self, offset: u64, len: u64) -> Result<&[u8], String> {
        let (start, end) = self.span(offset, len)?;
        Ok(&self.bytes[start..end])
    }

    /// The byte range of `len` bytes at `offset`, which must lie inside one block.
    pub(super) fn span(&self, offset: u64, len: u64) -> Result<(usize, usize), String> {
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

    pub(super) fn block(&self, offset: u64) -> Result<&[u8], String> {
        match self.blocks.get(&offset) {
            Some(&n) => self.slice(offset, n),
            None => Err(format!(
                "Extism memory: offset {offset} is not the start of a block the plugin allocated"
            )),
        }
    }

    /// Allocates `n` bytes, if the blocks' bytes and bookkeeping stay within `cap`.
    pub(super) fn alloc(&mut self, n: u64, cap: usize) -> Result<u64, usize> {
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

    pub(super) fn alloc_with(&mut self, data: &[u8], cap: usize) -> Result<u64, usize> {
        let offset = self.alloc(data.len() as u64, cap)?;
        if offset != 0 {
            self.bytes[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        }
        Ok(offset)
    }

    pub(super) fn free(&mut self, offset: u64) {
        self.last.set((0, 0));
        if let Some(n) = self.blocks.remove(&offset)
            && offset + n == self.bytes.len() as u64
        {
            self.bytes.truncate(offset as usize);
        }
    }

    /// Bytes the variables hold.
    pub(super) fn var_bytes(&self) -> usize {
        self.vars.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Bytes the Extism memory, its bookkeeping and the variables hold: what counts against
    /// the memory cap beside linear memory.
    pub fn held(&self) -> usize {
        self.bytes.len() + self.blocks.len() * BLOCK_OVERHEAD + self.var_bytes()
    }
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
