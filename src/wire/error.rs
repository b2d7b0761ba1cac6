//! The two error types of the wire layer: one for writing, one for reading.

use core::fmt;

/// Why a value could not be written.
///
/// A writer never truncates: when it returns an error, nothing of the failed value is left in
/// the buffer past the position it had before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The output buffer is too small. `needed` is the total size the buffer must have for this
    /// write to succeed (everything written so far plus this value); `available` is its size.
    BufferTooSmall {
        /// Total buffer size this write needs.
        needed: usize,
        /// Size of the buffer that was supplied.
        available: usize,
    },
    /// A string, byte string or array is longer than its length prefix can express
    /// (`i16::MAX` for a classic string, `i32::MAX` for bytes and arrays, `u32::MAX - 1` for the
    /// compact forms).
    TooLong {
        /// What was being written (`"string"`, `"bytes"`, `"array"`, …).
        what: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the format allows.
        max: usize,
    },
    /// A back-patch slot does not lie inside the bytes written so far (it came from another
    /// writer, or the writer was rolled back past it).
    GapOutOfRange {
        /// First byte of the slot.
        at: usize,
        /// Bytes written so far.
        written: usize,
    },
    /// A caller-supplied closure claimed to have written more bytes than it was given room for.
    ClosureOverrun {
        /// Bytes the closure said it wrote.
        claimed: usize,
        /// Bytes it was given.
        available: usize,
    },
    /// The message version is outside what this crate implements for the API (see
    /// [`ApiKey::supported`](crate::protocol::ApiKey::supported)).
    UnsupportedVersion {
        /// The API key (-1 for the request and response headers).
        api: i16,
        /// The version asked for.
        version: i16,
    },
    /// A field holds a non-default value but the version being written does not have the
    /// field, and the field is not ignorable: writing would lose it silently (the Java client
    /// refuses in the same case). Ignorable fields are dropped instead.
    FieldNotInVersion {
        /// The field, as `Struct.field`.
        field: &'static str,
        /// The version being written.
        version: i16,
    },
    /// A field is `None` (null) but the version being written cannot express null for it.
    UnexpectedNull {
        /// The field, as `Struct.field`.
        field: &'static str,
        /// The version being written.
        version: i16,
    },
    /// A raw (unknown) tagged field uses the tag of a field the version being written knows
    /// (it was kept raw when read at a version that did not know it, or built by hand).
    DuplicateTag {
        /// The tag.
        tag: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => {
                write!(f, "buffer too small: needs {needed} bytes, has {available}")
            }
            Self::TooLong { what, len, max } => {
                write!(
                    f,
                    "{what} of {len} bytes/items is longer than the {max} its prefix allows"
                )
            }
            Self::GapOutOfRange { at, written } => write!(
                f,
                "back-patch slot at byte {at} is outside the {written} bytes written"
            ),
            Self::ClosureOverrun { claimed, available } => write!(
                f,
                "closure claimed to write {claimed} bytes into {available} bytes of room"
            ),
            Self::UnsupportedVersion { api, version } => {
                write!(f, "version {version} of API {api} is not supported")
            }
            Self::FieldNotInVersion { field, version } => write!(
                f,
                "{field} has a non-default value but version {version} does not carry it"
            ),
            Self::UnexpectedNull { field, version } => {
                write!(
                    f,
                    "{field} is null but is not nullable in version {version}"
                )
            }
            Self::DuplicateTag { tag } => {
                write!(f, "raw tagged field {tag} has the tag of a known field")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

/// Why bytes could not be decoded: what was expected and what was found.
///
/// "Not enough bytes yet" is not an error; the streaming parsers report it as
/// [`nom::Err::Incomplete`] and the top-level entry points as [`Status::Incomplete`].
/// [`DecodeError::Truncated`] is the different case of a structure that overruns the
/// container it must fit in (a record running past the end of its batch), which no amount
/// of further input can fix.
///
/// [`Status::Incomplete`]: crate::wire::Status::Incomplete
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// A length or count prefix is negative (other than -1 where null is allowed) or larger
    /// than the format permits.
    InvalidLength {
        /// What the prefix was for.
        what: &'static str,
        /// The prefix as read.
        found: i64,
    },
    /// A null (-1, or 0 in the compact forms) where the field is not nullable.
    UnexpectedNull {
        /// What the field was.
        what: &'static str,
    },
    /// A variable-length integer runs past its maximum size (5 bytes for 32 bits, 10 for 64),
    /// or its last byte carries bits the integer cannot hold.
    InvalidVarint {
        /// The largest number of bytes the integer may take.
        max_bytes: u8,
    },
    /// A string field is not valid UTF-8.
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// Tagged fields out of order: tags must be strictly increasing.
    TagOutOfOrder {
        /// The tag before it.
        previous: u32,
        /// The tag found.
        found: u32,
    },
    /// A record batch magic byte other than 2.
    BadMagic {
        /// The only magic this reader handles.
        expected: i8,
        /// The magic found.
        found: i8,
    },
    /// A record batch whose stored CRC-32C does not match its contents.
    CrcMismatch {
        /// CRC stored in the batch header.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// The records of a compressed batch cannot be walked without decompressing them first
    /// (`RecordBatch::records_in` does, into a caller's buffer, with the codec's feature on).
    Compressed {
        /// The batch's compression codec number (1 gzip, 2 snappy, 3 lz4, 4 zstd).
        codec: u8,
    },
    /// A field holds a value outside what the format allows.
    InvalidValue {
        /// What the field was.
        what: &'static str,
        /// The value found.
        found: i64,
    },
    /// A structure runs past the end of the container it must fit in: `needed` more bytes
    /// would have been required.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many bytes were missing.
        needed: usize,
    },
    /// An array's count claims more entries than there are bytes left in its container
    /// (every entry takes at least one byte): a forged or corrupt count, refused before any
    /// entry is walked. Its own variant so that the message counts entries, not bytes.
    TooManyEntries {
        /// The array.
        what: &'static str,
        /// The entry count the prefix claims.
        count: usize,
        /// The bytes left in the container after the prefix.
        left: usize,
    },
    /// Bytes left over after a structure whose length says it ended.
    TrailingBytes {
        /// What was being read.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// The message version is outside what this crate implements for the API (see
    /// [`ApiKey::supported`](crate::protocol::ApiKey::supported)).
    UnsupportedVersion {
        /// The API key (-1 for the request and response headers).
        api: i16,
        /// The version asked for.
        version: i16,
    },
    /// A nom combinator failed (only reachable when composing these parsers with nom's own).
    Nom {
        /// The failing combinator, as `nom::error::ErrorKind as u8`.
        code: u8,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::InvalidLength { what, found } => write!(f, "invalid {what} length {found}"),
            Self::UnexpectedNull { what } => write!(f, "{what} is null but is not nullable"),
            Self::InvalidVarint { max_bytes } => {
                write!(f, "varint longer than {max_bytes} bytes or out of range")
            }
            Self::InvalidUtf8 { valid_up_to } => {
                write!(f, "string is not UTF-8 (valid up to byte {valid_up_to})")
            }
            Self::TagOutOfOrder { previous, found } => {
                write!(
                    f,
                    "tagged field {found} follows {previous}: tags must increase"
                )
            }
            Self::BadMagic { expected, found } => {
                write!(f, "record batch magic {found}, expected {expected}")
            }
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "record batch CRC-32C mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Self::Compressed { codec } => {
                write!(
                    f,
                    "records are compressed (codec {codec}); decompress them first"
                )
            }
            Self::InvalidValue { what, found } => write!(f, "invalid {what}: {found}"),
            Self::Truncated { what, needed } => {
                write!(
                    f,
                    "{what} truncated: {needed} more bytes needed inside its container"
                )
            }
            Self::TooManyEntries { what, count, left } => write!(
                f,
                "{what} claims {count} entries but only {left} bytes are left for them"
            ),
            Self::TrailingBytes { what, count } => {
                write!(f, "{count} unexpected bytes after {what}")
            }
            Self::UnsupportedVersion { api, version } => {
                write!(f, "version {version} of API {api} is not supported")
            }
            Self::Nom { code } => write!(f, "nom combinator failed (ErrorKind {code})"),
        }
    }
}

impl core::error::Error for DecodeError {}

impl<I> nom::error::ParseError<I> for DecodeError {
    fn from_error_kind(_input: I, kind: nom::error::ErrorKind) -> Self {
        Self::Nom { code: kind as u8 }
    }

    fn append(_input: I, _kind: nom::error::ErrorKind, other: Self) -> Self {
        // The innermost error says most about what was wrong; keep it.
        other
    }
}
