//! A snapshot's memory image: the guest's linear memory at the snapshot, stored as the 4 KiB
//! chunks that differ from a fresh instance's memory (data segments below, zeros above), plus
//! the names of the top-level modules the snapshot imported. Restoring grows a fresh instance's
//! memory to the snapshot's size and writes the chunks: the result is the snapshot's memory,
//! byte for byte.
//!
//! On disk: a versioned header, then the fields, all little-endian; a sidecar `.sha256` (as for
//! the compiled module) is checked before a file is decoded, and decoding checks every length.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::sandbox::module_cache::{sidecar, write_atomic};

const MAGIC: &[u8] = b"codeswarm-snapshot-image-v1\n";
const CHUNK: usize = 4096;
const PAGE: u64 = 65536;

/// A memory image and what the snapshot imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Image {
    /// Size of the memory in 64 KiB wasm pages.
    pub pages: u64,
    /// (offset, bytes) runs that differ from a fresh instance's memory.
    runs: Vec<(u32, Vec<u8>)>,
    /// Top-level names of the modules in `sys.modules` at the snapshot.
    pub names: Vec<String>,
}

impl Image {
    /// The image of `snapshot` over the fresh memory `fresh` (shorter or equal; what lies past
    /// it is zero).
    pub fn diff(fresh: &[u8], snapshot: &[u8], names: Vec<String>) -> Result<Image, String> {
        if snapshot.len() % PAGE as usize != 0 || snapshot.len() < fresh.len() {
            return Err(format!(
                "a snapshot of {} bytes cannot follow a fresh memory of {} bytes",
                snapshot.len(),
                fresh.len()
            ));
        }
        let mut runs: Vec<(u32, Vec<u8>)> = Vec::new();
        let zeros = [0u8; CHUNK];
        for (i, chunk) in snapshot.chunks(CHUNK).enumerate() {
            let start = i * CHUNK;
            let base = fresh
                .get(start..start + chunk.len())
                .unwrap_or(&zeros[..chunk.len()]);
            if chunk == base {
                continue;
            }
            let offset = u32::try_from(start).map_err(|_| "memory past 4 GiB".to_string())?;
            match runs.last_mut() {
                Some((o, bytes)) if *o as usize + bytes.len() == start => {
                    bytes.extend_from_slice(chunk)
                }
                _ => runs.push((offset, chunk.to_vec())),
            }
        }
        Ok(Image {
            pages: snapshot.len() as u64 / PAGE,
            runs,
            names,
        })
    }

    /// Bytes of memory the restored guest starts with.
    pub fn memory_bytes(&self) -> u64 {
        self.pages * PAGE
    }

    /// Write the image over `memory`, a fresh instance's memory already grown to
    /// [`Image::memory_bytes`].
    pub fn write_into(&self, memory: &mut [u8]) -> Result<(), String> {
        for (offset, bytes) in &self.runs {
            let start = *offset as usize;
            let target = memory
                .get_mut(start..start + bytes.len())
                .ok_or("the memory is smaller than the snapshot")?;
            target.copy_from_slice(bytes);
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        let names = serde_json::to_vec(&self.names).unwrap_or_default();
        let mut out = Vec::with_capacity(self.runs.iter().map(|r| r.1.len() + 8).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.pages.to_le_bytes());
        out.extend_from_slice(&(names.len() as u64).to_le_bytes());
        out.extend_from_slice(&names);
        out.extend_from_slice(&(self.runs.len() as u64).to_le_bytes());
        for (offset, bytes) in &self.runs {
            out.extend_from_slice(&u64::from(*offset).to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Image, String> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err("not a snapshot image of this version".into());
        }
        let pages = r.u64()?;
        if pages > (1 << 16) {
            return Err("a snapshot larger than 4 GiB".into());
        }
        let names_len = r.len()?;
        let names: Vec<String> =
            serde_json::from_slice(r.take(names_len)?).map_err(|e| format!("bad names: {e}"))?;
        let count = r.len()?;
        let mut runs = Vec::new();
        for _ in 0..count {
            let offset = r.u64()?;
            let len = r.len()?;
            if offset + len as u64 > pages * PAGE {
                return Err("a chunk past the end of the memory".into());
            }
            runs.push((offset as u32, r.take(len)?.to_vec()));
        }
        if !r.0.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(Image { pages, runs, names })
    }

    /// Read a checked image file (`None`, with a warning, when it is missing, damaged or does
    /// not match its checksum).
    pub fn load(path: &Path) -> Option<Image> {
        let expected = std::fs::read_to_string(sidecar(path)).ok()?;
        let bytes = std::fs::read(path).ok()?;
        if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
            tracing::warn!(path = %path.display(), "pytest snapshot file does not match its checksum; taking a new one");
            return None;
        }
        match Image::decode(&bytes) {
            Ok(image) => Some(image),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "pytest snapshot file rejected; taking a new one");
                None
            }
        }
    }

    /// Store the image (file first, checksum second, each renamed into place).
    pub fn store(&self, path: &Path) -> Result<(), crate::sandbox::SandboxError> {
        let bytes = self.encode();
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(crate::sandbox::error::io_err(dir))?;
        }
        write_atomic(path, &bytes)?;
        write_atomic(&sidecar(path), format!("{digest}\n").as_bytes())
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| "truncated")?))
    }
    fn len(&mut self) -> Result<usize, String> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.0.len())
            .ok_or_else(|| "a length past the end of the file".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_the_snapshot_byte_for_byte_and_round_trips() {
        let mut fresh = vec![0u8; 65536];
        fresh[100] = 7;
        fresh[9000] = 1;
        let mut snap = vec![0u8; 3 * 65536];
        snap[..65536].copy_from_slice(&fresh);
        snap[9000] = 0; // a byte cleared
        snap[70000] = 5; // past the fresh memory
        snap[3 * 65536 - 1] = 9;
        let image = Image::diff(&fresh, &snap, vec!["pytest".into()]).unwrap();
        assert_eq!(image.pages, 3);
        assert_eq!(image.runs.len(), 3, "unchanged chunks are left out");
        let decoded = Image::decode(&image.encode()).unwrap();
        assert_eq!(decoded, image);
        let mut memory = fresh.clone();
        memory.resize(3 * 65536, 0);
        decoded.write_into(&mut memory).unwrap();
        assert_eq!(memory, snap);
    }

    #[test]
    fn damaged_files_are_refused() {
        let image = Image::diff(&[0; 65536], &[1; 65536], vec![]).unwrap();
        let bytes = image.encode();
        assert!(Image::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Image::decode(&longer).is_err());
        assert!(Image::decode(b"something else").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.img");
        image.store(&path).unwrap();
        assert_eq!(Image::load(&path), Some(image));
        let mut changed = std::fs::read(&path).unwrap();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        std::fs::write(&path, changed).unwrap();
        assert_eq!(
            Image::load(&path),
            None,
            "a file that fails its checksum is not used"
        );
    }
}
