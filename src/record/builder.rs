//! [`RecordBatchBuilder`]: writes a record batch in place, record by record, and back-patches
//! the header (length, last offset delta, timestamps, count, CRC) when finished.

use super::{Attributes, BATCH_HEADER_LEN, Header, MAGIC, TimestampType, crc32c, field};
use crate::wire::{EncodeError, WithError, Writer, varint};
use core::convert::Infallible;

/// The header fields a producer chooses; the rest are computed from the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BatchHeader {
    /// Offset of the first record. Producers send 0; the broker assigns real offsets.
    pub base_offset: i64,
    /// Set by the broker; producers send -1.
    pub partition_leader_epoch: i32,
    /// Idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1 without idempotence.
    pub base_sequence: i32,
    /// Timestamp type. Producers use [`TimestampType::CreateTime`].
    pub timestamp_type: TimestampType,
    /// Whether the batch is part of a transaction.
    pub transactional: bool,
    /// Whether the batch carries control records (transaction markers; brokers write these).
    pub control: bool,
}

impl Default for BatchHeader {
    /// What a producer without idempotence sends.
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            timestamp_type: TimestampType::CreateTime,
            transactional: false,
            control: false,
        }
    }
}

impl BatchHeader {
    fn attributes(&self) -> Attributes {
        Attributes::NONE
            .with_timestamp_type(self.timestamp_type)
            .with_transactional(self.transactional)
            .with_control(self.control)
    }
}

/// Bytes of a record's key or value: a slice, null, or written in place by a closure.
///
/// Implemented for `&[u8]`, `&[u8; N]`, `&str`, `Option<P>` (`None` is null) and
/// [`InPlace`]. The type parameter `E` is the error a closure may return; plain bytes never
/// fail and fit any `E`.
pub trait Payload<E> {
    /// `Some(Some(n))`: exactly `n` bytes; `Some(None)`: null; `None`: not known until written.
    fn known_len(&self) -> Option<Option<usize>>;
    /// Writes the bytes into `out` (at most `out.len()`), returning how many were written.
    /// Called only for non-null payloads.
    fn write(self, out: &mut [u8]) -> Result<usize, E>;
}

impl<E> Payload<E> for &[u8] {
    #[inline]
    fn known_len(&self) -> Option<Option<usize>> {
        Some(Some(self.len()))
    }
    #[inline]
    fn write(self, out: &mut [u8]) -> Result<usize, E> {
        // The builder sizes `out` from `known_len`, so this always fits.
        if let Some(dst) = out.get_mut(..self.len()) {
            dst.copy_from_slice(self);
        }
        Ok(self.len())
    }
}

impl<E, const N: usize> Payload<E> for &[u8; N] {
    #[inline]
    fn known_len(&self) -> Option<Option<usize>> {
        Some(Some(N))
    }
    #[inline]
    fn write(self, out: &mut [u8]) -> Result<usize, E> {
        <&[u8] as Payload<E>>::write(self.as_slice(), out)
    }
}

impl<E> Payload<E> for &str {
    #[inline]
    fn known_len(&self) -> Option<Option<usize>> {
        Some(Some(self.len()))
    }
    #[inline]
    fn write(self, out: &mut [u8]) -> Result<usize, E> {
        <&[u8] as Payload<E>>::write(self.as_bytes(), out)
    }
}

impl<E, P: Payload<E>> Payload<E> for Option<P> {
    #[inline]
    fn known_len(&self) -> Option<Option<usize>> {
        match self {
            None => Some(None),
            Some(p) => p.known_len(),
        }
    }
    #[inline]
    fn write(self, out: &mut [u8]) -> Result<usize, E> {
        match self {
            None => Ok(0),
            Some(p) => p.write(out),
        }
    }
}

/// A payload written by a closure straight into the batch: the closure gets the free space and
/// returns how many bytes it wrote (or its own error, typically "does not fit"). This is how a
/// serializer writes a value with no scratch buffer.
///
/// ```
/// use embedded_kafka::record::{BatchHeader, InPlace, RecordBatchBuilder};
///
/// let mut buf = [0u8; 256];
/// let mut batch = RecordBatchBuilder::new(&mut buf, BatchHeader::default())?;
/// batch.append_with(1_700_000_000_000, Some(b"sensor-7"), InPlace(|out: &mut [u8]| {
///     let text = b"{\"celsius\":21.5}";
///     out.get_mut(..text.len()).ok_or("value does not fit")?.copy_from_slice(text);
///     Ok::<usize, &str>(text.len())
/// }), &[]).expect("fits");
/// assert_eq!(batch.record_count(), 1);
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct InPlace<F>(pub F);

impl<E, F: FnOnce(&mut [u8]) -> Result<usize, E>> Payload<E> for InPlace<F> {
    #[inline]
    fn known_len(&self) -> Option<Option<usize>> {
        None
    }
    #[inline]
    fn write(self, out: &mut [u8]) -> Result<usize, E> {
        (self.0)(out)
    }
}

/// Encoded size of a record-level nullable byte field (varint length + bytes).
#[inline]
const fn field_len(len: Option<usize>) -> usize {
    match len {
        None => 1,
        Some(n) => varint::varint_len(n as i32) + n,
    }
}

#[inline]
fn headers_len(headers: &[Header<'_>]) -> usize {
    let mut n = varint::varint_len(headers.len() as i32);
    for h in headers {
        n += field_len(Some(h.key.len())) + field_len(h.value.map(<[u8]>::len));
    }
    n
}

/// Encoded size of a record without its length prefix.
#[inline]
fn record_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key_len: Option<usize>,
    value_len: Option<usize>,
    headers: &[Header<'_>],
) -> usize {
    1 // attributes
        + varint::varlong_len(timestamp_delta)
        + varint::varint_len(offset_delta)
        + field_len(key_len)
        + field_len(value_len)
        + headers_len(headers)
}

/// Exact encoded size of one record, length prefix included, from its parts: what
/// [`RecordBatchBuilder::record_len`] reports for the next record.
pub fn record_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key_len: Option<usize>,
    value_len: Option<usize>,
    headers: &[Header<'_>],
) -> usize {
    let body = record_body_len(timestamp_delta, offset_delta, key_len, value_len, headers);
    varint::varint_len(body as i32) + body
}

/// Writes a v2 record batch into a caller's buffer, one record at a time.
///
/// The header is reserved when the builder is created and filled in by
/// [`finish`](Self::finish); each record is written once, straight into its final place.
/// A record that does not fit is rejected whole (the batch stays valid and can be finished),
/// with the buffer size the batch would have needed.
///
/// ```
/// use embedded_kafka::record::{BatchHeader, Header, RecordBatch, RecordBatchBuilder};
///
/// let mut buf = [0u8; 512];
/// let mut batch = RecordBatchBuilder::new(&mut buf, BatchHeader::default())?;
/// let ts = 1_700_000_000_000;
/// // Ask first whether the next record fits, as a producer deciding to close a batch would.
/// let size = batch.record_len(ts, Some(3), Some(5), &[]);
/// assert!(size <= batch.remaining());
/// batch.append(ts, Some(b"key"), Some(b"hello"), &[])?;
/// batch.append(ts + 5, None, Some(b"world"), &[Header::new("unit", b"C")])?;
/// let bytes = batch.finish()?;
///
/// let parsed = RecordBatch::parse(bytes).expect("valid").complete().expect("complete");
/// assert_eq!(parsed.record_count(), 2);
/// assert_eq!(parsed.max_timestamp(), ts + 5);
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct RecordBatchBuilder<'a> {
    w: Writer<'a>,
    /// Where the batch starts in the writer's buffer (0 unless it is written inside a larger
    /// frame, as the Produce request writer does).
    base: usize,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl<'a> RecordBatchBuilder<'a> {
    /// Starts a batch at the beginning of `buf`, writing the fixed header fields and
    /// reserving the rest. `buf` must hold at least [`BATCH_HEADER_LEN`] bytes.
    pub fn new(buf: &'a mut [u8], header: BatchHeader) -> Result<Self, EncodeError> {
        Self::in_writer(Writer::new(buf), header).map_err(|(_, e)| e)
    }

    /// Starts a batch at the writer's position; on error the writer comes back unchanged.
    pub(crate) fn in_writer(
        mut w: Writer<'a>,
        header: BatchHeader,
    ) -> Result<Self, (Writer<'a>, EncodeError)> {
        let base = w.position();
        if w.remaining() < BATCH_HEADER_LEN {
            let e = EncodeError::BufferTooSmall {
                needed: base + BATCH_HEADER_LEN,
                available: w.capacity(),
            };
            return Err((w, e));
        }
        let mut fixed = [0u8; BATCH_HEADER_LEN];
        {
            // Fixed offsets in a fixed array: plain stores, no error paths (the length, CRC,
            // offset delta, timestamps and record count are zero until `finish`).
            let mut h = &mut fixed[..];
            put(&mut h, header.base_offset.to_be_bytes());
            put(&mut h, [0; 4]); // length
            put(&mut h, header.partition_leader_epoch.to_be_bytes());
            put(&mut h, MAGIC.to_be_bytes());
            put(&mut h, [0; 4]); // crc
            put(&mut h, header.attributes().0.to_be_bytes());
            put(&mut h, [0; 4 + 8 + 8]); // last offset delta, base and max timestamps
            put(&mut h, header.producer_id.to_be_bytes());
            put(&mut h, header.producer_epoch.to_be_bytes());
            put(&mut h, header.base_sequence.to_be_bytes());
        }
        let written = w.put_slice(&fixed);
        match written {
            Ok(()) => Ok(Self {
                w,
                base,
                count: 0,
                base_timestamp: 0,
                max_timestamp: i64::MIN,
            }),
            Err(e) => {
                w.rollback(base);
                Err((w, e))
            }
        }
    }

    /// A builder over no buffer, holding nothing: what a scope that has handed its builder
    /// back leaves in its place.
    pub(crate) fn placeholder() -> Self {
        Self {
            w: Writer::new(&mut []),
            base: 0,
            count: 0,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
        }
    }

    /// Drops the batch and returns the writer positioned where the batch began.
    pub(crate) fn abandon(self) -> Writer<'a> {
        let mut w = self.w;
        w.rollback(self.base);
        w
    }

    /// Where the batch stands now, for [`restore`](Self::restore): the producer takes back a
    /// record written in place that left the batch too large to compress into its buffer.
    #[cfg_attr(not(feature = "producer"), allow(dead_code))]
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            position: self.w.position(),
            count: self.count,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
        }
    }

    /// Drops every record appended since `mark` was taken.
    #[cfg_attr(not(feature = "producer"), allow(dead_code))]
    pub(crate) fn restore(&mut self, mark: Mark) {
        self.w.rollback(mark.position);
        self.count = mark.count;
        self.base_timestamp = mark.base_timestamp;
        self.max_timestamp = mark.max_timestamp;
    }

    /// Records appended so far.
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// Whether no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch takes so far, header included.
    pub fn len(&self) -> usize {
        self.w.position() - self.base
    }

    /// Bytes still free in the buffer.
    pub fn remaining(&self) -> usize {
        self.w.remaining()
    }

    /// The timestamp deltas are taken against the first record's timestamp, as the Java
    /// client does.
    fn timestamp_delta(&self, timestamp: i64) -> i64 {
        if self.count == 0 {
            0
        } else {
            timestamp.wrapping_sub(self.base_timestamp)
        }
    }

    /// Exact number of bytes the next record would take, so a caller can decide to close the
    /// batch before appending. Lengths are `None` for null.
    pub fn record_len(
        &self,
        timestamp: i64,
        key_len: Option<usize>,
        value_len: Option<usize>,
        headers: &[Header<'_>],
    ) -> usize {
        record_len(
            self.timestamp_delta(timestamp),
            self.count,
            key_len,
            value_len,
            headers,
        )
    }

    /// Appends a record whose key and value are at hand (`None` is null).
    ///
    /// Inlined, so that the small-value path (feature `fast-append`, on with `std`: a keyless,
    /// header-less record of a small value in half the time, for ~800 B of code) runs in the
    /// caller's loop without a call; the general path stays out of line.
    #[inline]
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<(), EncodeError> {
        #[cfg(feature = "fast-append")]
        if let (None, Some(value), []) = (key, value, headers)
            && self.append_small_value(timestamp, value)
        {
            return Ok(());
        }
        self.append_general(timestamp, key, value, headers)
    }

    #[inline(never)]
    fn append_general(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<(), EncodeError> {
        self.append_with::<Infallible>(timestamp, key, value, headers)
            .map_err(|e| match e {
                WithError::Encode(e) => e,
                WithError::Closure(never) => match never {},
            })
    }

    /// The record a producer of readings sends most: no key, no headers, a value, and every
    /// varint of its framing (length, timestamp and offset deltas, value length) at most two
    /// bytes (a value under 8 KiB, a timestamp within 8 s of the first record's, an offset
    /// delta under 8192). Written with one 2-byte store per varint, each followed by at least
    /// one more byte of the record for its spare byte to land on, and no generic payload
    /// machinery: half the per-record time of [`append_with`](Self::append_with)'s path
    /// (BENCHMARKS.md). `false`, with nothing written, for anything else (including a record
    /// that does not fit), which the general path then writes or refuses.
    #[cfg(feature = "fast-append")]
    #[inline(always)]
    fn append_small_value(&mut self, timestamp: i64, value: &[u8]) -> bool {
        const SMALL: u64 = 1 << 14;
        let ts = varint::zigzag64(self.timestamp_delta(timestamp));
        let off = u64::from(varint::zigzag32(self.count));
        let len = value.len() as u64;
        if ts | off >= SMALL || len >= SMALL / 2 {
            return false;
        }
        let vz = len << 1;
        let n = |z: u64| 1 + usize::from(z >= 0x80);
        // attributes, timestamp delta, offset delta, null key, value length, value, no headers
        let body = 1 + n(ts) + n(off) + 1 + n(vz) + value.len() + 1;
        let bz = (body as u64) << 1;
        if bz >= SMALL {
            return false;
        }
        let total = n(bz) + body;
        let Ok(out) = self.w.take(total) else {
            return false;
        };
        /// A varint below 2^14 as two bytes; the second is the next field's when the varint
        /// takes one.
        #[inline(always)]
        fn put2(out: &mut [u8], at: usize, z: u64) -> usize {
            if let Some(dst) = out.get_mut(at..).and_then(|r| r.first_chunk_mut::<2>()) {
                let more = u8::from(z >= 0x80);
                *dst = [z as u8 | more << 7, (z >> 7) as u8];
                at + 1 + usize::from(more)
            } else {
                at + 2
            }
        }
        let at = put2(out, 0, bz);
        if let Some(attributes) = out.get_mut(at) {
            *attributes = 0; // unused
        }
        let at = put2(out, at + 1, ts);
        let at = put2(out, at, off);
        if let Some(key) = out.get_mut(at) {
            *key = 1; // null: zigzag(-1)
        }
        let at = put2(out, at + 1, vz);
        if let Some(dst) = out.get_mut(at..at + value.len()) {
            dst.copy_from_slice(value);
        }
        if let Some(headers) = out.last_mut() {
            *headers = 0; // none
        }
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        true
    }

    /// Appends a record whose key and/or value may be written in place by a closure
    /// ([`InPlace`]). On any error nothing of the record is kept.
    pub fn append_with<E>(
        &mut self,
        timestamp: i64,
        key: impl Payload<E>,
        value: impl Payload<E>,
        headers: &[Header<'_>],
    ) -> Result<(), WithError<E>> {
        if self.count == i32::MAX {
            return Err(WithError::Encode(EncodeError::TooLong {
                what: "record batch",
                len: self.count as usize + 1,
                max: i32::MAX as usize,
            }));
        }
        let delta = self.timestamp_delta(timestamp);
        let offset_delta = self.count;
        let result = match (key.known_len(), value.known_len()) {
            // Everything is known: size the record exactly, take that many bytes once and
            // fill them front to back, each payload byte copied once.
            (Some(k), Some(v)) => {
                write_known(&mut self.w, delta, offset_delta, key, k, value, v, headers)
            }
            // A closure writes in place: reserve the record length, fill it in afterwards.
            _ => self.w.atomically(|w| {
                let gap = w.reserve_uvarint()?;
                write_body(w, delta, offset_delta, key, value, headers)?;
                let body = w.position() - gap.end();
                w.fill_varint(gap, body as i32)?;
                Ok(())
            }),
        };
        if result.is_ok() {
            if self.count == 0 {
                self.base_timestamp = timestamp;
            }
            self.count += 1;
            self.max_timestamp = self.max_timestamp.max(timestamp);
        }
        result
    }

    /// Completes the header (length, last offset delta, timestamps, record count, CRC) and
    /// returns the finished batch, ready to be sent. A batch without records has nothing to
    /// send: the returned slice is empty.
    pub fn finish(self) -> Result<&'a mut [u8], EncodeError> {
        let base = self.base;
        let (w, result) = self.finish_in();
        result?;
        Ok(w.into_written().get_mut(base..).unwrap_or_default())
    }

    /// Completes the header like [`finish`](Self::finish) and hands the writer back,
    /// positioned after the batch, with the batch's length (0, and nothing written, for a
    /// batch without records).
    pub(crate) fn finish_in(self) -> (Writer<'a>, Result<usize, EncodeError>) {
        let Self {
            mut w,
            base,
            count,
            base_timestamp,
            max_timestamp,
        } = self;
        if count == 0 {
            w.rollback(base);
            return (w, Ok(0));
        }
        let total = w.position() - base;
        let header = w
            .written_mut()
            .get_mut(base..)
            .and_then(|b| b.first_chunk_mut::<BATCH_HEADER_LEN>());
        let result = match header {
            // Fixed offsets in a fixed-size header: plain stores, no error path per field.
            Some(h) => {
                set(
                    h,
                    field::LENGTH.start,
                    ((total - field::LOG_OVERHEAD) as i32).to_be_bytes(),
                );
                set(h, field::LAST_OFFSET_DELTA.start, (count - 1).to_be_bytes());
                set(h, field::BASE_TIMESTAMP.start, base_timestamp.to_be_bytes());
                set(h, field::MAX_TIMESTAMP.start, max_timestamp.to_be_bytes());
                set(h, field::RECORD_COUNT.start, count.to_be_bytes());
                let crc = crc32c(
                    w.written()
                        .get(base + field::ATTRIBUTES.start..)
                        .unwrap_or_default(),
                );
                if let Some(h) = w
                    .written_mut()
                    .get_mut(base..)
                    .and_then(|b| b.first_chunk_mut::<BATCH_HEADER_LEN>())
                {
                    set(h, field::CRC.start, crc.to_be_bytes());
                }
                Ok(total)
            }
            // The header was written when the batch began: never short.
            None => Err(EncodeError::BufferTooSmall {
                needed: base + BATCH_HEADER_LEN,
                available: w.position(),
            }),
        };
        (w, result)
    }
}

/// A [`RecordBatchBuilder`]'s state at one point ([`RecordBatchBuilder::mark`]).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "producer"), allow(dead_code))]
pub(crate) struct Mark {
    position: usize,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

/// A cursor over a record's exactly-sized slot. The slot was sized by [`write_known`],
/// whose exactness the tests pin down, so every write lands inside it; were it ever short, the
/// writes past its end are dropped (never a panic) and the record is refused by the length
/// check at the end of [`write_known`].
struct Slot<'b> {
    out: &'b mut [u8],
    pos: usize,
}

impl Slot<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.out.get_mut(self.pos) {
            *slot = b;
        }
        self.pos += 1;
    }

    /// Headers only (the record's own varints go through [`put_leb128`]): kept out of line,
    /// where its byte loop is not repeated for every header field.
    #[inline(never)]
    fn uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte(v as u8 | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline(always)]
    fn varint(&mut self, v: i32) {
        self.uvarlong(u64::from(varint::zigzag32(v)));
    }

    #[inline(always)]
    fn window(&mut self, n: usize) -> &mut [u8] {
        let start = self.pos;
        self.pos += n;
        self.out.get_mut(start..start + n).unwrap_or_default()
    }

    #[inline(always)]
    fn bytes(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.byte(1), // zigzag(-1)
            Some(b) => {
                self.varint(b.len() as i32);
                self.window(b.len()).copy_from_slice(b);
            }
        }
    }

    /// Writes a payload of `n` bytes (its length prefix already written).
    #[inline(always)]
    fn fill<E>(&mut self, p: impl Payload<E>, n: usize) -> Result<(), WithError<E>> {
        let wrote = p.write(self.window(n)).map_err(WithError::Closure)?;
        if wrote == n {
            Ok(())
        } else {
            Err(WithError::Encode(EncodeError::ClosureOverrun {
                claimed: wrote,
                available: n,
            }))
        }
    }
}

/// The zigzag varint of a nullable length: -1 (zigzag 1) for null.
#[inline(always)]
fn zigzag_len(len: Option<usize>) -> u32 {
    match len {
        None => 1,
        Some(n) => varint::zigzag32(n as i32),
    }
}

/// Spreads `v` (below 2^56) into its LEB128 bytes, little-endian in a `u64`: seven bits a byte,
/// the continuation bit on all but the last of the `n` bytes. One store writes the whole
/// varint, where a byte loop takes a compare and a branch per byte.
#[inline(always)]
const fn leb128_packed(v: u64, n: usize) -> u64 {
    let spread = (v & 0x7f)
        | ((v << 1) & 0x7f00)
        | ((v << 2) & 0x7f_0000)
        | ((v << 3) & 0x7f00_0000)
        | ((v << 4) & 0x7f_0000_0000)
        | ((v << 5) & 0x7f00_0000_0000)
        | ((v << 6) & 0x7f_0000_0000_0000)
        | ((v << 7) & 0x7f00_0000_0000_0000);
    // Continuation bits on bytes 0..n-1: for n = 1 none, for n = 8 the seven low bytes.
    spread | (0x0080_8080_8080_8080 >> (8 * (8 - n)))
}

/// Writes `v` as LEB128 at `out[at..]`, taking `n` (its [`varint::uvarlong_len`]) bytes;
/// returns the position after it. With 8 bytes of room (in a record's slot, always but for a
/// varint at its very end) it is one 8-byte store whose surplus is overwritten by what
/// follows; otherwise byte by byte. Below 2^14 (lengths, offset and timestamp deltas of a
/// batch's first records) the bytes are spread with two masks instead of eight. Out of room,
/// nothing is written (the record's final length check refuses it).
#[inline]
fn put_leb128(out: &mut [u8], at: usize, v: u64, n: usize) -> usize {
    let packed = if v < 1 << 14 {
        (v & 0x7f) | ((v << 1) & 0x7f00) | (u64::from(v >= 0x80) << 7)
    } else if v < 1 << 56 {
        leb128_packed(v, n)
    } else {
        0 // nine or ten bytes: the byte loop below
    };
    match out.get_mut(at..).and_then(|r| r.first_chunk_mut::<8>()) {
        Some(dst) if v < 1 << 56 => *dst = packed.to_le_bytes(),
        // At the slot's very end, or a varint of nine or ten bytes: byte by byte.
        _ => {
            if let Some(dst) = out.get_mut(at..at + n) {
                let mut v = v;
                for b in dst.iter_mut() {
                    *b = v as u8 | 0x80;
                    v >>= 7;
                }
                if let Some(last) = dst.last_mut() {
                    *last &= 0x7f;
                }
            }
        }
    }
    at + n
}

/// Sizes a record whose key and value lengths are known, takes its slot from `w` and fills it;
/// on error `w` is left as it was.
///
/// Every varint's length comes from `leading_zeros`, so sizing the record costs no loop, and
/// each varint is written with one store ([`put_leb128`]): the sizing and the byte loops of
/// the general path were two thirds of the time of a 100-byte record (BENCHMARKS.md).
#[allow(clippy::too_many_arguments)]
#[inline]
fn write_known<E>(
    w: &mut Writer<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: impl Payload<E>,
    key_len: Option<usize>,
    value: impl Payload<E>,
    value_len: Option<usize>,
    headers: &[Header<'_>],
) -> Result<(), WithError<E>> {
    const MAX: usize = i32::MAX as usize;
    let (k, v) = (key_len.unwrap_or(0), value_len.unwrap_or(0));
    let ts = varint::zigzag64(timestamp_delta);
    let off = u64::from(varint::zigzag32(offset_delta));
    let kz = u64::from(zigzag_len(key_len));
    let vz = u64::from(zigzag_len(value_len));
    let (ts_n, off_n) = (varint::uvarlong_len(ts), varint::uvarlong_len(off));
    let (kz_n, vz_n) = (varint::uvarlong_len(kz), varint::uvarlong_len(vz));
    let tail = if headers.is_empty() {
        1
    } else {
        headers_len(headers)
    };
    // A key or value past i32::MAX makes the record so too (one check, one error path); the
    // sum saturates rather than wrap on a 32-bit target.
    let body = (1 + ts_n + off_n + kz_n + vz_n + tail)
        .saturating_add(k)
        .saturating_add(v);
    if body > MAX {
        return Err(WithError::Encode(EncodeError::TooLong {
            what: "record",
            len: body,
            max: MAX,
        }));
    }
    let pz = u64::from(varint::zigzag32(body as i32));
    let pz_n = varint::uvarlong_len(pz);
    let total = pz_n + body;
    let start = w.position();
    let out = w.take(total).map_err(WithError::Encode)?;

    // Each varint is one 8-byte store straight into the slot (the surplus bytes are
    // overwritten by what follows). Staging the framing in a stack block and copying it over
    // instead made the copy's wide loads wait on the narrow stores (no store-to-load
    // forwarding): slower than the byte loops it replaced.
    let mut at = put_leb128(out, 0, pz, pz_n);
    if let Some(attributes) = out.get_mut(at) {
        *attributes = 0; // unused
    }
    at = put_leb128(out, at + 1, ts, ts_n);
    at = put_leb128(out, at, off, off_n);
    at = put_leb128(out, at, kz, kz_n);
    let mut s = Slot { out, pos: at };
    let written = (|| {
        if let Some(n) = key_len {
            s.fill(key, n)?;
        }
        s.pos = put_leb128(s.out, s.pos, vz, vz_n);
        if let Some(n) = value_len {
            s.fill(value, n)?;
        }
        if headers.is_empty() {
            s.byte(0);
        } else {
            s.varint(headers.len() as i32);
            for h in headers {
                s.bytes(Some(h.key.as_bytes()));
                s.bytes(h.value);
            }
        }
        if s.pos == total {
            Ok(())
        } else {
            Err(WithError::Encode(EncodeError::ClosureOverrun {
                claimed: s.pos,
                available: total,
            }))
        }
    })();
    if written.is_err() {
        w.rollback(start);
    }
    written
}

/// Writes everything of a record after its length prefix.
#[inline]
fn write_body<E>(
    w: &mut Writer<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: impl Payload<E>,
    value: impl Payload<E>,
    headers: &[Header<'_>],
) -> Result<(), WithError<E>> {
    w.put_i8(0)?; // record attributes: unused
    w.put_varlong(timestamp_delta)?;
    w.put_varint(offset_delta)?;
    let tail = headers_len(headers);
    let value_len = match value.known_len() {
        Some(v) => field_len(v),
        None => 1,
    };
    write_field(w, key, value_len + tail)?;
    write_field(w, value, tail)?;
    w.put_varint(headers.len() as i32)?;
    for h in headers {
        w.put_varint_bytes(Some(h.key.as_bytes()))?;
        w.put_varint_bytes(h.value)?;
    }
    Ok(())
}

/// Writes one nullable byte field: length-prefixed bytes, or -1. A payload of unknown length
/// gets the room that is left minus `reserve_after` (what must still follow it).
#[inline]
fn write_field<E>(
    w: &mut Writer<'_>,
    payload: impl Payload<E>,
    reserve_after: usize,
) -> Result<(), WithError<E>> {
    match payload.known_len() {
        Some(None) => Ok(w.put_varint(-1)?),
        Some(Some(n)) if n > i32::MAX as usize => Err(WithError::Encode(EncodeError::TooLong {
            what: "record key or value",
            len: n,
            max: i32::MAX as usize,
        })),
        Some(Some(n)) => {
            let needed = varint::varint_len(n as i32) + n;
            if w.remaining() < needed {
                return Err(WithError::Encode(EncodeError::BufferTooSmall {
                    needed: w.position() + needed,
                    available: w.capacity(),
                }));
            }
            w.put_varint(n as i32)?;
            w.put_with(Some(n), |out| payload.write(out))?;
            Ok(())
        }
        None => {
            let gap = w.reserve_uvarint()?;
            let room = w.remaining().saturating_sub(reserve_after);
            let room = room.min(i32::MAX as usize);
            let n = w.put_with(Some(room), |out| payload.write(out))?;
            w.fill_varint(gap, n as i32)?;
            Ok(())
        }
    }
}

/// Writes `bytes` at the start of `out` and moves `out` past them (nothing if it is shorter:
/// the callers write into arrays of a known length, so the check folds away).
#[inline(always)]
fn put<const N: usize>(out: &mut &mut [u8], bytes: [u8; N]) {
    if let Some((head, tail)) = core::mem::take(out).split_first_chunk_mut::<N>() {
        *head = bytes;
        *out = tail;
    }
}

/// Writes `bytes` at `at` in `header` (a constant offset within it: the check folds away).
#[inline(always)]
fn set<const N: usize>(header: &mut [u8; BATCH_HEADER_LEN], at: usize, bytes: [u8; N]) {
    if let Some(field) = header.get_mut(at..).and_then(|f| f.first_chunk_mut::<N>()) {
        *field = bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{vec, vec::Vec};

    /// `append`'s small-value path against the general one (a value written in place takes
    /// it), byte for byte, across every boundary of its two-byte varints: value lengths,
    /// timestamp deltas both ways, offset deltas past 64 and 8192 records.
    #[cfg(feature = "fast-append")]
    #[test]
    fn small_value_path_matches_the_general_path() {
        let base = 1_700_000_000_000i64;
        let mut fast = vec![0u8; 1 << 21];
        let mut general = vec![0u8; 1 << 21];
        let mut a = RecordBatchBuilder::new(&mut fast, BatchHeader::default()).unwrap();
        let mut b = RecordBatchBuilder::new(&mut general, BatchHeader::default()).unwrap();
        let value = vec![7u8; 9000];
        let small = [0, 1, 55, 56, 63, 64, 100, 127, 128];
        let large = [8180, 8181, 8182, 8191, 8192, 9000];
        let deltas = [0, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 1 << 40];
        for i in 0..8300usize {
            let len = if i % 500 == 7 {
                large[(i / 500) % large.len()]
            } else {
                small[i % small.len()]
            };
            let ts = base + deltas[i % deltas.len()];
            let v = &value[..len];
            a.append(ts, None, Some(v), &[]).unwrap();
            let in_place = InPlace(|out: &mut [u8]| {
                out.get_mut(..len).ok_or(())?.copy_from_slice(v);
                Ok::<usize, ()>(len)
            });
            b.append_with(ts, None::<&[u8]>, in_place, &[]).unwrap();
            assert_eq!(a.len(), b.len(), "record {i}");
        }
        assert_eq!(a.finish().unwrap(), b.finish().unwrap());
    }

    /// The one-store LEB128 writer against the byte loop, around every length boundary and in
    /// both of its paths (below 2^56 the packed store, above it the loop; with 8 bytes of room
    /// and without).
    #[test]
    fn put_leb128_matches_the_byte_loop() {
        let mut values = vec![0u64, 1, u64::MAX, u64::MAX - 1];
        for bits in 1..64 {
            values.extend([(1u64 << bits) - 1, 1 << bits, (1 << bits) + 1]);
        }
        for v in values {
            let mut expected = Vec::new();
            let mut x = v;
            while x >= 0x80 {
                expected.push(x as u8 | 0x80);
                x >>= 7;
            }
            expected.push(x as u8);
            let n = varint::uvarlong_len(v);
            assert_eq!(n, expected.len(), "{v}");
            let mut roomy = [0xAAu8; 20];
            assert_eq!(put_leb128(&mut roomy, 1, v, n), 1 + n);
            assert_eq!(&roomy[1..1 + n], &expected[..], "{v:#x}");
            assert_eq!(roomy[0], 0xAA);
            let mut tight = vec![0xAAu8; n];
            assert_eq!(put_leb128(&mut tight, 0, v, n), n);
            assert_eq!(tight, expected, "{v:#x} without room");
        }
    }
}
