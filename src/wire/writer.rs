//! [`Writer`]: encodes Kafka primitives into a caller's `&mut [u8]`, never panicking and never
//! leaving a partial value behind.

use super::error::EncodeError;
use super::varint;

/// A back-patch slot of `N` bytes reserved by [`Writer::reserve`], filled in later (a length,
/// a count, a CRC) once the bytes it describes have been written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a reserved slot holds zeros until it is patched"]
pub struct Gap<const N: usize> {
    at: usize,
}

impl<const N: usize> Gap<N> {
    /// Offset of the slot's first byte in the writer's buffer.
    pub const fn offset(&self) -> usize {
        self.at
    }

    /// Offset just past the slot: where the bytes it describes begin.
    pub const fn end(&self) -> usize {
        self.at + N
    }
}

/// A slot for an unsigned varint whose value is known only after the bytes that follow it
/// have been written (the length of a value a closure serialised in place).
///
/// It reserves the maximum width (5 bytes), or with
/// [`reserve_uvarint_upto`](Writer::reserve_uvarint_upto) the width of the largest value it can
/// be filled with; [`Writer::fill_uvarint`] writes the minimal encoding and moves the bytes after
/// it back over any unused ones, so the output is exactly what a writer that knew the value up
/// front would have produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a reserved varint must be filled, or the output holds stray bytes"]
pub struct VarintGap {
    at: usize,
    width: usize,
}

impl VarintGap {
    /// Offset just past the reserved bytes: where the bytes the varint describes begin until
    /// the gap is filled.
    pub const fn end(&self) -> usize {
        self.at + self.width
    }
}

/// Writes Kafka's primitive types, big-endian, into a borrowed buffer.
///
/// Every `put_*` either writes the whole value and advances, or returns an error and leaves
/// the position where it was: the buffer never holds a truncated value. Running out of room is
/// [`EncodeError::BufferTooSmall`], which says how large the buffer must be.
///
/// ```
/// use embedded_kafka::wire::Writer;
///
/// let mut buf = [0u8; 32];
/// let mut w = Writer::new(&mut buf);
/// let size = w.reserve::<4>()?;          // a length prefix, known only at the end
/// w.put_i16(18)?;                        // api key
/// w.put_compact_string("sensor-1")?;     // a flexible-version string
/// let len = (w.position() - size.end()) as i32;
/// w.patch_i32(size, len)?;
/// assert_eq!(w.written(), b"\0\0\0\x0b\0\x12\x09sensor-1");
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

macro_rules! put_be {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {$(
        #[$doc]
        #[inline]
        pub fn $name(&mut self, v: $ty) -> Result<(), EncodeError> {
            self.put_array(v.to_be_bytes())
        }
    )*};
}

macro_rules! patch_be {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {$(
        #[$doc]
        #[inline]
        pub fn $name(
            &mut self,
            gap: Gap<{ core::mem::size_of::<$ty>() }>,
            v: $ty,
        ) -> Result<(), EncodeError> {
            self.patch(gap, v.to_be_bytes())
        }
    )*};
}

impl<'a> Writer<'a> {
    /// A writer that starts at the beginning of `buf`.
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far (the offset of the next byte).
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Size of the underlying buffer.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes still free.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes written so far.
    #[inline]
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or_default()
    }

    /// The bytes written so far, mutably (to checksum or patch them in ways this type does
    /// not know).
    #[inline]
    pub fn written_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.pos).unwrap_or_default()
    }

    /// Ends the writer, returning the written part of the buffer.
    #[inline]
    pub fn into_written(self) -> &'a mut [u8] {
        let pos = self.pos;
        self.buf.get_mut(..pos).unwrap_or_default()
    }

    /// Ends the writer, returning the whole buffer it was given (written or not), so its
    /// owner can use it again.
    #[inline]
    #[cfg_attr(not(feature = "producer"), allow(dead_code))]
    pub(crate) fn into_buf(self) -> &'a mut [u8] {
        self.buf
    }

    /// Drops everything written after `position` (a value earlier read from
    /// [`position`](Self::position)), so a failed multi-part write can be undone as a whole.
    /// A position past the current one is ignored.
    #[inline]
    pub fn rollback(&mut self, position: usize) {
        if position < self.pos {
            self.pos = position;
        }
    }

    #[inline]
    fn too_small(&self, n: usize) -> EncodeError {
        EncodeError::BufferTooSmall {
            needed: self.pos.saturating_add(n),
            available: self.buf.len(),
        }
    }

    /// Takes the next `n` bytes for writing and advances past them: for a caller that has
    /// sized a composite value exactly and fills it in one go.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&mut [u8], EncodeError> {
        let start = self.pos;
        let available = self.buf.len();
        let end = match start.checked_add(n) {
            Some(end) if end <= available => end,
            _ => {
                return Err(EncodeError::BufferTooSmall {
                    needed: start.saturating_add(n),
                    available,
                });
            }
        };
        self.pos = end;
        Ok(self.buf.get_mut(start..end).unwrap_or_default())
    }

    #[inline]
    fn put_array<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), EncodeError> {
        let rest = self.buf.get_mut(self.pos..).unwrap_or_default();
        match rest.first_chunk_mut::<N>() {
            Some(dst) => {
                *dst = bytes;
                self.pos += N;
                Ok(())
            }
            None => Err(self.too_small(N)),
        }
    }

    /// Writes raw bytes with no length prefix.
    #[inline]
    pub fn put_slice(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.take(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes one byte.
    #[inline]
    pub fn put_u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.put_array([v])
    }

    /// Writes an `INT8`.
    #[inline]
    pub fn put_i8(&mut self, v: i8) -> Result<(), EncodeError> {
        self.put_array(v.to_be_bytes())
    }

    /// Writes a `BOOLEAN` (one byte, 0 or 1).
    #[inline]
    pub fn put_bool(&mut self, v: bool) -> Result<(), EncodeError> {
        self.put_array([u8::from(v)])
    }

    put_be! {
        /// Writes an `INT16`.
        put_i16: i16,
        /// Writes a `UINT16`.
        put_u16: u16,
        /// Writes an `INT32`.
        put_i32: i32,
        /// Writes a `UINT32`.
        put_u32: u32,
        /// Writes an `INT64`.
        put_i64: i64,
        /// Writes a `FLOAT64`.
        put_f64: f64,
    }

    /// Writes a `UUID` (16 raw bytes; all zeros is Kafka's null/zero UUID).
    #[inline]
    pub fn put_uuid(&mut self, v: &[u8; 16]) -> Result<(), EncodeError> {
        self.put_array(*v)
    }

    /// Writes an `UNSIGNED_VARINT` (LEB128, 1 to 5 bytes).
    #[inline]
    pub fn put_uvarint(&mut self, v: u32) -> Result<(), EncodeError> {
        self.put_leb128(u64::from(v), varint::uvarint_len(v))
    }

    /// Writes a `VARINT` (zigzag-encoded `i32`).
    #[inline]
    pub fn put_varint(&mut self, v: i32) -> Result<(), EncodeError> {
        self.put_uvarint(varint::zigzag32(v))
    }

    /// Writes an unsigned 64-bit varint (LEB128, 1 to 10 bytes).
    #[inline]
    pub fn put_uvarlong(&mut self, v: u64) -> Result<(), EncodeError> {
        self.put_leb128(v, varint::uvarlong_len(v))
    }

    /// Writes `v` as the `n`-byte LEB128 varint `n = uvarint_len(v)` straight into the buffer.
    /// (Encoding into a scratch array and copying `n` bytes out of it costs a `memcpy` call per
    /// varint, as much as the rest of a record's framing together.)
    #[inline]
    fn put_leb128(&mut self, v: u64, n: usize) -> Result<(), EncodeError> {
        match n {
            1 => self.put_array([v as u8]),
            2 => self.put_array([v as u8 | 0x80, (v >> 7) as u8]),
            _ => {
                leb128(self.take(n)?, v);
                Ok(())
            }
        }
    }

    /// Writes a `VARLONG` (zigzag-encoded `i64`).
    #[inline]
    pub fn put_varlong(&mut self, v: i64) -> Result<(), EncodeError> {
        self.put_uvarlong(varint::zigzag64(v))
    }

    /// Writes a `STRING`: `INT16` length, then UTF-8 bytes.
    pub fn put_string(&mut self, s: &str) -> Result<(), EncodeError> {
        let len = checked_len(s.len(), "string", i16::MAX as usize)?;
        self.put_prefixed(&(len as i16).to_be_bytes(), s.as_bytes())
    }

    /// Writes a `NULLABLE_STRING`: like [`put_string`](Self::put_string), `None` as length -1.
    pub fn put_nullable_string(&mut self, s: Option<&str>) -> Result<(), EncodeError> {
        match s {
            Some(s) => self.put_string(s),
            None => self.put_i16(-1),
        }
    }

    /// Writes a `COMPACT_STRING`: `UNSIGNED_VARINT` length + 1, then UTF-8 bytes.
    pub fn put_compact_string(&mut self, s: &str) -> Result<(), EncodeError> {
        self.put_compact_bytes(s.as_bytes())
    }

    /// Writes a `COMPACT_NULLABLE_STRING`: `None` as length prefix 0.
    pub fn put_compact_nullable_string(&mut self, s: Option<&str>) -> Result<(), EncodeError> {
        self.put_compact_nullable_bytes(s.map(str::as_bytes))
    }

    /// Writes `BYTES`: `INT32` length, then the bytes.
    pub fn put_bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let len = checked_len(b.len(), "bytes", i32::MAX as usize)?;
        self.put_prefixed(&(len as i32).to_be_bytes(), b)
    }

    /// Writes `NULLABLE_BYTES`: `None` as length -1.
    pub fn put_nullable_bytes(&mut self, b: Option<&[u8]>) -> Result<(), EncodeError> {
        match b {
            Some(b) => self.put_bytes(b),
            None => self.put_i32(-1),
        }
    }

    /// Writes `COMPACT_BYTES`: `UNSIGNED_VARINT` length + 1, then the bytes.
    pub fn put_compact_bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let len = checked_len(b.len(), "compact bytes", (u32::MAX - 1) as usize)?;
        self.put_varint_prefixed(len as u32 + 1, b)
    }

    /// Writes `COMPACT_NULLABLE_BYTES`: `None` as length prefix 0.
    pub fn put_compact_nullable_bytes(&mut self, b: Option<&[u8]>) -> Result<(), EncodeError> {
        match b {
            Some(b) => self.put_compact_bytes(b),
            None => self.put_u8(0),
        }
    }

    /// Writes a record-style byte field: zigzag `VARINT` length (-1 for null), then the bytes.
    /// This is how keys, values and header values are stored inside a record batch.
    pub fn put_varint_bytes(&mut self, b: Option<&[u8]>) -> Result<(), EncodeError> {
        match b {
            None => self.put_varint(-1),
            Some(b) => {
                let len = checked_len(b.len(), "record bytes", i32::MAX as usize)?;
                self.put_varint_prefixed(varint::zigzag32(len as i32), b)
            }
        }
    }

    /// Runs `f`; if it fails, rolls back everything it wrote, so a composite value is written
    /// whole or not at all. A `BufferTooSmall` from inside still names the total size needed.
    #[inline]
    pub fn atomically<T, E>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E> {
        let start = self.pos;
        let result = f(self);
        if result.is_err() {
            self.pos = start;
        }
        result
    }

    /// Writes a prefix and a body as one unit: both or neither.
    #[inline]
    fn put_prefixed(&mut self, prefix: &[u8], body: &[u8]) -> Result<(), EncodeError> {
        let total = prefix.len().saturating_add(body.len());
        let out = self.take(total)?;
        let (head, tail) = out.split_at_mut(prefix.len().min(out.len()));
        head.copy_from_slice(prefix);
        tail.copy_from_slice(body);
        Ok(())
    }

    /// Writes an `UNSIGNED_VARINT` prefix and a body as one unit: both or neither.
    #[inline]
    fn put_varint_prefixed(&mut self, prefix: u32, body: &[u8]) -> Result<(), EncodeError> {
        let n = varint::uvarint_len(prefix);
        let out = self.take(n.saturating_add(body.len()))?;
        let (head, tail) = out.split_at_mut(n.min(out.len()));
        leb128(head, u64::from(prefix));
        tail.copy_from_slice(body);
        Ok(())
    }

    /// Writes an `ARRAY` length (`INT32`).
    pub fn put_array_len(&mut self, len: usize) -> Result<(), EncodeError> {
        let len = checked_len(len, "array", i32::MAX as usize)?;
        self.put_i32(len as i32)
    }

    /// Writes a nullable `ARRAY` length: `None` as -1.
    pub fn put_nullable_array_len(&mut self, len: Option<usize>) -> Result<(), EncodeError> {
        match len {
            Some(len) => self.put_array_len(len),
            None => self.put_i32(-1),
        }
    }

    /// Writes a `COMPACT_ARRAY` length: `UNSIGNED_VARINT` length + 1.
    pub fn put_compact_array_len(&mut self, len: usize) -> Result<(), EncodeError> {
        let len = checked_len(len, "compact array", (u32::MAX - 1) as usize)?;
        self.put_uvarint(len as u32 + 1)
    }

    /// Writes a nullable `COMPACT_ARRAY` length: `None` as 0.
    pub fn put_compact_nullable_array_len(
        &mut self,
        len: Option<usize>,
    ) -> Result<(), EncodeError> {
        match len {
            Some(len) => self.put_compact_array_len(len),
            None => self.put_u8(0),
        }
    }

    /// Writes an empty tagged-field section (a single zero byte): what every flexible-version
    /// structure ends with when it carries no tagged fields.
    #[inline]
    pub fn put_empty_tagged_fields(&mut self) -> Result<(), EncodeError> {
        self.put_u8(0)
    }

    /// Writes a whole tagged-field section from `(tag, data)` pairs, which must be in strictly
    /// increasing tag order (Kafka rejects anything else). Use
    /// [`put_tagged_field`](Self::put_tagged_field) after [`put_uvarint`](Self::put_uvarint)
    /// of the count to write fields whose bytes are produced on the fly.
    pub fn put_tagged_fields(&mut self, fields: &[(u32, &[u8])]) -> Result<(), EncodeError> {
        let count = checked_len(fields.len(), "tagged fields", u32::MAX as usize)?;
        self.atomically(|w| {
            w.put_uvarint(count as u32)?;
            for &(tag, data) in fields {
                w.put_tagged_field(tag, data)?;
            }
            Ok(())
        })
    }

    /// Writes one tagged field: `UNSIGNED_VARINT` tag, `UNSIGNED_VARINT` size, data.
    pub fn put_tagged_field(&mut self, tag: u32, data: &[u8]) -> Result<(), EncodeError> {
        let size = checked_len(data.len(), "tagged field", u32::MAX as usize)?;
        self.atomically(|w| {
            w.put_uvarint(tag)?;
            w.put_uvarint(size as u32)?;
            w.put_slice(data)
        })
    }

    /// Reserves `N` zero bytes to be filled in later with one of the `patch_*` methods.
    #[inline]
    pub fn reserve<const N: usize>(&mut self) -> Result<Gap<N>, EncodeError> {
        let at = self.pos;
        self.put_array([0u8; N])?;
        Ok(Gap { at })
    }

    /// Fills a reserved slot.
    #[inline]
    pub fn patch<const N: usize>(
        &mut self,
        gap: Gap<N>,
        bytes: [u8; N],
    ) -> Result<(), EncodeError> {
        let written = self.pos;
        let slot = gap
            .at
            .checked_add(N)
            .filter(|&end| end <= written)
            .and_then(|end| self.buf.get_mut(gap.at..end))
            .and_then(|s| s.first_chunk_mut::<N>());
        match slot {
            Some(slot) => {
                *slot = bytes;
                Ok(())
            }
            None => Err(EncodeError::GapOutOfRange {
                at: gap.at,
                written,
            }),
        }
    }

    patch_be! {
        /// Fills a reserved `INT16` slot.
        patch_i16: i16,
        /// Fills a reserved `INT32` slot (a size or a count).
        patch_i32: i32,
        /// Fills a reserved `UINT32` slot (a CRC).
        patch_u32: u32,
        /// Fills a reserved `INT64` slot.
        patch_i64: i64,
    }

    /// Reserves room for an `UNSIGNED_VARINT` whose value depends on what is written after it.
    #[inline]
    pub fn reserve_uvarint(&mut self) -> Result<VarintGap, EncodeError> {
        let at = self.pos;
        self.put_array([0u8; varint::MAX_LEN_32])?;
        Ok(VarintGap {
            at,
            width: varint::MAX_LEN_32,
        })
    }

    /// Like [`reserve_uvarint`](Self::reserve_uvarint) for a value known to be at most `max`:
    /// reserves only as many bytes as `max` takes. When the value turns out to need exactly
    /// that many (a length bounded by the room left in the buffer usually does), filling the
    /// slot moves nothing.
    #[inline]
    pub fn reserve_uvarint_upto(&mut self, max: u32) -> Result<VarintGap, EncodeError> {
        let at = self.pos;
        let width = varint::uvarint_len(max);
        self.take(width)?.fill(0);
        Ok(VarintGap { at, width })
    }

    /// Reserves one byte for an `UNSIGNED_VARINT` that is usually below 128 (a count of
    /// partitions in a topic, of topics in a request), to be filled with
    /// [`fill_uvarint_growing`](Self::fill_uvarint_growing). Reserving the widest form instead
    /// would move everything written after it back by four bytes when filled: for a Produce
    /// request, every batch of the topic.
    #[inline]
    pub fn reserve_uvarint_small(&mut self) -> Result<VarintGap, EncodeError> {
        self.reserve_uvarint_upto(0x7f)
    }

    /// Writes `v` minimally into a reserved slot, moving what was written after it back over
    /// unused bytes or, for a value wider than the slot (a count of 128 or more in a slot from
    /// [`reserve_uvarint_small`](Self::reserve_uvarint_small)), forward to make room:
    /// [`EncodeError::BufferTooSmall`] if the buffer has not the few bytes that takes.
    pub fn fill_uvarint_growing(&mut self, gap: VarintGap, v: u32) -> Result<(), EncodeError> {
        let mut tmp = [0u8; varint::MAX_LEN_32];
        let n = varint::encode_u32(v, &mut tmp);
        let grow = n.saturating_sub(gap.width);
        if grow == 0 {
            return self.fill_varint_gap(gap, tmp.get(..n).unwrap_or_default(), v);
        }
        let (written, end) = (self.pos, gap.end());
        if end > written {
            return Err(EncodeError::GapOutOfRange {
                at: gap.at,
                written,
            });
        }
        if written + grow > self.buf.len() {
            return Err(self.too_small(grow));
        }
        self.buf.copy_within(end..written, end + grow);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(gap.at..gap.at + n), tmp.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = written + grow;
        Ok(())
    }

    /// Writes `v` minimally into a slot from [`reserve_uvarint`](Self::reserve_uvarint) and
    /// moves everything written after the slot back over the unused bytes. A value wider than
    /// a slot from [`reserve_uvarint_upto`](Self::reserve_uvarint_upto) is
    /// [`EncodeError::TooLong`].
    pub fn fill_uvarint(&mut self, gap: VarintGap, v: u32) -> Result<(), EncodeError> {
        let mut tmp = [0u8; varint::MAX_LEN_32];
        let n = varint::encode_u32(v, &mut tmp);
        self.fill_varint_gap(gap, tmp.get(..n).unwrap_or_default(), v)
    }

    /// Like [`fill_uvarint`](Self::fill_uvarint) for a zigzag `VARINT` (a record's length or a
    /// key/value length).
    pub fn fill_varint(&mut self, gap: VarintGap, v: i32) -> Result<(), EncodeError> {
        self.fill_uvarint(gap, varint::zigzag32(v))
    }

    fn fill_varint_gap(
        &mut self,
        gap: VarintGap,
        encoded: &[u8],
        v: u32,
    ) -> Result<(), EncodeError> {
        let written = self.pos;
        let end = gap.end();
        if end > written {
            return Err(EncodeError::GapOutOfRange {
                at: gap.at,
                written,
            });
        }
        let Some(shift) = gap.width.checked_sub(encoded.len()) else {
            return Err(EncodeError::TooLong {
                what: "value for its varint slot",
                len: v as usize,
                max: 1usize
                    .checked_shl(7 * gap.width as u32)
                    .map_or(usize::MAX, |m| m - 1),
            });
        };
        if shift > 0 {
            self.buf.copy_within(end..written, end - shift);
        }
        if let Some(dst) = self.buf.get_mut(gap.at..gap.at + encoded.len()) {
            dst.copy_from_slice(encoded);
        }
        self.pos = written - shift;
        Ok(())
    }

    /// Lets `f` write up to `max` bytes (or everything that is left, if `None`) straight into
    /// the buffer, and advances by the count `f` returns. This is how a serializer writes in
    /// place with no scratch buffer. If `f` fails nothing is kept; if it claims more bytes than
    /// it was given, that is [`EncodeError::ClosureOverrun`].
    pub fn put_with<E>(
        &mut self,
        max: Option<usize>,
        f: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, WithError<E>> {
        let start = self.pos;
        let rest = self.buf.get_mut(start..).unwrap_or_default();
        let room = match max {
            Some(max) => max.min(rest.len()),
            None => rest.len(),
        };
        let window = rest.get_mut(..room).unwrap_or_default();
        let n = f(window).map_err(WithError::Closure)?;
        if n > room {
            return Err(WithError::Encode(EncodeError::ClosureOverrun {
                claimed: n,
                available: room,
            }));
        }
        self.pos = start + n;
        Ok(n)
    }
}

/// The error of [`Writer::put_with`] and everything built on it: either the closure's own
/// error, or a wire-level one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WithError<E> {
    /// The closure failed (for a serializer: typically "buffer full").
    Closure(E),
    /// Writing around the closure's output failed.
    Encode(EncodeError),
}

impl<E> From<EncodeError> for WithError<E> {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl<E: core::fmt::Display> core::fmt::Display for WithError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Closure(e) => write!(f, "in-place writer failed: {e}"),
            Self::Encode(e) => e.fmt(f),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for WithError<E> {}

/// Fills `out` with the LEB128 encoding of `v`, which must take exactly `out.len()` bytes.
#[inline]
fn leb128(out: &mut [u8], mut v: u64) {
    let last = out.len().saturating_sub(1);
    for (i, b) in out.iter_mut().enumerate() {
        *b = if i == last { v as u8 } else { v as u8 | 0x80 };
        v >>= 7;
    }
}

#[inline]
fn checked_len(len: usize, what: &'static str, max: usize) -> Result<usize, EncodeError> {
    if len > max {
        Err(EncodeError::TooLong { what, len, max })
    } else {
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every varint length, at both ends, against the reference encoders; too little room
    /// writes nothing.
    #[test]
    fn varints_are_written_straight_into_the_buffer() {
        let mut values: [u64; 22] = [0; 22];
        for (i, bits) in (0..64).step_by(7).chain([64]).enumerate() {
            let edge = if bits == 64 { u64::MAX } else { 1u64 << bits };
            values[2 * i] = edge;
            values[2 * i + 1] = edge.wrapping_sub(1).max(edge >> 1);
        }
        for v in values {
            let mut expected = [0u8; varint::MAX_LEN_64];
            let n = varint::encode_u64(v, &mut expected);
            let mut buf = [0xa5u8; 12];
            let mut w = Writer::new(&mut buf);
            w.put_uvarlong(v).unwrap();
            assert_eq!(w.written(), &expected[..n], "{v:#x}");
            assert_eq!(buf[n..], [0xa5; 12][n..], "{v:#x}: nothing past the varint");
            let mut short = [0u8; 10];
            let mut w = Writer::new(&mut short[..n - 1]);
            assert_eq!(
                w.put_uvarlong(v),
                Err(EncodeError::BufferTooSmall {
                    needed: n,
                    available: n - 1
                })
            );
            assert_eq!(w.position(), 0);

            if let Ok(v) = u32::try_from(v) {
                let mut expected = [0u8; varint::MAX_LEN_32];
                let n = varint::encode_u32(v, &mut expected);
                let mut buf = [0u8; 16];
                let mut w = Writer::new(&mut buf);
                w.put_uvarint(v).unwrap();
                assert_eq!(w.written(), &expected[..n], "{v:#x}");
            }
        }
    }

    #[test]
    fn prefixed_bytes_are_written_whole_or_not_at_all() {
        let body = [7u8; 200];
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        w.put_compact_bytes(&body).unwrap();
        assert_eq!(&w.written()[..2], &[0xc9, 0x01]); // 201
        assert_eq!(&w.written()[2..], &body[..]);
        let mut w = Writer::new(&mut buf);
        w.put_varint_bytes(Some(&body)).unwrap();
        assert_eq!(&w.written()[..2], &[0x90, 0x03]); // zigzag(200) = 400
        let mut w = Writer::new(&mut buf[..201]);
        assert_eq!(
            w.put_compact_bytes(&body),
            Err(EncodeError::BufferTooSmall {
                needed: 202,
                available: 201
            })
        );
        assert_eq!(w.position(), 0);
    }
}
