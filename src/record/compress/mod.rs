//! Compressed record batches: the records section of a v2 batch compressed with gzip, snappy
//! (xerial framing), LZ4 (frame format) or zstd, as the batch's attribute bits 0-2 say.
//!
//! In a compressed batch only the records are compressed; the 61-byte header stays as it is,
//! with the codec in `attributes`, `batchLength` counting the compressed bytes and the CRC-32C
//! covering them.
//!
//! Writing: build the batch uncompressed first (a [`RecordBatchBuilder`] in a scratch buffer),
//! then [`compress_batch`] writes the compressed batch into its final place (or
//! [`TopicWriter::compressed_partition`] straight into a Produce request). The room it needs is
//! fixed before any record is compressed: [`compressed_batch_bound`] is the codec's worst case
//! for that many bytes, so a batch never overflows its frame half-way.
//!
//! Reading: [`RecordBatch::decompress_into`] and [`RecordBatch::records_in`] decompress into a
//! caller's buffer, which is also the cap against decompression bombs: nothing is written past
//! it and nothing is allocated in proportion to what a hostile header claims.
//! [`RecordBatch::decompressed_len`] tells the exact size when the codec's framing records it.
//!
//! | codec (feature) | compress | decompress |
//! |---|---|---|
//! | LZ4 (`lz4`) | no heap, 8 KiB table on the stack | no heap, no table |
//! | gzip (`gzip`) | heap (`std`) | heap-free core, behind `std` with the rest |
//! | snappy (`snappy`) | heap (`std`) | no heap, behind `std` |
//! | zstd (`zstd`) | heap (`std`, C library) | heap (`std`, C library) |
//!
//! [`RecordBatchBuilder`]: super::RecordBatchBuilder
//! [`TopicWriter::compressed_partition`]: crate::protocol::TopicWriter::compressed_partition

#[cfg(feature = "gzip")]
mod gzip;
#[cfg(feature = "lz4")]
mod lz4;
#[cfg(feature = "snappy")]
mod snappy;
#[cfg(feature = "zstd")]
mod zstd;

use super::{BATCH_HEADER_LEN, Compression, RecordBatch, Records, crc32c, field};
use crate::wire::{DecodeError, EncodeError, Status};
use core::fmt;

/// Why a batch could not be compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CompressError {
    /// The output cannot hold the codec's worst case for this batch: it must have `needed`
    /// bytes (what [`compressed_batch_bound`] returns), whatever the records turn out to
    /// compress to.
    BufferTooSmall {
        /// Bytes the output must have.
        needed: usize,
        /// Bytes it has.
        available: usize,
    },
    /// The codec is not built into this crate (its feature is off), or is `None`/unknown.
    Unsupported {
        /// The codec number (1 gzip, 2 snappy, 3 lz4, 4 zstd).
        codec: u8,
    },
    /// The input is not one finished, uncompressed v2 batch.
    InvalidBatch(DecodeError),
    /// The codec's library reported a failure it should not have (an internal error).
    Codec {
        /// The codec number.
        codec: u8,
    },
    /// Writing the fields around the batch failed (in a Produce request).
    Encode(EncodeError),
}

/// Why a compressed batch could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecompressError {
    /// The records do not fit the output. `needed` is the exact size when the codec's framing
    /// records it (LZ4 content size, snappy block lengths, zstd content size, gzip ISIZE),
    /// `None` when it can only be known by decompressing (the output is the cap).
    BufferTooSmall {
        /// Bytes the output must have, when known.
        needed: Option<usize>,
        /// Bytes it has.
        available: usize,
    },
    /// The codec is not built into this crate (its feature is off), or is unknown (5-7).
    Unsupported {
        /// The codec number.
        codec: u8,
    },
    /// The compressed bytes are not valid for their codec.
    Corrupt {
        /// The codec number.
        codec: u8,
        /// What is wrong.
        what: &'static str,
    },
    /// A checksum of the codec's framing (LZ4 xxHash32, gzip CRC-32) does not match.
    ChecksumMismatch {
        /// The codec number.
        codec: u8,
        /// The checksum stored.
        stored: u32,
        /// The checksum computed.
        computed: u32,
    },
    /// The codec's library failed to set itself up (out of memory).
    Codec {
        /// The codec number.
        codec: u8,
    },
}

impl fmt::Display for CompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => write!(
                f,
                "compressed batch needs a {needed}-byte buffer (worst case), has {available}"
            ),
            Self::Unsupported { codec } => write!(f, "compression codec {codec} is not built in"),
            Self::InvalidBatch(e) => write!(f, "not a finished uncompressed batch: {e}"),
            Self::Codec { codec } => write!(f, "compression codec {codec} failed"),
            Self::Encode(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for CompressError {}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall {
                needed: Some(needed),
                available,
            } => write!(
                f,
                "decompressed records need {needed} bytes, buffer has {available}"
            ),
            Self::BufferTooSmall {
                needed: None,
                available,
            } => write!(
                f,
                "decompressed records need more than the {available} bytes of the buffer"
            ),
            Self::Unsupported { codec } => write!(f, "compression codec {codec} is not built in"),
            Self::Corrupt { codec, what } => write!(f, "codec {codec}: {what}"),
            Self::ChecksumMismatch {
                codec,
                stored,
                computed,
            } => write!(
                f,
                "codec {codec}: checksum {stored:#010x} stored, {computed:#010x} computed"
            ),
            Self::Codec { codec } => write!(f, "compression codec {codec} failed to start"),
        }
    }
}

impl core::error::Error for DecompressError {}

/// Whether `codec` can be written and read by this build (its feature is on). `None` always
/// can.
pub const fn is_supported(codec: Compression) -> bool {
    match codec {
        Compression::None => true,
        Compression::Gzip => cfg!(feature = "gzip"),
        Compression::Snappy => cfg!(feature = "snappy"),
        Compression::Lz4 => cfg!(feature = "lz4"),
        Compression::Zstd => cfg!(feature = "zstd"),
        Compression::Unknown(_) => false,
    }
}

/// Worst-case size of the codec's output for `n` bytes of records.
#[allow(unused_variables)]
fn records_bound(codec: Compression, n: usize) -> Result<usize, CompressError> {
    match codec {
        Compression::None => Ok(n),
        #[cfg(feature = "gzip")]
        Compression::Gzip => Ok(gzip::bound(n)),
        #[cfg(feature = "snappy")]
        Compression::Snappy => Ok(snappy::bound(n)),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => Ok(lz4::bound(n)),
        #[cfg(feature = "zstd")]
        Compression::Zstd => Ok(zstd::bound(n)),
        c => Err(CompressError::Unsupported { codec: c.code() }),
    }
}

/// The room [`compress_batch`] needs for a finished uncompressed batch of `batch_len` bytes
/// (as [`RecordBatchBuilder::len`](super::RecordBatchBuilder::len) reports it): the header plus
/// the codec's worst case for the records. The compressed batch is usually much smaller; the
/// bound is what makes the output's size a decision taken before compressing, never a failure
/// after it.
///
/// For LZ4 it is the records plus about 10 % and 24 bytes per 64 KiB block, plus 19
/// (`lz4_flex`'s block compressor needs the room even when its output is not kept).
pub fn compressed_batch_bound(
    codec: Compression,
    batch_len: usize,
) -> Result<usize, CompressError> {
    let records = batch_len.saturating_sub(BATCH_HEADER_LEN);
    Ok(BATCH_HEADER_LEN + records_bound(codec, records)?)
}

/// Writes `batch`, a finished uncompressed v2 batch (what
/// [`RecordBatchBuilder::finish`](super::RecordBatchBuilder::finish) returns), into `out` with
/// its records compressed by `codec`: same header fields, the codec in the attributes, the
/// length and CRC-32C recomputed over the compressed bytes. Returns the compressed batch's
/// length.
///
/// `out` must hold [`compressed_batch_bound`] bytes, else [`CompressError::BufferTooSmall`]
/// says how many. With [`Compression::None`] the batch is copied as it is.
///
/// ```
/// # #[cfg(feature = "lz4")] {
/// use embedded_kafka::record::{
///     BatchHeader, Compression, RecordBatch, RecordBatchBuilder, compress_batch,
///     compressed_batch_bound,
/// };
///
/// let mut scratch = [0u8; 4096];
/// let mut b = RecordBatchBuilder::new(&mut scratch, BatchHeader::default()).unwrap();
/// for seq in 0..50 {
///     b.append(1_700_000_000_000 + seq, None, Some(b"{\"sensor\":\"node-3\",\"temp_c\":21.57}"), &[]).unwrap();
/// }
/// let plain = b.finish().unwrap();
///
/// let mut frame = [0u8; 4096];
/// assert!(compressed_batch_bound(Compression::Lz4, plain.len()).unwrap() <= frame.len());
/// let n = compress_batch(plain, Compression::Lz4, &mut frame).unwrap();
/// assert!(n < plain.len() / 4);
///
/// let batch = RecordBatch::parse(&frame[..n]).unwrap().complete().unwrap();
/// let mut records = [0u8; 4096];
/// assert_eq!(batch.records_in(&mut records).unwrap().count(), 50);
/// # }
/// ```
pub fn compress_batch(
    batch: &[u8],
    codec: Compression,
    out: &mut [u8],
) -> Result<usize, CompressError> {
    let parsed = match RecordBatch::parse_unverified(batch) {
        Ok(Status::Complete { value, consumed }) if consumed == batch.len() => value,
        Ok(Status::Complete { consumed, .. }) => {
            return Err(CompressError::InvalidBatch(DecodeError::TrailingBytes {
                what: "record batch",
                count: batch.len() - consumed,
            }));
        }
        Ok(Status::Incomplete { needed }) => {
            return Err(CompressError::InvalidBatch(DecodeError::Truncated {
                what: "record batch",
                needed,
            }));
        }
        Err(e) => return Err(CompressError::InvalidBatch(e)),
    };
    let current = parsed.attributes().compression();
    if current != Compression::None {
        return Err(CompressError::InvalidBatch(DecodeError::Compressed {
            codec: current.code(),
        }));
    }
    let records = parsed.records_bytes();
    let needed = BATCH_HEADER_LEN + records_bound(codec, records.len())?;
    if out.len() < needed {
        return Err(CompressError::BufferTooSmall {
            needed,
            available: out.len(),
        });
    }
    let (header, body) = out.split_at_mut(BATCH_HEADER_LEN);
    header.copy_from_slice(batch.get(..BATCH_HEADER_LEN).unwrap_or_default());
    let n = compress_records(codec, records, body)?;
    let total = BATCH_HEADER_LEN + n;
    let attributes = parsed.attributes().with_compression(codec);
    put(out, field::ATTRIBUTES.start, &attributes.0.to_be_bytes());
    let length = (total - field::LOG_OVERHEAD) as i32;
    put(out, field::LENGTH.start, &length.to_be_bytes());
    let crc = crc32c(out.get(field::ATTRIBUTES.start..total).unwrap_or_default());
    put(out, field::CRC.start, &crc.to_be_bytes());
    Ok(total)
}

/// Writes a header field of a batch whose header is known to be in `out`.
fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

#[allow(unused_variables)]
fn compress_records(
    codec: Compression,
    records: &[u8],
    out: &mut [u8],
) -> Result<usize, CompressError> {
    match codec {
        Compression::None => {
            let available = BATCH_HEADER_LEN + out.len();
            let dst = out
                .get_mut(..records.len())
                .ok_or(CompressError::BufferTooSmall {
                    needed: BATCH_HEADER_LEN + records.len(),
                    available,
                })?;
            dst.copy_from_slice(records);
            Ok(records.len())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::compress(records, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(records, out),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::compress(records, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::compress(records, out),
        c => Err(CompressError::Unsupported { codec: c.code() }),
    }
}

/// Decompresses a records section with `codec` into `out`.
#[allow(unused_variables)]
pub(crate) fn decompress_records(
    codec: Compression,
    input: &[u8],
    out: &mut [u8],
) -> Result<usize, DecompressError> {
    match codec {
        Compression::None => {
            let available = out.len();
            let dst = out
                .get_mut(..input.len())
                .ok_or(DecompressError::BufferTooSmall {
                    needed: Some(input.len()),
                    available,
                })?;
            dst.copy_from_slice(input);
            Ok(input.len())
        }
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::decompress(input, out),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(input, out),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::decompress(input, out),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompress(input, out),
        c => Err(DecompressError::Unsupported { codec: c.code() }),
    }
}

/// The exact decompressed size of a records section, when its framing records it.
#[allow(unused_variables)]
pub(crate) fn decompressed_records_len(codec: Compression, input: &[u8]) -> Option<usize> {
    match codec {
        Compression::None => Some(input.len()),
        #[cfg(feature = "gzip")]
        Compression::Gzip => gzip::decompressed_len(input),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompressed_len(input),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => lz4::decompressed_len(input),
        #[cfg(feature = "zstd")]
        Compression::Zstd => zstd::decompressed_len(input),
        _ => None,
    }
}

impl<'a> RecordBatch<'a> {
    /// The size of the records once decompressed, when the codec's framing records it (always
    /// for batches this crate writes, and for kafka-python's LZ4, snappy and single-member
    /// gzip); `None` otherwise, or when the codec is not built in. For an uncompressed batch,
    /// the size of its records section.
    ///
    /// Sizing a buffer from it trusts the sender; cap it at what you are willing to give.
    pub fn decompressed_len(&self) -> Option<usize> {
        decompressed_records_len(self.attributes().compression(), self.records_bytes())
    }

    /// Decompresses the records section into `out` and returns how many bytes it took (an
    /// uncompressed batch's records are copied). Nothing is written past `out`, whatever the
    /// compressed bytes claim: the buffer is the cap against decompression bombs.
    pub fn decompress_into(&self, out: &mut [u8]) -> Result<usize, DecompressError> {
        decompress_records(self.attributes().compression(), self.records_bytes(), out)
    }

    /// The records of any batch: an uncompressed batch's are read in place (`scratch` is not
    /// touched), a compressed batch's are decompressed into `scratch` first and read from
    /// there.
    pub fn records_in<'b>(&self, scratch: &'b mut [u8]) -> Result<Records<'b>, DecompressError>
    where
        'a: 'b,
    {
        let codec = self.attributes().compression();
        if codec == Compression::None {
            return Ok(self.records_over(self.records_bytes()));
        }
        let n = self.decompress_into(scratch)?;
        Ok(self.records_over(scratch.get(..n).unwrap_or_default()))
    }
}
