//! The wire layer: Kafka's primitive types, written into and read from byte slices.
//!
//! | Kafka type | write | read |
//! |---|---|---|
//! | `INT8` … `INT64`, `UINT16`, `UINT32`, `FLOAT64`, `BOOLEAN` | [`Writer::put_i32`] … | [`decode::i32`] … |
//! | `UNSIGNED_VARINT`, `VARINT`, `VARLONG` | [`Writer::put_uvarint`], [`Writer::put_varint`], [`Writer::put_varlong`] | [`decode::uvarint`], [`decode::varint`], [`decode::varlong`] |
//! | `UUID` | [`Writer::put_uuid`] | [`decode::uuid`] |
//! | `(NULLABLE_)STRING`, `COMPACT_(NULLABLE_)STRING` | [`Writer::put_string`] … | [`decode::string`] … |
//! | `(NULLABLE_)BYTES`, `COMPACT_(NULLABLE_)BYTES` | [`Writer::put_bytes`] … | [`decode::bytes`] … |
//! | `ARRAY`, `COMPACT_ARRAY` lengths | [`Writer::put_array_len`] … | [`decode::array_len`] … |
//! | tagged-field sections | [`Writer::put_tagged_fields`] | [`decode::tagged_fields`] |
//!
//! Writing never panics and never truncates: a value either fits whole or the call returns
//! [`EncodeError::BufferTooSmall`] with the size the buffer needs. Lengths, counts and CRCs that
//! are known only at the end are reserved with [`Writer::reserve`] and back-patched.
//!
//! Reading borrows: strings come back as `&str` into the input, bytes as `&[u8]`. The parsers
//! are streaming nom parsers, so "not enough bytes yet" ([`nom::Err::Incomplete`], with how
//! many more are needed) is kept apart from "these bytes are wrong" ([`DecodeError`], with what
//! was expected and what was found). Top-level entry points (a frame, a record batch) report the
//! former as [`Status::Incomplete`].

pub mod decode;
mod error;
pub mod varint;
mod writer;

pub use error::{DecodeError, EncodeError};
pub use writer::{Gap, VarintGap, WithError, Writer};

/// The outcome of parsing input that may not all have arrived yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status<T> {
    /// The value is complete; it took the first `consumed` bytes of the input.
    Complete {
        /// The parsed value.
        value: T,
        /// How many input bytes it took.
        consumed: usize,
    },
    /// More input is needed: at least `needed` more bytes (exactly `needed` once a length
    /// prefix has been read).
    Incomplete {
        /// How many more bytes are needed.
        needed: usize,
    },
}

impl<T> Status<T> {
    /// The value, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete { value, .. } => Some(value),
            Self::Incomplete { .. } => None,
        }
    }

    /// Whether more input is needed.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Self::Incomplete { .. })
    }
}
