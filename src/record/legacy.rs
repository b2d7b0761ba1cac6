//! Legacy message sets, formats v0 and v1 (magic 0 and 1): what brokers stored before record
//! batches (KIP-98) and may still return to a Fetch for old, unconverted data. Read-only and
//! zero-copy; this crate never writes them.
//!
//! Each entry of a message set:
//!
//! ```text
//! offset  field
//!      0  offset:int64
//!      8  messageSize:int32            bytes after this field
//!     12  crc:uint32                   CRC-32 (IEEE) of bytes 16..end
//!     16  magic:int8                   0 or 1 (2 at this offset is a record batch)
//!     17  attributes:int8              compression bits 0-2; v1: timestamp type bit 3
//!     18  timestamp:int64              v1 only (KIP-32)
//!  18/26  keyLength:int32 | key        -1: null
//!      …  valueLength:int32 | value    -1: null
//! ```
//!
//! A compressed message (codec bits set) is a wrapper: its value is a whole message set,
//! compressed. It is recognised and reported ([`LegacyMessage::compression`]) but not
//! decompressed, as for compressed record batches.
//!
//! The magic byte sits at offset 16 in both formats, so [`RecordSets`] can tell each entry of
//! a Fetch response's `records` field apart: a [`RecordBatch`] (magic 2) or a
//! [`LegacyMessage`] (magic 0 or 1).

use super::{Compression, RecordBatch, TimestampType};
use crate::wire::{DecodeError, Status};

/// Byte offsets in a legacy message.
mod field {
    use core::ops::Range;
    pub const OFFSET: Range<usize> = 0..8;
    pub const SIZE: Range<usize> = 8..12;
    pub const CRC: Range<usize> = 12..16;
    pub const MAGIC: usize = 16;
    pub const ATTRIBUTES: usize = 17;
    pub const TIMESTAMP: Range<usize> = 18..26;
    /// `offset` and `messageSize`.
    pub const LOG_OVERHEAD: usize = 12;
}

/// The smallest `messageSize` of a v0 message: crc, magic, attributes, two null lengths.
const MIN_SIZE_V0: usize = 4 + 1 + 1 + 4 + 4;
/// The same for v1, which adds the timestamp.
const MIN_SIZE_V1: usize = MIN_SIZE_V0 + 8;

/// A view of one complete legacy message (magic 0 or 1), borrowed from the receive buffer.
///
/// Construction checks the size, the magic, the key and value lengths against the size and,
/// unless asked not to, the CRC-32; after that no accessor can fail or panic.
///
/// ```
/// use embedded_kafka::record::{Compression, LegacyMessage};
/// use embedded_kafka::wire::Status;
///
/// // kafka-python's LegacyRecordBatchBuilder(magic=0): offset 0, key "k", value "v".
/// let wire = [
///     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0x1f, 0xec, 0xd7, 0x0a, 0, 0, 0, 0, 0, 1, b'k',
///     0, 0, 0, 1, b'v',
/// ];
/// let Status::Complete { value: m, consumed } = LegacyMessage::parse(&wire).expect("valid") else {
///     unreachable!()
/// };
/// assert_eq!(consumed, wire.len());
/// assert_eq!((m.magic(), m.offset(), m.timestamp()), (0, 0, None));
/// assert_eq!((m.key(), m.value()), (Some(&b"k"[..]), Some(&b"v"[..])));
/// assert_eq!(m.compression(), Compression::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LegacyMessage<'a> {
    bytes: &'a [u8],
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

impl<'a> LegacyMessage<'a> {
    /// Parses the message at the start of `input` and verifies its CRC-32.
    ///
    /// `Ok(Status::Incomplete { needed })` when `input` holds only part of it (exact once the
    /// first 17 bytes, up to the magic byte, are there).
    pub fn parse(input: &'a [u8]) -> Result<Status<Self>, DecodeError> {
        // As for record batches: under the fuzzer the checksum would stop almost every input.
        Self::parse_inner(input, !cfg!(fuzzing))
    }

    /// Like [`parse`](Self::parse) without checking the CRC (see
    /// [`verify_crc`](Self::verify_crc)).
    pub fn parse_unverified(input: &'a [u8]) -> Result<Status<Self>, DecodeError> {
        Self::parse_inner(input, false)
    }

    /// Checks, in order: enough bytes for the magic, the magic, the size, the whole message
    /// present, the CRC (if asked), then the key and value lengths.
    fn parse_inner(input: &'a [u8], verify_crc: bool) -> Result<Status<Self>, DecodeError> {
        const MAGIC_END: usize = field::MAGIC + 1;
        let Some(prefix) = input.first_chunk::<MAGIC_END>() else {
            return Ok(Status::Incomplete {
                needed: MAGIC_END - input.len(),
            });
        };
        let magic = prefix[field::MAGIC] as i8;
        let min = match magic {
            0 => MIN_SIZE_V0,
            1 => MIN_SIZE_V1,
            found => return Err(DecodeError::BadMagic { expected: 1, found }),
        };
        let size = i32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
        let size_ok = usize::try_from(size).ok().filter(|&s| s >= min);
        let Some(size) = size_ok else {
            return Err(DecodeError::InvalidLength {
                what: "legacy message",
                found: size.into(),
            });
        };
        let total = field::LOG_OVERHEAD + size;
        let Some(bytes) = input.get(..total) else {
            return Ok(Status::Incomplete {
                needed: total - input.len(),
            });
        };
        let mut message = Self {
            bytes,
            key: None,
            value: None,
        };
        if verify_crc {
            message.verify_crc()?;
        }
        let body_start = if magic == 0 {
            field::ATTRIBUTES + 1
        } else {
            field::TIMESTAMP.end
        };
        let rest = bytes.get(body_start..).unwrap_or_default();
        let (rest, key) = nullable_bytes(rest, "legacy message key")?;
        let (rest, value) = nullable_bytes(rest, "legacy message value")?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes {
                what: "legacy message",
                count: rest.len(),
            });
        }
        message.key = key;
        message.value = value;
        Ok(Status::Complete {
            value: message,
            consumed: total,
        })
    }

    #[inline]
    fn be<const N: usize>(&self, at: usize) -> [u8; N] {
        // In range for every field: construction checked the message holds its whole header.
        self.bytes
            .get(at..)
            .and_then(<[u8]>::first_chunk::<N>)
            .copied()
            .unwrap_or([0; N])
    }

    /// The whole message (offset and size included) as it was on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The message's offset. For a compressed wrapper (v1), the offset of the last message
    /// inside it; the inner ones carry offsets relative to the first (KIP-31).
    pub fn offset(&self) -> i64 {
        i64::from_be_bytes(self.be(field::OFFSET.start))
    }

    /// `messageSize`: the bytes after that field.
    pub fn message_size(&self) -> i32 {
        i32::from_be_bytes(self.be(field::SIZE.start))
    }

    /// The stored CRC-32.
    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(self.be(field::CRC.start))
    }

    /// CRC-32 (IEEE) over the bytes the stored CRC covers: from the magic byte to the end.
    pub fn compute_crc(&self) -> u32 {
        crc32(self.bytes.get(field::MAGIC..).unwrap_or_default())
    }

    /// Checks the stored CRC against the contents.
    pub fn verify_crc(&self) -> Result<(), DecodeError> {
        let (stored, computed) = (self.crc(), self.compute_crc());
        if stored == computed {
            Ok(())
        } else {
            Err(DecodeError::CrcMismatch { stored, computed })
        }
    }

    /// The format: 0 or 1.
    pub fn magic(&self) -> i8 {
        self.be::<1>(field::MAGIC)[0] as i8
    }

    /// The raw attributes byte.
    pub fn attributes(&self) -> i8 {
        self.be::<1>(field::ATTRIBUTES)[0] as i8
    }

    /// The codec of a wrapper message's value (bits 0-2); [`Compression::None`] for a plain
    /// message.
    pub fn compression(&self) -> Compression {
        Compression::from_code(self.attributes() as u8 & 0x07)
    }

    /// Whether this is a compressed wrapper: its value is a compressed message set, which this
    /// crate does not decompress.
    pub fn is_compressed(&self) -> bool {
        self.compression() != Compression::None
    }

    /// The timestamp's meaning (attributes bit 3); `None` in v0, which has no timestamp.
    pub fn timestamp_type(&self) -> Option<TimestampType> {
        if self.magic() == 0 {
            None
        } else if self.attributes() & 0x08 != 0 {
            Some(TimestampType::LogAppendTime)
        } else {
            Some(TimestampType::CreateTime)
        }
    }

    /// The timestamp in ms (v1; -1 when the producer gave none); `None` in v0.
    pub fn timestamp(&self) -> Option<i64> {
        (self.magic() != 0).then(|| i64::from_be_bytes(self.be(field::TIMESTAMP.start)))
    }

    /// The key; `None` is null.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The value (for a compressed wrapper: the compressed inner message set); `None` is null.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }
}

/// `length:int32 | bytes`, -1 being null, inside a message already known to be complete: a
/// length past its end is corruption, not a partial read.
fn nullable_bytes<'a>(
    input: &'a [u8],
    what: &'static str,
) -> Result<(&'a [u8], Option<&'a [u8]>), DecodeError> {
    let Some((len, rest)) = input.split_first_chunk::<4>() else {
        return Err(DecodeError::Truncated {
            what,
            needed: 4 - input.len(),
        });
    };
    let len = i32::from_be_bytes(*len);
    if len == -1 {
        return Ok((rest, None));
    }
    let Ok(n) = usize::try_from(len) else {
        return Err(DecodeError::InvalidLength {
            what,
            found: len.into(),
        });
    };
    match rest.split_at_checked(n) {
        Some((bytes, rest)) => Ok((rest, Some(bytes))),
        None => Err(DecodeError::Truncated {
            what,
            needed: n - rest.len(),
        }),
    }
}

/// CRC-32/IEEE (reflected polynomial 0xEDB88320, as zlib and Java's `java.util.zip.CRC32`):
/// the checksum of legacy messages. A 1 KiB table built at compile time; legacy data is rare
/// enough that a faster (larger) implementation would not pay for its flash.
///
/// ```
/// assert_eq!(embedded_kafka::record::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = (crc >> 8) ^ crc32_at((crc as u8) ^ b);
    }
    !crc
}

/// One table entry; a `u8` index cannot be out of bounds, so this compiles to a plain load.
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "a u8 index into 256 entries")]
fn crc32_at(index: u8) -> u32 {
    CRC32_TABLE[usize::from(index)]
}

/// `T[b]`: the register after feeding byte `b` into a zero register.
static CRC32_TABLE: [u32; 256] = crc32_table();

#[allow(
    clippy::indexing_slicing,
    reason = "const-evaluated; an out-of-bounds index would fail the build"
)]
const fn crc32_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Legacy messages back to back, as a message set: the same contract as
/// [`RecordBatches`](super::RecordBatches) (a partial message at the end ends the iteration
/// without an error, see [`partial`](Self::partial); nothing is read after an error).
#[derive(Debug, Clone)]
pub struct LegacyMessages<'a> {
    inner: RecordSets<'a>,
}

impl<'a> LegacyMessages<'a> {
    /// Messages from `input`, each CRC-checked.
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            inner: RecordSets::new(input),
        }
    }

    /// Messages from `input` without CRC checks.
    pub fn new_unverified(input: &'a [u8]) -> Self {
        Self {
            inner: RecordSets::new_unverified(input),
        }
    }

    /// After the iteration ended: `Some((bytes present, bytes missing))` if it ended on a
    /// partial message.
    pub fn partial(&self) -> Option<(usize, usize)> {
        self.inner.partial()
    }

    /// Bytes not yet consumed.
    pub fn remainder(&self) -> &'a [u8] {
        self.inner.remainder()
    }
}

impl<'a> Iterator for LegacyMessages<'a> {
    type Item = Result<LegacyMessage<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.inner.next()? {
            Ok(RecordSet::Legacy(m)) => Ok(m),
            Ok(RecordSet::Batch(b)) => {
                self.inner.failed = true;
                Err(DecodeError::BadMagic {
                    expected: 1,
                    found: b.magic(),
                })
            }
            Err(e) => Err(e),
        })
    }
}

/// One entry of a `records` field: a record batch or a legacy message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordSet<'a> {
    /// A record batch (magic 2).
    Batch(RecordBatch<'a>),
    /// A legacy message (magic 0 or 1).
    Legacy(LegacyMessage<'a>),
}

impl RecordSet<'_> {
    /// The entry's magic byte.
    pub fn magic(&self) -> i8 {
        match self {
            Self::Batch(b) => b.magic(),
            Self::Legacy(m) => m.magic(),
        }
    }

    /// The offset of the last record the entry holds (for a compressed v0 wrapper, whose inner
    /// offsets are absolute, the wrapper's own offset is also its last one).
    pub fn last_offset(&self) -> i64 {
        match self {
            Self::Batch(b) => b.last_offset(),
            Self::Legacy(m) => m.offset(),
        }
    }
}

/// The entries of a `records` field (a Fetch response's partition data), whatever their
/// format: each is told apart by its magic byte at offset 16 and read as a [`RecordBatch`]
/// (magic 2) or a [`LegacyMessage`] (magic 0 or 1), CRC-checked. A broker may mix them
/// when a partition's log holds both.
///
/// As for [`RecordBatches`](super::RecordBatches), a partial entry at the end (a broker cuts
/// the last one at its byte limit) ends the iteration without an error and
/// [`partial`](Self::partial) says so; after an error (another magic, a bad length or CRC)
/// nothing more is read, since nothing after it can be trusted to start on an entry boundary.
#[derive(Debug, Clone)]
pub struct RecordSets<'a> {
    rest: &'a [u8],
    verify_crc: bool,
    partial_needed: Option<usize>,
    failed: bool,
}

impl<'a> RecordSets<'a> {
    /// Entries from `input`, each CRC-checked.
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            rest: input,
            verify_crc: true,
            partial_needed: None,
            failed: false,
        }
    }

    /// Entries from `input` without CRC checks.
    pub fn new_unverified(input: &'a [u8]) -> Self {
        Self {
            verify_crc: false,
            ..Self::new(input)
        }
    }

    /// After the iteration ended: `Some((bytes present, bytes missing))` if it ended on a
    /// partial entry.
    pub fn partial(&self) -> Option<(usize, usize)> {
        self.partial_needed.map(|needed| (self.rest.len(), needed))
    }

    /// Bytes not yet consumed: the partial entry at the end, or what follows a bad one.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    fn parse(&self) -> Result<Status<RecordSet<'a>>, DecodeError> {
        let Some(&magic) = self.rest.get(field::MAGIC) else {
            return Ok(Status::Incomplete {
                needed: field::MAGIC + 1 - self.rest.len(),
            });
        };
        Ok(match (magic as i8, self.verify_crc) {
            (0 | 1, true) => map(LegacyMessage::parse(self.rest)?, RecordSet::Legacy),
            (0 | 1, false) => map(
                LegacyMessage::parse_unverified(self.rest)?,
                RecordSet::Legacy,
            ),
            (_, true) => map(RecordBatch::parse(self.rest)?, RecordSet::Batch),
            (_, false) => map(RecordBatch::parse_unverified(self.rest)?, RecordSet::Batch),
        })
    }
}

/// The value of a complete parse, wrapped.
fn map<T, U>(status: Status<T>, f: impl FnOnce(T) -> U) -> Status<U> {
    match status {
        Status::Complete { value, consumed } => Status::Complete {
            value: f(value),
            consumed,
        },
        Status::Incomplete { needed } => Status::Incomplete { needed },
    }
}

impl<'a> Iterator for RecordSets<'a> {
    type Item = Result<RecordSet<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.partial_needed.is_some() || self.failed {
            return None;
        }
        match self.parse() {
            Ok(Status::Complete { value, consumed }) => {
                self.rest = self.rest.get(consumed..).unwrap_or_default();
                Some(Ok(value))
            }
            Ok(Status::Incomplete { needed }) => {
                self.partial_needed = Some(needed);
                None
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
