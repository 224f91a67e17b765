//! Writes ADB, the binary tree format of apk-tools 3 (apk-v3(5)): the metadata block of an .apk
//! package, and the block framing around it.
//!
//! A value is one little-endian u32 tag: 4 bits of type, 28 bits of immediate value or of offset
//! into the ADB block. Integers below 2^28 are immediate; larger ones, blobs and objects live in
//! the block and the tag holds their offset. An object is a run of u32 slots whose first slot is
//! the slot count (itself included), so field `i` is slot `i`. Identical values are written once
//! and shared, as apk-tools does; values are aligned to their natural size (objects and wide
//! integers to 4 bytes, a blob to the width of its length prefix).

use std::collections::HashMap;

use thiserror::Error;

/// A value tag as stored in the file.
pub type Val = u32;

/// The null value: an absent field.
pub const NULL: Val = 0;

const TYPE_INT: u32 = 0x1000_0000;
const TYPE_INT32: u32 = 0x2000_0000;
const TYPE_INT64: u32 = 0x3000_0000;
const TYPE_BLOB8: u32 = 0x8000_0000;
const TYPE_BLOB16: u32 = 0x9000_0000;
const TYPE_BLOB32: u32 = 0xa000_0000;
const TYPE_OBJECT: u32 = 0xe000_0000;
const VALUE_MASK: u32 = 0x0fff_ffff;

/// Size of the ADB block header: compat version, version, reserved u16, root value.
const HEADER_LEN: usize = 8;

/// Block types (the top two bits of a block's first word).
pub const BLOCK_ADB: u32 = 0;
pub const BLOCK_DATA: u32 = 2;
/// Blocks start on 8-byte boundaries; the gap after a block is zero-filled.
const BLOCK_ALIGNMENT: usize = 8;
/// A plain block header holds the size in 30 bits, header included.
const BLOCK_MAX_LEN: usize = 0x3fff_ffff - 4;

#[derive(Debug, Error)]
pub enum AdbError {
    #[error("failed to place a value: the ADB block would exceed 2^28 bytes")]
    BlockTooLarge,
    #[error("failed to frame a block of {0} bytes: larger than a plain block allows")]
    PayloadTooLarge(usize),
}

/// Builds one ADB block in memory.
pub struct AdbWriter {
    buf: Vec<u8>,
    /// Offsets of every shareable value written so far, by its encoded bytes.
    written: HashMap<Vec<u8>, Vec<usize>>,
}

impl Default for AdbWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl AdbWriter {
    /// An empty block: compat version 0, version 0, no root yet.
    pub fn new() -> Self {
        Self {
            buf: vec![0; HEADER_LEN],
            written: HashMap::new(),
        }
    }

    /// An integer: immediate below 2^28, else a 4- or 8-byte little-endian number in the block.
    pub fn int(&mut self, v: u64) -> Result<Val, AdbError> {
        if v <= u64::from(VALUE_MASK) {
            // Checked just above: fits in 28 bits.
            return Ok(TYPE_INT | v as u32);
        }
        match u32::try_from(v) {
            Ok(v32) => self.shared(TYPE_INT32, &v32.to_le_bytes(), 4),
            Err(_) => self.shared(TYPE_INT64, &v.to_le_bytes(), 4),
        }
    }

    /// A byte string with a 1-, 2- or 4-byte length prefix; empty is null, as in apk-tools.
    pub fn blob(&mut self, bytes: &[u8]) -> Result<Val, AdbError> {
        if bytes.is_empty() {
            return Ok(NULL);
        }
        let (ty, encoded, align) = encode_blob(bytes);
        self.shared(ty, &encoded, align)
    }

    /// Like `blob`, but never shared with an equal value, so that its bytes can be overwritten
    /// in the finished block. Returns the value and the offset of the blob's bytes (after the prefix).
    pub fn blob_unshared(&mut self, bytes: &[u8]) -> Result<(Val, usize), AdbError> {
        let (ty, encoded, align) = encode_blob(bytes);
        let offset = self.append(&encoded, align)?;
        Ok((ty | offset, offset as usize + align))
    }

    /// An object from its fields 1..=n (`fields[0]` is field 1). Trailing null fields are
    /// dropped; an object with no field left is null.
    pub fn object(&mut self, fields: &[Val]) -> Result<Val, AdbError> {
        let used = fields.iter().rposition(|&v| v != NULL).map_or(0, |i| i + 1);
        if used == 0 {
            return Ok(NULL);
        }
        let mut encoded = Vec::with_capacity(4 * (used + 1));
        // Slot count, slot 0 included; `used` is bounded by the caller's slice.
        encoded.extend_from_slice(&(used as u32 + 1).to_le_bytes());
        for v in &fields[..used] {
            encoded.extend_from_slice(&v.to_le_bytes());
        }
        self.shared(TYPE_OBJECT, &encoded, 4)
    }

    /// An array is an object whose slots all have one schema. apk-tools' mkpkg writes the
    /// arrays of a package (paths, files, dependencies) through its object writer, so they carry
    /// the object type; readers take both. Items keep the order given: sort them first.
    pub fn array(&mut self, items: &[Val]) -> Result<Val, AdbError> {
        let items: Vec<Val> = items.iter().copied().filter(|&v| v != NULL).collect();
        self.object(&items)
    }

    /// Sets the root value and returns the finished block payload.
    pub fn finish(mut self, root: Val) -> Vec<u8> {
        self.buf[4..8].copy_from_slice(&root.to_le_bytes());
        self.buf
    }

    /// The block as it stands, root not yet set.
    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn shared(&mut self, ty: u32, encoded: &[u8], align: usize) -> Result<Val, AdbError> {
        if let Some(offsets) = self.written.get(encoded)
            && let Some(&offset) = offsets.iter().find(|&&o| o % align == 0)
        {
            // Offsets were range-checked when first written.
            return Ok(ty | offset as u32);
        }
        let offset = self.append(encoded, align)?;
        self.written
            .entry(encoded.to_vec())
            .or_default()
            .push(offset as usize);
        Ok(ty | offset)
    }

    fn append(&mut self, encoded: &[u8], align: usize) -> Result<u32, AdbError> {
        let start = self.buf.len().next_multiple_of(align);
        if start + encoded.len() > VALUE_MASK as usize {
            return Err(AdbError::BlockTooLarge);
        }
        self.buf.resize(start, 0);
        self.buf.extend_from_slice(encoded);
        // Checked above: below 2^28.
        Ok(start as u32)
    }
}

/// Type, length prefix plus bytes, and alignment of a non-empty blob.
fn encode_blob(bytes: &[u8]) -> (u32, Vec<u8>, usize) {
    let n = bytes.len();
    let (ty, mut encoded, align) = if let Ok(n8) = u8::try_from(n) {
        (TYPE_BLOB8, vec![n8], 1)
    } else if let Ok(n16) = u16::try_from(n) {
        (TYPE_BLOB16, n16.to_le_bytes().to_vec(), 2)
    } else {
        // Callers keep blobs far below 4 GiB (the block itself is capped at 2^28 bytes).
        (TYPE_BLOB32, (n as u32).to_le_bytes().to_vec(), 4)
    };
    encoded.extend_from_slice(bytes);
    (ty, encoded, align)
}

/// Frames a payload as a block: a u32 of type (2 bits) and size (30 bits, the 4-byte header
/// included), the payload, then zeros up to the next 8-byte boundary.
pub fn block(kind: u32, payload: &[u8], out: &mut Vec<u8>) -> Result<(), AdbError> {
    block_parts(kind, &[payload], out)
}

/// `block` for a payload given in pieces (a data block's header and the file's bytes).
pub fn block_parts(kind: u32, parts: &[&[u8]], out: &mut Vec<u8>) -> Result<(), AdbError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > BLOCK_MAX_LEN {
        return Err(AdbError::PayloadTooLarge(len));
    }
    // Checked above: fits in 30 bits with the header.
    let word = (kind << 30) | (len as u32 + 4);
    let start = out.len();
    out.extend_from_slice(&word.to_le_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
    let end = start + (len + 4).next_multiple_of(BLOCK_ALIGNMENT);
    out.resize(end, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn small_integers_are_immediate_and_large_ones_indirect() {
        let mut w = AdbWriter::new();
        assert_eq!(w.int(0).unwrap(), 0x1000_0000);
        assert_eq!(w.int(0o755).unwrap(), 0x1000_01ed);
        assert_eq!(w.int(0x0fff_ffff).unwrap(), 0x1fff_ffff);
        let v = w.int(0x1000_0000).unwrap();
        assert_eq!(v & 0xf000_0000, TYPE_INT32);
        let at = (v & VALUE_MASK) as usize;
        assert_eq!(at % 4, 0);
        assert_eq!(u32_at(w.bytes(), at), 0x1000_0000);
        let v = w.int(1 << 40).unwrap();
        assert_eq!(v & 0xf000_0000, TYPE_INT64);
        let at = (v & VALUE_MASK) as usize;
        assert_eq!(&w.bytes()[at..at + 8], &(1u64 << 40).to_le_bytes());
    }

    #[test]
    fn blobs_take_the_narrowest_length_prefix_and_are_shared() {
        let mut w = AdbWriter::new();
        assert_eq!(w.blob(b"").unwrap(), NULL);
        let a = w.blob(b"root").unwrap();
        assert_eq!(a, TYPE_BLOB8 | 8);
        assert_eq!(&w.bytes()[8..13], b"\x04root");
        assert_eq!(w.blob(b"root").unwrap(), a, "an equal blob is shared");
        let long = vec![b'x'; 300];
        let b = w.blob(&long).unwrap();
        assert_eq!(b & 0xf000_0000, TYPE_BLOB16);
        let at = (b & VALUE_MASK) as usize;
        assert_eq!(at % 2, 0);
        assert_eq!(&w.bytes()[at..at + 2], &300u16.to_le_bytes());
        let huge = vec![b'y'; 70_000];
        let c = w.blob(&huge).unwrap();
        assert_eq!(c & 0xf000_0000, TYPE_BLOB32);
        assert_eq!(((c & VALUE_MASK) as usize) % 4, 0);
    }

    #[test]
    fn objects_count_their_slots_and_drop_trailing_nulls() {
        let mut w = AdbWriter::new();
        assert_eq!(w.object(&[NULL, NULL]).unwrap(), NULL);
        let name = w.blob(b"a").unwrap();
        let o = w.object(&[name, NULL, NULL]).unwrap();
        assert_eq!(o & 0xf000_0000, TYPE_OBJECT);
        let at = (o & VALUE_MASK) as usize;
        assert_eq!(at % 4, 0);
        assert_eq!(u32_at(w.bytes(), at), 2);
        assert_eq!(u32_at(w.bytes(), at + 4), name);
        let arr = w.array(&[NULL, name, NULL, name]).unwrap();
        let at = (arr & VALUE_MASK) as usize;
        assert_eq!(u32_at(w.bytes(), at), 3, "nulls are not array items");
    }

    #[test]
    fn unshared_blobs_are_never_shared() {
        let mut w = AdbWriter::new();
        let shared = w.blob(&[0; 20]).unwrap();
        let (v, at) = w.blob_unshared(&[0; 20]).unwrap();
        assert_ne!(v, shared);
        assert_eq!(w.blob(&[0; 20]).unwrap(), shared);
        assert_eq!(
            at,
            (v & VALUE_MASK) as usize + 1,
            "bytes follow the 1-byte length"
        );
        let root = w.int(1).unwrap();
        let done = w.finish(root);
        assert_eq!(&done[..4], &[0, 0, 0, 0], "compat version 0, version 0");
        assert_eq!(u32_at(&done, 4), root);
    }

    #[test]
    fn blocks_carry_type_and_size_and_end_on_8_bytes() {
        let mut out = Vec::new();
        block(BLOCK_ADB, b"abc", &mut out).unwrap();
        assert_eq!(out.len(), 8);
        assert_eq!(u32_at(&out, 0), 7);
        block_parts(BLOCK_DATA, &[&[1, 0, 0, 0, 2, 0, 0, 0], b"hello"], &mut out).unwrap();
        assert_eq!(u32_at(&out, 8), (2 << 30) | 17);
        assert_eq!(out.len(), 8 + 24);
        assert_eq!(&out[8 + 17..], &[0; 7]);
    }
}
