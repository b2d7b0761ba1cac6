//! [`RecordBatch`]: a zero-copy view of one v2 record batch, its records and their headers;
//! [`RecordBatches`]: several batches back to back.

use super::{
    Attributes, BATCH_HEADER_LEN, Compression, Header, MAGIC, TimestampType, crc32c, field,
};
use crate::wire::{DecodeError, Status, decode};

/// A view of one complete v2 record batch, borrowed from the receive buffer.
///
/// Construction checks everything the accessors rely on (the length, the magic byte, a
/// non-negative record count) and, unless asked not to, the CRC-32C; after that no accessor can
/// fail or panic. Records are decoded lazily by [`records`](Self::records).
///
/// ```
/// use embedded_kafka::record::{BatchHeader, RecordBatch, RecordBatchBuilder};
/// use embedded_kafka::wire::Status;
///
/// let mut buf = [0u8; 128];
/// let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default())?;
/// b.append(1_000, Some(b"k"), Some(b"v"), &[])?;
/// let bytes = b.finish()?;
///
/// // Half a batch is not an error: it says how much more to read.
/// assert_eq!(RecordBatch::parse(&bytes[..40]), Ok(Status::Incomplete { needed: bytes.len() - 40 }));
/// let Status::Complete { value: batch, consumed } = RecordBatch::parse(bytes).expect("valid") else {
///     unreachable!()
/// };
/// assert_eq!(consumed, bytes.len());
/// for record in batch.records().expect("uncompressed") {
///     let record = record.expect("well-formed");
///     assert_eq!((record.key, record.value), (Some(&b"k"[..]), Some(&b"v"[..])));
/// }
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecordBatch<'a> {
    bytes: &'a [u8],
}

impl<'a> RecordBatch<'a> {
    /// Parses the batch at the start of `input` and verifies its CRC-32C.
    ///
    /// `Ok(Status::Incomplete { needed })` when `input` holds only part of it (exact once the
    /// first 17 bytes, up to the magic byte, are there); an error when the bytes cannot be a
    /// valid v2 batch.
    pub fn parse(input: &'a [u8]) -> Result<Status<Self>, DecodeError> {
        // Under the fuzzer the checksum would stop almost every input at the door; the fuzz
        // target checks it explicitly instead.
        Self::parse_inner(input, !cfg!(fuzzing))
    }

    /// Like [`parse`](Self::parse) without checking the CRC: for a broker or proxy passing the
    /// batch on, or a caller that checks it later with [`verify_crc`](Self::verify_crc).
    pub fn parse_unverified(input: &'a [u8]) -> Result<Status<Self>, DecodeError> {
        Self::parse_inner(input, false)
    }

    /// Checks, in order: enough bytes for the magic, the magic, the length, the whole batch
    /// present, the CRC (if asked: a corrupted batch is reported as corrupted, whatever field
    /// the corruption hit), then the record count.
    fn parse_inner(input: &'a [u8], verify_crc: bool) -> Result<Status<Self>, DecodeError> {
        const MAGIC_END: usize = field::MAGIC + 1;
        let Some(prefix) = input.first_chunk::<MAGIC_END>() else {
            return Ok(Status::Incomplete {
                needed: MAGIC_END - input.len(),
            });
        };
        let magic = prefix[field::MAGIC] as i8;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic {
                expected: MAGIC,
                found: magic,
            });
        }
        let length = i32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
        let min = (BATCH_HEADER_LEN - field::LOG_OVERHEAD) as i32;
        if length < min {
            return Err(DecodeError::InvalidLength {
                what: "record batch",
                found: length.into(),
            });
        }
        let total = field::LOG_OVERHEAD + length as usize;
        let Some(bytes) = input.get(..total) else {
            return Ok(Status::Incomplete {
                needed: total - input.len(),
            });
        };
        let batch = Self { bytes };
        if verify_crc {
            batch.verify_crc()?;
        }
        if batch.record_count() < 0 {
            return Err(DecodeError::InvalidValue {
                what: "record count",
                found: batch.record_count().into(),
            });
        }
        Ok(Status::Complete {
            value: batch,
            consumed: total,
        })
    }

    #[inline]
    fn be<const N: usize>(&self, at: usize) -> [u8; N] {
        // In range for every field: construction checked the batch holds the whole header.
        self.bytes
            .get(at..)
            .and_then(<[u8]>::first_chunk::<N>)
            .copied()
            .unwrap_or([0; N])
    }

    /// The whole batch as it was on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Offset of the first record (assigned by the broker).
    pub fn base_offset(&self) -> i64 {
        i64::from_be_bytes(self.be(field::BASE_OFFSET.start))
    }

    /// The `length` field: bytes after it.
    pub fn batch_length(&self) -> i32 {
        i32::from_be_bytes(self.be(field::LENGTH.start))
    }

    /// Leader epoch of the partition when the batch was appended (-1 from producers).
    pub fn partition_leader_epoch(&self) -> i32 {
        i32::from_be_bytes(self.be(field::PARTITION_LEADER_EPOCH.start))
    }

    /// Always [`MAGIC`] (2).
    pub fn magic(&self) -> i8 {
        MAGIC
    }

    /// The CRC-32C stored in the batch.
    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(self.be(field::CRC.start))
    }

    /// The CRC-32C of the bytes it covers (from `attributes` to the end).
    pub fn compute_crc(&self) -> u32 {
        crc32c(
            self.bytes
                .get(field::ATTRIBUTES.start..)
                .unwrap_or_default(),
        )
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

    /// Compression, timestamp type, transactional and control flags.
    pub fn attributes(&self) -> Attributes {
        Attributes(i16::from_be_bytes(self.be(field::ATTRIBUTES.start)))
    }

    /// Offset delta of the last record.
    pub fn last_offset_delta(&self) -> i32 {
        i32::from_be_bytes(self.be(field::LAST_OFFSET_DELTA.start))
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .wrapping_add(i64::from(self.last_offset_delta()))
    }

    /// Timestamp of the first record (or the delete horizon, see
    /// [`Attributes::has_delete_horizon`]).
    pub fn base_timestamp(&self) -> i64 {
        i64::from_be_bytes(self.be(field::BASE_TIMESTAMP.start))
    }

    /// Largest record timestamp (or the log append time).
    pub fn max_timestamp(&self) -> i64 {
        i64::from_be_bytes(self.be(field::MAX_TIMESTAMP.start))
    }

    /// Idempotent producer id, or -1.
    pub fn producer_id(&self) -> i64 {
        i64::from_be_bytes(self.be(field::PRODUCER_ID.start))
    }

    /// Producer epoch, or -1.
    pub fn producer_epoch(&self) -> i16 {
        i16::from_be_bytes(self.be(field::PRODUCER_EPOCH.start))
    }

    /// Sequence number of the first record, or -1.
    pub fn base_sequence(&self) -> i32 {
        i32::from_be_bytes(self.be(field::BASE_SEQUENCE.start))
    }

    /// Sequence number of the last record (sequences wrap from `i32::MAX` to 0, as in the
    /// Java client), or -1 without idempotence.
    pub fn last_sequence(&self) -> i32 {
        let base = self.base_sequence();
        if base < 0 {
            return -1;
        }
        let last = i64::from(base) + i64::from(self.last_offset_delta());
        if last > i64::from(i32::MAX) {
            (last - i64::from(i32::MAX) - 1) as i32
        } else {
            last as i32
        }
    }

    /// Number of records the header announces.
    pub fn record_count(&self) -> i32 {
        i32::from_be_bytes(self.be(field::RECORD_COUNT.start))
    }

    /// The bytes after the header: the records, compressed if the batch is.
    pub fn records_bytes(&self) -> &'a [u8] {
        self.bytes.get(field::RECORDS..).unwrap_or_default()
    }

    /// The records, decoded one at a time. A compressed batch is
    /// [`DecodeError::Compressed`]: read it with [`records_in`](Self::records_in), which
    /// decompresses into a caller's buffer first.
    pub fn records(&self) -> Result<Records<'a>, DecodeError> {
        match self.attributes().compression() {
            Compression::None => Ok(self.records_over(self.records_bytes())),
            c => Err(DecodeError::Compressed { codec: c.code() }),
        }
    }

    /// The records in `bytes` (this batch's records section, decompressed if it was
    /// compressed), with this batch's count, base offset and timestamps.
    pub(crate) fn records_over<'b>(&self, bytes: &'b [u8]) -> Records<'b> {
        Records {
            rest: bytes,
            remaining: self.record_count() as u32,
            base_offset: self.base_offset(),
            base_timestamp: self.base_timestamp(),
            log_append_time: match self.attributes().timestamp_type() {
                TimestampType::LogAppendTime => Some(self.max_timestamp()),
                TimestampType::CreateTime => None,
            },
        }
    }
}

/// One record, borrowed from its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Record<'a> {
    /// Record-level attributes (unused by Kafka today, always 0 from its clients).
    pub attributes: i8,
    /// Absolute offset: the batch's base offset plus the offset delta.
    pub offset: i64,
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Absolute timestamp: the base timestamp plus the delta, or the log append time when the
    /// batch has [`TimestampType::LogAppendTime`].
    pub timestamp: i64,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The key, `None` if null.
    pub key: Option<&'a [u8]>,
    /// The value, `None` if null (a tombstone).
    pub value: Option<&'a [u8]>,
    /// The headers, decoded lazily.
    pub headers: Headers<'a>,
}

/// Iterator over the records of an uncompressed batch.
///
/// Yields each record or the error that stopped the walk, then ends. Records that overrun the
/// batch are [`DecodeError::Truncated`]; bytes left over after the announced count are
/// [`DecodeError::TrailingBytes`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
    remaining: u32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
}

impl<'a> Records<'a> {
    fn fail(&mut self, e: DecodeError) -> Option<Result<Record<'a>, DecodeError>> {
        self.rest = &[];
        self.remaining = 0;
        Some(Err(e))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            if self.rest.is_empty() {
                return None;
            }
            let count = self.rest.len();
            return self.fail(DecodeError::TrailingBytes {
                what: "record batch",
                count,
            });
        }
        match parse_record(self.rest) {
            Ok((rest, mut r)) => {
                self.rest = rest;
                self.remaining -= 1;
                r.offset = self.base_offset.wrapping_add(i64::from(r.offset_delta));
                r.timestamp = self
                    .log_append_time
                    .unwrap_or(self.base_timestamp.wrapping_add(r.timestamp_delta));
                Some(Ok(r))
            }
            Err(e) => self.fail(e),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

fn parse_record(input: &[u8]) -> Result<(&[u8], Record<'_>), DecodeError> {
    const WHAT: &str = "record";
    let (rest, len) = decode::within(WHAT, decode::varint(input))?;
    if len < 0 {
        return Err(DecodeError::InvalidLength {
            what: WHAT,
            found: len.into(),
        });
    }
    let (after, body) = decode::within("record batch", decode::take(rest, len as usize))?;
    let (body, attributes) = decode::within(WHAT, decode::i8(body))?;
    let (body, timestamp_delta) = decode::within(WHAT, decode::varlong(body))?;
    let (body, offset_delta) = decode::within(WHAT, decode::varint(body))?;
    let (body, key) = decode::within(WHAT, decode::varint_bytes(body))?;
    let (body, value) = decode::within(WHAT, decode::varint_bytes(body))?;
    let (body, headers) = parse_headers(body)?;
    if !body.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what: WHAT,
            count: body.len(),
        });
    }
    Ok((
        after,
        Record {
            attributes,
            offset: 0,
            offset_delta,
            timestamp: 0,
            timestamp_delta,
            key,
            value,
            headers,
        },
    ))
}

fn parse_header(input: &[u8]) -> Result<(&[u8], Header<'_>), DecodeError> {
    const WHAT: &str = "record header";
    let (rest, key) = decode::within(WHAT, decode::varint_bytes(input))?;
    let key = key.ok_or(DecodeError::UnexpectedNull { what: "header key" })?;
    let key = core::str::from_utf8(key).map_err(|e| DecodeError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let (rest, value) = decode::within(WHAT, decode::varint_bytes(rest))?;
    Ok((rest, Header { key, value }))
}

fn parse_headers(input: &[u8]) -> Result<(&[u8], Headers<'_>), DecodeError> {
    let (mut rest, count) = decode::within("record", decode::varint(input))?;
    if count < 0 {
        return Err(DecodeError::InvalidLength {
            what: "header count",
            found: count.into(),
        });
    }
    let start = rest;
    for _ in 0..count {
        rest = parse_header(rest)?.0;
    }
    let raw = start.get(..start.len() - rest.len()).unwrap_or_default();
    Ok((
        rest,
        Headers {
            count: count as u32,
            raw,
        },
    ))
}

/// A record's headers, validated when the record was read and decoded again on iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Headers<'a> {
    count: u32,
    raw: &'a [u8],
}

impl<'a> Headers<'a> {
    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The headers in order.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter {
            remaining: self.count,
            rest: self.raw,
        }
    }

    /// The value of the first header named `key` (`Some(None)` for a null value).
    pub fn get(&self, key: &str) -> Option<Option<&'a [u8]>> {
        self.iter().find(|h| h.key == key).map(|h| h.value)
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = Header<'a>;
    type IntoIter = HeaderIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over [`Headers`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    remaining: u32,
    rest: &'a [u8],
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Header<'a>;
    fn next(&mut self) -> Option<Header<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        // Validated when the record was parsed; a failure here cannot happen and just ends
        // the iteration.
        let (rest, h) = parse_header(self.rest).ok()?;
        self.rest = rest;
        Some(h)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

/// Walks record batches laid back to back, as in a Fetch response's `records` field or a log
/// segment. A partial batch at the end (a broker cuts the last batch at the fetch size) ends the
/// iteration without an error; [`partial`](Self::partial) then tells how much of it arrived and
/// how much is missing.
///
/// ```
/// use embedded_kafka::record::{BatchHeader, RecordBatchBuilder, RecordBatches};
///
/// let mut buf = [0u8; 256];
/// let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default())?;
/// b.append(0, None, Some(b"one"), &[])?;
/// let one = b.finish()?.to_vec();
/// let mut wire = one.clone();
/// wire.extend_from_slice(&one[..30]); // a second batch, cut short
///
/// let mut batches = RecordBatches::new(&wire);
/// assert_eq!(batches.next().map(|b| b.map(|b| b.record_count())), Some(Ok(1)));
/// assert!(batches.next().is_none());
/// assert_eq!(batches.partial(), Some((30, one.len() - 30)));
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatches<'a> {
    rest: &'a [u8],
    verify_crc: bool,
    partial_needed: Option<usize>,
    failed: bool,
}

impl<'a> RecordBatches<'a> {
    /// Batches from `input`, each CRC-checked.
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            rest: input,
            verify_crc: true,
            partial_needed: None,
            failed: false,
        }
    }

    /// Batches from `input` without CRC checks.
    pub fn new_unverified(input: &'a [u8]) -> Self {
        Self {
            verify_crc: false,
            ..Self::new(input)
        }
    }

    /// After the iteration ended: `Some((bytes present, bytes missing))` if it ended on a
    /// partial batch.
    pub fn partial(&self) -> Option<(usize, usize)> {
        self.partial_needed.map(|needed| (self.rest.len(), needed))
    }

    /// Bytes not yet consumed: the partial batch at the end, or what follows a bad batch.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for RecordBatches<'a> {
    type Item = Result<RecordBatch<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.partial_needed.is_some() || self.failed {
            return None;
        }
        let parsed = if self.verify_crc {
            RecordBatch::parse(self.rest)
        } else {
            RecordBatch::parse_unverified(self.rest)
        };
        match parsed {
            Ok(Status::Complete { value, consumed }) => {
                self.rest = self.rest.get(consumed..).unwrap_or_default();
                Some(Ok(value))
            }
            Ok(Status::Incomplete { needed }) => {
                self.partial_needed = Some(needed);
                None
            }
            Err(e) => {
                // Nothing after a bad batch can be trusted to start on a batch boundary.
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
