//! Sparse dumped linear memories and the access API debuggers use on them.
//!
//! A dump holds only the non-zero parts of a memory; everything else reads as
//! zero, up to the memory's size at the time of the dump.

use std::ops::Range;

use crate::MemoryError;

/// The default Wasm page size (64 KiB).
pub const DEFAULT_PAGE_SIZE: u64 = 1 << 16;

/// A memory's declared type at the time of the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimits {
    /// Size in pages when the dump was taken.
    pub pages: u64,
    /// Declared maximum, in pages.
    pub maximum: Option<u64>,
    pub memory64: bool,
    pub shared: bool,
    /// log2 of a custom page size; `None` means 64 KiB pages.
    pub page_size_log2: Option<u32>,
}

impl MemoryLimits {
    /// 32-bit memory of `pages` 64 KiB pages, no maximum.
    pub fn pages(pages: u64) -> Self {
        MemoryLimits {
            pages,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        }
    }

    /// Page size in bytes.
    pub fn page_size(&self) -> u64 {
        self.page_size_log2
            .map_or(DEFAULT_PAGE_SIZE, |log2| 1u64 << log2.min(63))
    }

    /// Size in bytes, saturating.
    pub fn byte_size(&self) -> u64 {
        self.pages.saturating_mul(self.page_size())
    }
}

/// A run of bytes the dump holds for a memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub address: u64,
    pub bytes: Vec<u8>,
}

impl Region {
    fn end(&self) -> u64 {
        self.address + self.bytes.len() as u64
    }
}

/// A sparse dumped memory: its limits plus sorted, non-overlapping, non-adjacent regions.
///
/// Two memories are equal when their limits, exclusions and contents are,
/// however the contents happen to be split into regions.
#[derive(Debug, Clone)]
pub struct Memory {
    limits: MemoryLimits,
    regions: Vec<Region>,
    excluded: Vec<Range<u64>>,
}

impl Memory {
    /// An all-zero memory with the given limits.
    pub fn new(limits: MemoryLimits) -> Self {
        Memory {
            limits,
            regions: Vec::new(),
            excluded: Vec::new(),
        }
    }

    /// A memory holding a full snapshot; zero runs are not stored.
    pub fn from_snapshot(limits: MemoryLimits, bytes: &[u8]) -> Result<Self, MemoryError> {
        let mut memory = Memory::new(limits);
        for range in nonzero_runs(bytes, crate::write::MIN_ZERO_GAP) {
            memory.write(range.start as u64, &bytes[range])?;
        }
        Ok(memory)
    }

    pub fn limits(&self) -> &MemoryLimits {
        &self.limits
    }

    /// Size in bytes at the time of the dump.
    pub fn size(&self) -> u64 {
        self.limits.byte_size()
    }

    /// The stored regions, sorted by address.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Ranges the capturing tool left out on purpose (e.g. its own scratch space).
    pub fn excluded(&self) -> &[Range<u64>] {
        &self.excluded
    }

    /// Number of bytes actually stored.
    pub fn stored_bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.bytes.len() as u64).sum()
    }

    /// Marks a range as excluded from the dump; reads touching it fail.
    pub fn exclude(&mut self, range: Range<u64>) -> Result<(), MemoryError> {
        self.check_bounds(range.start, range.end.saturating_sub(range.start))?;
        if !range.is_empty() {
            self.excluded.push(range);
        }
        Ok(())
    }

    fn check_bounds(&self, address: u64, len: u64) -> Result<(), MemoryError> {
        let size = self.size();
        match address.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(MemoryError::OutOfBounds { address, len, size }),
        }
    }

    /// Stores `bytes` at `address`, overwriting what was there.
    pub fn write(&mut self, address: u64, bytes: &[u8]) -> Result<(), MemoryError> {
        self.check_bounds(address, bytes.len() as u64)?;
        if bytes.is_empty() {
            return Ok(());
        }
        let end = address + bytes.len() as u64;
        // Regions that overlap or touch [address, end) get merged into one.
        let first = self.regions.partition_point(|r| r.end() < address);
        let last = self.regions.partition_point(|r| r.address <= end);
        if first == last {
            self.regions.insert(
                first,
                Region {
                    address,
                    bytes: bytes.to_vec(),
                },
            );
            return Ok(());
        }
        let merged_start = self.regions[first].address.min(address);
        let merged_end = self.regions[last - 1].end().max(end);
        let mut merged = vec![0u8; (merged_end - merged_start) as usize];
        for region in &self.regions[first..last] {
            let at = (region.address - merged_start) as usize;
            merged[at..at + region.bytes.len()].copy_from_slice(&region.bytes);
        }
        let at = (address - merged_start) as usize;
        merged[at..at + bytes.len()].copy_from_slice(bytes);
        self.regions.splice(
            first..last,
            [Region {
                address: merged_start,
                bytes: merged,
            }],
        );
        Ok(())
    }

    /// Fills `out` from `address`; holes read as zero.
    pub fn read_into(&self, address: u64, out: &mut [u8]) -> Result<(), MemoryError> {
        let len = out.len() as u64;
        self.check_bounds(address, len)?;
        let end = address + len;
        if self
            .excluded
            .iter()
            .any(|ex| ex.start < end && address < ex.end)
        {
            return Err(MemoryError::Excluded { address, len });
        }
        out.fill(0);
        let first = self.regions.partition_point(|r| r.end() <= address);
        for region in self.regions[first..].iter().take_while(|r| r.address < end) {
            let from = region.address.max(address);
            let to = region.end().min(end);
            let src =
                &region.bytes[(from - region.address) as usize..(to - region.address) as usize];
            out[(from - address) as usize..(to - address) as usize].copy_from_slice(src);
        }
        Ok(())
    }

    /// Reads `len` bytes at `address`; holes read as zero, past the end is an error.
    pub fn read(&self, address: u64, len: usize) -> Result<Vec<u8>, MemoryError> {
        self.check_bounds(address, len as u64)?;
        let mut out = vec![0; len];
        self.read_into(address, &mut out)?;
        Ok(out)
    }

    /// Reads a little-endian value of `N` bytes.
    pub fn read_array<const N: usize>(&self, address: u64) -> Result<[u8; N], MemoryError> {
        let mut out = [0; N];
        self.read_into(address, &mut out)?;
        Ok(out)
    }

    pub fn read_u8(&self, address: u64) -> Result<u8, MemoryError> {
        Ok(self.read_array::<1>(address)?[0])
    }

    pub fn read_u16(&self, address: u64) -> Result<u16, MemoryError> {
        self.read_array(address).map(u16::from_le_bytes)
    }

    pub fn read_u32(&self, address: u64) -> Result<u32, MemoryError> {
        self.read_array(address).map(u32::from_le_bytes)
    }

    pub fn read_u64(&self, address: u64) -> Result<u64, MemoryError> {
        self.read_array(address).map(u64::from_le_bytes)
    }

    /// Reads a NUL-terminated string of at most `max_len` bytes (the NUL not counted).
    pub fn read_c_string(&self, address: u64, max_len: usize) -> Result<CString, MemoryError> {
        let available = self.size().saturating_sub(address);
        if available == 0 {
            return Err(MemoryError::OutOfBounds {
                address,
                len: 1,
                size: self.size(),
            });
        }
        // Read in chunks so a huge bound on a short string stays cheap.
        let mut bytes = Vec::new();
        let limit = (max_len as u64).min(available);
        let mut at = address;
        while (bytes.len() as u64) < limit {
            let chunk_len = (limit - bytes.len() as u64).min(256) as usize;
            let chunk = self.read(at, chunk_len)?;
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                bytes.extend_from_slice(&chunk[..nul]);
                return Ok(CString {
                    bytes,
                    end: StringEnd::Terminated,
                });
            }
            bytes.extend_from_slice(&chunk);
            at += chunk_len as u64;
        }
        let end = if limit < max_len as u64 {
            StringEnd::EndOfMemory
        } else {
            StringEnd::Truncated
        };
        Ok(CString { bytes, end })
    }
}

impl Memory {
    /// Every maximal run of non-zero bytes, by address.
    fn nonzero_content(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.regions.iter().flat_map(|region| {
            nonzero_runs(&region.bytes, 1)
                .into_iter()
                .map(move |run| (region.address + run.start as u64, &region.bytes[run]))
        })
    }
}

impl PartialEq for Memory {
    fn eq(&self, other: &Self) -> bool {
        self.limits == other.limits
            && self.excluded == other.excluded
            && self.nonzero_content().eq(other.nonzero_content())
    }
}

impl Eq for Memory {}

/// A C string read from a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CString {
    /// The bytes before the terminator (or up to the bound).
    pub bytes: Vec<u8>,
    pub end: StringEnd,
}

/// How a C string read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringEnd {
    /// A NUL byte was found.
    Terminated,
    /// The length bound was reached first.
    Truncated,
    /// Memory ended before a NUL.
    EndOfMemory,
}

/// Ranges of `bytes` holding non-zero data, split wherever at least `min_gap`
/// zero bytes separate two runs.
pub(crate) fn nonzero_runs(bytes: &[u8], min_gap: usize) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Skip zeros quickly, a word at a time where aligned.
        while i < bytes.len() && bytes[i] == 0 {
            if i % 8 == 0 && i + 8 <= bytes.len() && bytes[i..i + 8] == [0; 8] {
                i += 8;
            } else {
                i += 1;
            }
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != 0 {
            i += 1;
        }
        match runs.last_mut() {
            Some(last) if start - last.end < min_gap => last.end = i,
            _ => runs.push(start..i),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_page() -> Memory {
        Memory::new(MemoryLimits::pages(1))
    }

    #[test]
    fn holes_read_as_zero_and_regions_merge() {
        let mut m = one_page();
        m.write(10, &[1, 2, 3]).unwrap();
        m.write(20, &[4, 5]).unwrap();
        assert_eq!(m.regions().len(), 2);
        assert_eq!(
            m.read(8, 15).unwrap(),
            vec![0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 4, 5, 0]
        );
        m.write(12, &[9; 9]).unwrap();
        assert_eq!(m.regions().len(), 1);
        assert_eq!(
            m.read(10, 12).unwrap(),
            vec![1, 2, 9, 9, 9, 9, 9, 9, 9, 9, 9, 5]
        );
    }

    #[test]
    fn reads_past_the_end_fail() {
        let m = one_page();
        assert!(m.read(65535, 1).is_ok());
        assert_eq!(
            m.read(65535, 2),
            Err(MemoryError::OutOfBounds {
                address: 65535,
                len: 2,
                size: 65536
            })
        );
        assert!(m.read(u64::MAX, 2).is_err());
        assert!(m.read_u32(65533).is_err());
    }

    #[test]
    fn c_strings_are_bounded() {
        let mut m = one_page();
        m.write(100, b"hello\0world").unwrap();
        let s = m.read_c_string(100, 64).unwrap();
        assert_eq!(
            (s.bytes.as_slice(), s.end),
            (&b"hello"[..], StringEnd::Terminated)
        );
        let s = m.read_c_string(100, 3).unwrap();
        assert_eq!(
            (s.bytes.as_slice(), s.end),
            (&b"hel"[..], StringEnd::Truncated)
        );
        m.write(65533, b"abc").unwrap();
        let s = m.read_c_string(65533, 100).unwrap();
        assert_eq!(
            (s.bytes.as_slice(), s.end),
            (&b"abc"[..], StringEnd::EndOfMemory)
        );
        assert!(m.read_c_string(65536, 10).is_err());
    }

    #[test]
    fn excluded_ranges_refuse_reads() {
        let mut m = one_page();
        m.exclude(1000..2000).unwrap();
        assert!(m.read(999, 1).is_ok());
        assert!(matches!(m.read(999, 2), Err(MemoryError::Excluded { .. })));
    }

    #[test]
    fn snapshot_skips_zero_runs() {
        let mut bytes = vec![0u8; 65536];
        bytes[5] = 1;
        bytes[40000] = 2;
        let m = Memory::from_snapshot(MemoryLimits::pages(1), &bytes).unwrap();
        assert_eq!(m.stored_bytes(), 2);
        assert_eq!(m.read(0, 65536).unwrap(), bytes);
    }
}
