//! Record batches, format v2 (magic 2): the unit in which Kafka stores and ships records
//! (KIP-98, which introduced it; KIP-32 for timestamps; CRC-32C per KIP-98).
//!
//! ```text
//! offset  field
//!      0  baseOffset:int64
//!      8  batchLength:int32            bytes after this field
//!     12  partitionLeaderEpoch:int32
//!     16  magic:int8                   = 2
//!     17  crc:uint32                   CRC-32C of bytes 21..end
//!     21  attributes:int16             see Attributes
//!     23  lastOffsetDelta:int32
//!     27  baseTimestamp:int64
//!     35  maxTimestamp:int64
//!     43  producerId:int64
//!     51  producerEpoch:int16
//!     53  baseSequence:int32
//!     57  recordCount:int32
//!     61  records…
//! ```
//!
//! Each record:
//!
//! ```text
//! length:varint | attributes:i8 | timestampDelta:varlong | offsetDelta:varint |
//! keyLength:varint | key | valueLength:varint | value |
//! headerCount:varint | (headerKeyLength:varint | headerKey | headerValueLength:varint | headerValue)*
//! ```
//! Lengths of -1 mean null (keys, values and header values may be null; header keys may not).
//!
//! [`RecordBatchBuilder`] writes a batch in place into a caller's buffer and back-patches the
//! header when it is finished; [`RecordBatch`] reads one without copying; [`RecordBatches`]
//! walks several back to back, as a Fetch response carries them. [`compress_batch`] and
//! [`RecordBatch::records_in`] write and read compressed batches (see the features `lz4`,
//! `gzip`, `snappy`, `zstd`).

mod attributes;
mod builder;
mod compress;
mod control;
mod crc32c;
mod legacy;
mod reader;

pub use attributes::{Attributes, Compression, TimestampType};
pub use builder::{BatchHeader, InPlace, Payload, RecordBatchBuilder, record_len};
pub use compress::{
    CompressError, DecompressError, compress_batch, compressed_batch_bound, is_supported,
};
pub use control::{ControlRecord, ControlType};
#[doc(hidden)]
pub use crc32c::backends as crc32c_backends;
pub use crc32c::{Crc32c, crc32c, crc32c_append};
pub use legacy::{LegacyMessage, LegacyMessages, RecordSet, RecordSets, crc32};
pub use reader::{HeaderIter, Headers, Record, RecordBatch, RecordBatches, Records};

/// A record header: a string key and a nullable byte value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header<'a> {
    /// The header's name.
    pub key: &'a str,
    /// Its value; `None` is a null value.
    pub value: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// A header with a value.
    pub const fn new(key: &'a str, value: &'a [u8]) -> Self {
        Self {
            key,
            value: Some(value),
        }
    }
}

/// The only record batch format this crate reads and writes.
pub const MAGIC: i8 = 2;

/// Size of the batch header, up to and including `recordCount`.
pub const BATCH_HEADER_LEN: usize = field::RECORDS;

/// Byte offsets of the batch header fields.
pub(crate) mod field {
    use core::ops::Range;
    pub const BASE_OFFSET: Range<usize> = 0..8;
    pub const LENGTH: Range<usize> = 8..12;
    pub const PARTITION_LEADER_EPOCH: Range<usize> = 12..16;
    pub const MAGIC: usize = 16;
    pub const CRC: Range<usize> = 17..21;
    pub const ATTRIBUTES: Range<usize> = 21..23;
    pub const LAST_OFFSET_DELTA: Range<usize> = 23..27;
    pub const BASE_TIMESTAMP: Range<usize> = 27..35;
    pub const MAX_TIMESTAMP: Range<usize> = 35..43;
    pub const PRODUCER_ID: Range<usize> = 43..51;
    pub const PRODUCER_EPOCH: Range<usize> = 51..53;
    pub const BASE_SEQUENCE: Range<usize> = 53..57;
    pub const RECORD_COUNT: Range<usize> = 57..61;
    pub const RECORDS: usize = 61;
    /// Bytes before `length` counts: `baseOffset` and `length` itself.
    pub const LOG_OVERHEAD: usize = 12;
}
