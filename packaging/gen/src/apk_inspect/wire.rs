//! The wire format: compression, block framing, value tags (apk-v3(5)).

use std::io::Read;

use flate2::read::DeflateDecoder;

use super::{InspectError, schema_err, value_err};

// Value tags: the top 4 bits of a little-endian u32 (apk-v3(5), "WIRE FORMAT").
const T_SPECIAL: u32 = 0x0;
const T_INT: u32 = 0x1;
const T_INT32: u32 = 0x2;
const T_INT64: u32 = 0x3;
const T_BLOB8: u32 = 0x8;
const T_BLOB16: u32 = 0x9;
const T_BLOB32: u32 = 0xa;
const T_ARRAY: u32 = 0xd;
const T_OBJECT: u32 = 0xe;

// Block types: the top 2 bits of a block's first word ("BLOCKS").
pub(super) const B_ADB: u32 = 0;
pub(super) const B_SIG: u32 = 1;
pub(super) const B_DATA: u32 = 2;
const B_EXT: u32 = 3;

/// A decoded value.
#[derive(Debug, Clone)]
pub(super) enum Value<'a> {
    Null,
    True,
    False,
    Int(u64),
    Blob { bytes: &'a [u8], at: usize },
    Slots(Vec<u32>),
}

/// The ADB block, for decoding values.
pub(super) struct Adb<'a> {
    pub(super) bytes: &'a [u8],
}

impl<'a> Adb<'a> {
    pub(super) fn slice(&self, at: usize, len: usize) -> Result<&'a [u8], InspectError> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or_else(|| value_err(format!("{len} bytes at {at} run past the block")))
    }

    pub(super) fn u32_at(&self, at: usize) -> Result<u32, InspectError> {
        Ok(u32::from_le_bytes(
            self.slice(at, 4)?.try_into().expect("4 bytes"),
        ))
    }

    pub(super) fn decode(&self, tag: u32) -> Result<Value<'a>, InspectError> {
        let off = (tag & 0x0fff_ffff) as usize;
        Ok(match tag >> 28 {
            T_SPECIAL => match off {
                0 => Value::Null,
                1 => Value::True,
                2 => Value::False,
                _ => return Err(value_err(format!("unknown special value {tag:#x}"))),
            },
            T_INT => Value::Int(off as u64),
            T_INT32 => Value::Int(self.u32_at(off)?.into()),
            T_INT64 => Value::Int(u64::from_le_bytes(
                self.slice(off, 8)?.try_into().expect("8 bytes"),
            )),
            T_BLOB8 | T_BLOB16 | T_BLOB32 => {
                let width = match tag >> 28 {
                    T_BLOB8 => 1,
                    T_BLOB16 => 2,
                    _ => 4,
                };
                let mut len = [0u8; 4];
                len[..width].copy_from_slice(self.slice(off, width)?);
                let len = u32::from_le_bytes(len) as usize;
                Value::Blob {
                    bytes: self.slice(off + width, len)?,
                    at: off + width,
                }
            }
            T_ARRAY | T_OBJECT => {
                let n = self.u32_at(off)? as usize;
                if n == 0 {
                    return Err(value_err(format!("object at {off} has no slot count")));
                }
                let raw = self.slice(off, 4 * n)?;
                Value::Slots(
                    raw.chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                        .collect(),
                )
            }
            t => return Err(value_err(format!("unknown value type {t:#x}"))),
        })
    }

    /// An object's slots 1..; `what` names it in errors. Null reads as an empty object.
    pub(super) fn object(&self, tag: u32, what: &str) -> Result<Vec<u32>, InspectError> {
        match self.decode(tag)? {
            Value::Null => Ok(Vec::new()),
            Value::Slots(mut s) => {
                s.remove(0);
                Ok(s)
            }
            other => Err(schema_err(format!("{what} is not an object: {other:?}"))),
        }
    }

    pub(super) fn int(&self, tag: u32, what: &str) -> Result<Option<u64>, InspectError> {
        match self.decode(tag)? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(i)),
            other => Err(schema_err(format!("{what} is not an integer: {other:?}"))),
        }
    }

    pub(super) fn blob(
        &self,
        tag: u32,
        what: &str,
    ) -> Result<Option<(&'a [u8], usize)>, InspectError> {
        match self.decode(tag)? {
            Value::Null => Ok(None),
            Value::Blob { bytes, at } => Ok(Some((bytes, at))),
            other => Err(schema_err(format!("{what} is not a blob: {other:?}"))),
        }
    }

    pub(super) fn text(&self, tag: u32, what: &str) -> Result<Option<String>, InspectError> {
        self.blob(tag, what)?
            .map(|(b, _)| {
                String::from_utf8(b.to_vec())
                    .map_err(|_| schema_err(format!("{what} is not UTF-8")))
            })
            .transpose()
    }
}

/// Field `i` (1-based) of an object's slots, null when absent.
pub(super) fn field(slots: &[u32], i: usize) -> u32 {
    slots.get(i - 1).copied().unwrap_or(0)
}

/// Fails on a set slot past the schema's last field.
pub(super) fn no_extra(slots: &[u32], known: usize, what: &str) -> Result<(), InspectError> {
    match slots.iter().skip(known).position(|&v| v != 0) {
        Some(i) => Err(schema_err(format!(
            "{what} has unknown field {}",
            known + i + 1
        ))),
        None => Ok(()),
    }
}

/// Splits off and undoes the compression; returns its name and the ADB stream.
pub(super) fn decompress(file: &[u8]) -> Result<(&'static str, Vec<u8>), InspectError> {
    let inflate = |z: &[u8]| -> Result<Vec<u8>, InspectError> {
        let mut d = DeflateDecoder::new(z);
        let mut out = Vec::new();
        d.read_to_end(&mut out).map_err(InspectError::Decompress)?;
        if d.total_in() != z.len() as u64 {
            return Err(InspectError::Format(format!(
                "{} bytes after the end of the deflate stream",
                z.len() as u64 - d.total_in()
            )));
        }
        Ok(out)
    };
    match file.get(..4) {
        Some(b"ADB.") => Ok(("none", file.to_vec())),
        Some(b"ADBd") => Ok(("deflate", inflate(&file[4..])?)),
        Some(b"ADBc") => match file.get(4..6) {
            Some([0, _]) => Ok(("none", file[6..].to_vec())),
            Some([1, _]) => Ok(("deflate", inflate(&file[6..])?)),
            Some([2, _]) => Err(InspectError::Format(
                "zstd compression is not read here".into(),
            )),
            _ => Err(InspectError::Format("unknown compression".into())),
        },
        _ => Err(InspectError::Format("no ADB magic".into())),
    }
}

pub(super) struct Block<'a> {
    pub(super) kind: u32,
    pub(super) at: usize,
    pub(super) payload: &'a [u8],
}

/// Splits the stream after the file header into blocks, checking framing and padding.
pub(super) fn blocks(stream: &[u8], mut at: usize) -> Result<Vec<Block<'_>>, InspectError> {
    let mut out = Vec::new();
    while at < stream.len() {
        let bad = |what: &str| InspectError::Block {
            at,
            what: what.to_string(),
        };
        let word = stream
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| bad("truncated header"))?;
        let (kind, hdr, raw) = if word >> 30 == B_EXT {
            let x = stream
                .get(at + 8..at + 16)
                .ok_or_else(|| bad("truncated extended header"))?;
            let size = u64::from_le_bytes(x.try_into().expect("8 bytes"));
            let size = usize::try_from(size).map_err(|_| bad("size too large"))?;
            (word & 0x3fff_ffff, 16, size)
        } else {
            (word >> 30, 4, (word & 0x3fff_ffff) as usize)
        };
        if raw < hdr {
            return Err(bad("size smaller than its header"));
        }
        let padded = raw.next_multiple_of(8);
        let end = at.checked_add(padded).filter(|&e| e <= stream.len());
        let end = end.ok_or_else(|| bad("runs past the end of the file"))?;
        if stream[at + raw..end].iter().any(|&b| b != 0) {
            return Err(bad("padding is not zero"));
        }
        out.push(Block {
            kind,
            at,
            payload: &stream[at + hdr..at + raw],
        });
        at = end;
    }
    Ok(out)
}
