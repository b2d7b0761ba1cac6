//! Streaming parsers for Kafka's primitive types, in nom's shape: each takes the input and
//! returns the rest with the value, borrowing strings and bytes from the input.
//!
//! Not enough input is `Err(nom::Err::Incomplete(Needed::Size(n)))` where `n` is how many more
//! bytes this primitive needs; a malformed value is `Err(nom::Err::Error(DecodeError))` saying
//! what was expected and what was found. Inside a structure whose size is already known (a
//! record inside a batch), use [`within`] to turn "incomplete" into [`DecodeError::Truncated`].
//!
//! ```
//! use embedded_kafka::wire::decode;
//!
//! let input = b"\x00\x05hello\x07";
//! let (rest, s) = decode::string(input)?;
//! assert_eq!(s, "hello");
//! assert_eq!(decode::varint(rest)?.1, -4);
//! assert!(matches!(decode::i32(b"\x00\x00"), Err(nom::Err::Incomplete(nom::Needed::Size(n))) if n.get() == 2));
//! # Ok::<(), nom::Err<embedded_kafka::wire::DecodeError>>(())
//! ```
//!
//! They are ordinary nom parsers, so nom's combinators compose them:
//!
//! ```
//! use embedded_kafka::wire::decode;
//! use nom::Parser;
//!
//! // A topic name and three partition ids, as a Metadata request would carry them.
//! let input = b"\x08sensors\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02";
//! let mut ids = [0i32; 3];
//! let (rest, (topic, ())) =
//!     (decode::compact_string, nom::multi::fill(decode::i32, &mut ids)).parse(&input[..])?;
//! assert_eq!((topic, ids, rest), ("sensors", [0, 1, 2], &[][..]));
//! # Ok::<(), nom::Err<embedded_kafka::wire::DecodeError>>(())
//! ```

use super::error::DecodeError;
use super::varint;
use nom::Needed;

/// What every parser here returns.
pub type IResult<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

#[inline]
fn incomplete(n: usize) -> nom::Err<DecodeError> {
    nom::Err::Incomplete(Needed::new(n))
}

#[inline]
fn invalid(e: DecodeError) -> nom::Err<DecodeError> {
    nom::Err::Error(e)
}

#[inline]
fn array<const N: usize>(input: &[u8]) -> IResult<'_, [u8; N]> {
    match input.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((rest, *head)),
        None => Err(incomplete(N - input.len())),
    }
}

/// Takes exactly `n` bytes.
#[inline]
pub fn take(input: &[u8], n: usize) -> IResult<'_, &[u8]> {
    match input.split_at_checked(n) {
        Some((head, rest)) => Ok((rest, head)),
        None => Err(incomplete(n - input.len())),
    }
}

/// Parses an unsigned byte.
#[inline]
pub fn u8(input: &[u8]) -> IResult<'_, u8> {
    array::<1>(input).map(|(r, [b])| (r, b))
}

/// Parses a `BOOLEAN`: any non-zero byte is true, as in the Java client.
#[inline]
pub fn bool(input: &[u8]) -> IResult<'_, bool> {
    u8(input).map(|(r, b)| (r, b != 0))
}

macro_rules! be_parsers {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(input: &[u8]) -> IResult<'_, $ty> {
            array(input).map(|(r, a)| (r, <$ty>::from_be_bytes(a)))
        }
    )*};
}

be_parsers! {
    /// Parses an `INT8`.
    i8: i8,
    /// Parses an `INT16`.
    i16: i16,
    /// Parses a `UINT16`.
    u16: u16,
    /// Parses an `INT32`.
    i32: i32,
    /// Parses a `UINT32`.
    u32: u32,
    /// Parses an `INT64`.
    i64: i64,
    /// Parses a `FLOAT64`.
    f64: f64,
}

/// Parses a `UUID` (16 raw bytes).
#[inline]
pub fn uuid(input: &[u8]) -> IResult<'_, [u8; 16]> {
    array(input)
}

/// LEB128 of at most `max_bytes` bytes whose last byte may not exceed `last_max` (the bits
/// the integer has room for): the one loop behind [`uvarint`] and [`uvarlong`].
#[inline]
fn leb128(input: &[u8], max_bytes: usize, last_max: u8) -> IResult<'_, u64> {
    if let Some((&b, rest)) = input.split_first()
        && b < 0x80
    {
        return Ok((rest, u64::from(b)));
    }
    let too_long = DecodeError::InvalidVarint {
        max_bytes: max_bytes as u8,
    };
    let mut value = 0u64;
    for (i, &b) in input.iter().enumerate().take(max_bytes) {
        if i == max_bytes - 1 && b > last_max {
            return Err(invalid(too_long));
        }
        value |= u64::from(b & 0x7f) << (7 * i as u32);
        if b < 0x80 {
            return Ok((input.get(i + 1..).unwrap_or_default(), value));
        }
    }
    if input.len() >= max_bytes {
        Err(invalid(too_long))
    } else {
        Err(incomplete(1))
    }
}

/// Parses an `UNSIGNED_VARINT`. Rejects encodings longer than 5 bytes and fifth bytes that
/// carry bits beyond 32 (the Java client silently drops those bits; a strict reader does not).
#[inline]
pub fn uvarint(input: &[u8]) -> IResult<'_, u32> {
    // A fifth byte of at most 0x0f keeps the value within 32 bits.
    leb128(input, varint::MAX_LEN_32, 0x0f).map(|(r, v)| (r, v as u32))
}

/// Parses an unsigned 64-bit varint (at most 10 bytes).
#[inline]
pub fn uvarlong(input: &[u8]) -> IResult<'_, u64> {
    leb128(input, varint::MAX_LEN_64, 0x01)
}

/// Parses a zigzag `VARINT`.
#[inline]
pub fn varint(input: &[u8]) -> IResult<'_, i32> {
    uvarint(input).map(|(r, v)| (r, varint::unzigzag32(v)))
}

/// Parses a zigzag `VARLONG`.
#[inline]
pub fn varlong(input: &[u8]) -> IResult<'_, i64> {
    uvarlong(input).map(|(r, v)| (r, varint::unzigzag64(v)))
}

#[inline]
fn utf8(bytes: &[u8]) -> Result<&str, nom::Err<DecodeError>> {
    core::str::from_utf8(bytes).map_err(|e| {
        invalid(DecodeError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })
    })
}

/// Parses the `INT16` length of a `NULLABLE_STRING`: `None` for -1.
fn i16_len<'a>(input: &'a [u8], what: &'static str) -> IResult<'a, Option<usize>> {
    let (rest, len) = i16(input)?;
    match len {
        -1 => Ok((rest, None)),
        n if n < 0 => Err(invalid(DecodeError::InvalidLength {
            what,
            found: n.into(),
        })),
        n => Ok((rest, Some(n as usize))),
    }
}

/// Parses the `INT32` length of `NULLABLE_BYTES` or a nullable `ARRAY`: `None` for -1.
fn i32_len<'a>(input: &'a [u8], what: &'static str) -> IResult<'a, Option<usize>> {
    let (rest, len) = i32(input)?;
    match len {
        -1 => Ok((rest, None)),
        n if n < 0 => Err(invalid(DecodeError::InvalidLength {
            what,
            found: n.into(),
        })),
        n => Ok((rest, Some(n as usize))),
    }
}

/// Parses a compact length (`UNSIGNED_VARINT` N+1): `None` for 0.
fn compact_len<'a>(input: &'a [u8]) -> IResult<'a, Option<usize>> {
    let (rest, n) = uvarint(input)?;
    Ok((rest, n.checked_sub(1).map(|n| n as usize)))
}

#[inline]
fn non_null<T>(v: Option<T>, what: &'static str) -> Result<T, nom::Err<DecodeError>> {
    v.ok_or(invalid(DecodeError::UnexpectedNull { what }))
}

/// Parses a `NULLABLE_STRING`.
pub fn nullable_string(input: &[u8]) -> IResult<'_, Option<&str>> {
    match i16_len(input, "string")? {
        (rest, None) => Ok((rest, None)),
        (rest, Some(n)) => {
            let (rest, b) = take(rest, n)?;
            Ok((rest, Some(utf8(b)?)))
        }
    }
}

/// Parses a `STRING`.
pub fn string(input: &[u8]) -> IResult<'_, &str> {
    let (rest, s) = nullable_string(input)?;
    Ok((rest, non_null(s, "string")?))
}

/// Parses a `COMPACT_NULLABLE_STRING`.
pub fn compact_nullable_string(input: &[u8]) -> IResult<'_, Option<&str>> {
    match compact_nullable_bytes(input)? {
        (rest, None) => Ok((rest, None)),
        (rest, Some(b)) => Ok((rest, Some(utf8(b)?))),
    }
}

/// Parses a `COMPACT_STRING`.
pub fn compact_string(input: &[u8]) -> IResult<'_, &str> {
    let (rest, s) = compact_nullable_string(input)?;
    Ok((rest, non_null(s, "compact string")?))
}

/// Parses `NULLABLE_BYTES`.
pub fn nullable_bytes(input: &[u8]) -> IResult<'_, Option<&[u8]>> {
    match i32_len(input, "bytes")? {
        (rest, None) => Ok((rest, None)),
        (rest, Some(n)) => take(rest, n).map(|(r, b)| (r, Some(b))),
    }
}

/// Parses `BYTES`.
pub fn bytes(input: &[u8]) -> IResult<'_, &[u8]> {
    let (rest, b) = nullable_bytes(input)?;
    Ok((rest, non_null(b, "bytes")?))
}

/// Parses `COMPACT_NULLABLE_BYTES`.
pub fn compact_nullable_bytes(input: &[u8]) -> IResult<'_, Option<&[u8]>> {
    match compact_len(input)? {
        (rest, None) => Ok((rest, None)),
        (rest, Some(n)) => take(rest, n).map(|(r, b)| (r, Some(b))),
    }
}

/// Parses `COMPACT_BYTES`.
pub fn compact_bytes(input: &[u8]) -> IResult<'_, &[u8]> {
    let (rest, b) = compact_nullable_bytes(input)?;
    Ok((rest, non_null(b, "compact bytes")?))
}

/// Parses a record-style byte field: zigzag `VARINT` length, -1 for null (keys, values and
/// header values inside a record batch).
pub fn varint_bytes(input: &[u8]) -> IResult<'_, Option<&[u8]>> {
    let (rest, len) = varint(input)?;
    match len {
        -1 => Ok((rest, None)),
        n if n < 0 => Err(invalid(DecodeError::InvalidLength {
            what: "record bytes",
            found: n.into(),
        })),
        n => take(rest, n as usize).map(|(r, b)| (r, Some(b))),
    }
}

/// Parses a nullable `ARRAY` length: `None` for -1.
pub fn nullable_array_len(input: &[u8]) -> IResult<'_, Option<usize>> {
    i32_len(input, "array")
}

/// Parses an `ARRAY` length.
pub fn array_len(input: &[u8]) -> IResult<'_, usize> {
    let (rest, n) = nullable_array_len(input)?;
    Ok((rest, non_null(n, "array")?))
}

/// Parses a nullable `COMPACT_ARRAY` length: `None` for 0.
pub fn compact_nullable_array_len(input: &[u8]) -> IResult<'_, Option<usize>> {
    compact_len(input)
}

/// Parses a `COMPACT_ARRAY` length.
pub fn compact_array_len(input: &[u8]) -> IResult<'_, usize> {
    let (rest, n) = compact_len(input)?;
    Ok((rest, non_null(n, "compact array")?))
}

/// A tagged-field section, validated and kept as raw bytes: walk it with
/// [`iter`](Self::iter). Known tags are interpreted by the message that owns them; unknown
/// ones stay reachable here.
///
/// Two sections are equal when they hold the same `(tag, data)` fields, however their
/// varints were written.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TaggedFields<'a> {
    count: u32,
    /// The fields after the count: `(tag, size, data)*`.
    raw: &'a [u8],
}

impl<'a> TaggedFields<'a> {
    /// A section without fields.
    pub const EMPTY: Self = Self { count: 0, raw: &[] };

    /// How many fields the section holds.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the section is empty (the common case: a single zero byte).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The fields as `(tag, data)`, in wire order.
    pub fn iter(&self) -> TaggedFieldIter<'a> {
        TaggedFieldIter {
            remaining: self.count,
            raw: self.raw,
        }
    }

    /// The data of the field with `tag`, if present.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.iter().find(|&(t, _)| t == tag).map(|(_, d)| d)
    }
}

impl PartialEq for TaggedFields<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl Eq for TaggedFields<'_> {}

impl<'a> IntoIterator for TaggedFields<'a> {
    type Item = (u32, &'a [u8]);
    type IntoIter = TaggedFieldIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`TaggedFields`] section.
#[derive(Debug, Clone)]
pub struct TaggedFieldIter<'a> {
    remaining: u32,
    raw: &'a [u8],
}

impl<'a> TaggedFieldIter<'a> {
    /// The fields not yet yielded, as a section of their own (still in tag order).
    pub fn rest(&self) -> TaggedFields<'a> {
        TaggedFields {
            count: self.remaining,
            raw: self.raw,
        }
    }
}

fn tagged_field(input: &[u8]) -> IResult<'_, (u32, &[u8])> {
    let (rest, tag) = uvarint(input)?;
    let (rest, size) = uvarint(rest)?;
    let (rest, data) = take(rest, size as usize)?;
    Ok((rest, (tag, data)))
}

impl<'a> Iterator for TaggedFieldIter<'a> {
    type Item = (u32, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        // The section was validated when it was parsed, so this cannot fail; if it somehow
        // did, the iteration just ends.
        let (rest, field) = tagged_field(self.raw).ok()?;
        self.raw = rest;
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

/// Parses a tagged-field section (`UNSIGNED_VARINT` count, then `tag size data` each, tags
/// strictly increasing), checking its structure without interpreting any field.
pub fn tagged_fields(input: &[u8]) -> IResult<'_, TaggedFields<'_>> {
    let (mut rest, count) = uvarint(input)?;
    if count == 0 {
        return Ok((rest, TaggedFields::default()));
    }
    let start = rest;
    let mut previous: Option<u32> = None;
    for _ in 0..count {
        let (r, (tag, _)) = tagged_field(rest)?;
        if let Some(p) = previous
            && tag <= p
        {
            return Err(invalid(DecodeError::TagOutOfOrder {
                previous: p,
                found: tag,
            }));
        }
        previous = Some(tag);
        rest = r;
    }
    let used = start.len() - rest.len();
    Ok((
        rest,
        TaggedFields {
            count,
            raw: start.get(..used).unwrap_or_default(),
        },
    ))
}

/// Runs a parser over input that is known to be complete (a structure inside a length-prefixed
/// container), so that running out of bytes becomes [`DecodeError::Truncated`] naming `what`,
/// and any other failure its [`DecodeError`].
#[inline]
pub fn within<'a, T>(
    what: &'static str,
    result: IResult<'a, T>,
) -> Result<(&'a [u8], T), DecodeError> {
    result.map_err(|e| match e {
        nom::Err::Incomplete(Needed::Size(n)) => DecodeError::Truncated {
            what,
            needed: n.get(),
        },
        nom::Err::Incomplete(Needed::Unknown) => DecodeError::Truncated { what, needed: 1 },
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
    })
}
