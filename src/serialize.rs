//! Serializers that write a key or value straight into the record batch, the way the seed's
//! `value_serializer=lambda v: json.dumps(v).encode()` did, but with no intermediate buffer:
//! the bytes are produced in the batch's free room, and a value that does not fit is a clear
//! error ([`SerializeError::DoesNotFit`]), after which the producer starts a new batch and
//! serializes again.
//!
//! - [`Json`] (feature `json`): `serde` values as JSON through `serde-json-core`.
//! - [`Postcard`] (feature `postcard`): `serde` values in postcard's compact binary form.
//! - [`Cbor`] (feature `cbor`): `minicbor::Encode` values as CBOR (RFC 8949).
//!
//! Each is a [`Payload`] for [`RecordBatchBuilder::append_with`](crate::record::RecordBatchBuilder::append_with)
//! (key or value), and with the producer, [`writer`](Json::writer) gives the closure
//! [`Producer::send_with`](crate::producer::Producer::send_with) takes.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use embedded_kafka::record::{BatchHeader, RecordBatch, RecordBatchBuilder};
//! use embedded_kafka::serialize::Json;
//!
//! #[derive(serde::Serialize)]
//! struct Reading<'a> { sensor: &'a str, seq: u32, temp_c: f32 }
//!
//! let mut buf = [0u8; 256];
//! let mut batch = RecordBatchBuilder::new(&mut buf, BatchHeader::default())?;
//! let reading = Reading { sensor: "node-1", seq: 7, temp_c: 21.5 };
//! batch.append_with(0, Some(&b"node-1"[..]), Json(&reading), &[]).expect("fits");
//! let bytes = batch.finish()?;
//! let batch = RecordBatch::parse(bytes).expect("valid").complete().expect("whole");
//! let record = batch.records().expect("plain").next().expect("one").expect("valid");
//! assert_eq!(record.value, Some(&br#"{"sensor":"node-1","seq":7,"temp_c":21.5}"#[..]));
//! # }
//! # Ok::<(), embedded_kafka::wire::EncodeError>(())
//! ```

use core::fmt;

use crate::record::Payload;

/// Why a serializer wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SerializeError {
    /// The value needs more room than the batch has left. The producer sends the batch and
    /// tries again in an empty one; a value larger than an empty batch fails for good.
    DoesNotFit,
    /// The value cannot be serialized in this format (e.g. a map with non-string keys as
    /// JSON, or a serializer's own limit).
    Unsupported {
        /// The format (`"JSON"`, `"postcard"`, `"CBOR"`).
        format: &'static str,
    },
}

impl fmt::Display for SerializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoesNotFit => f.write_str("the serialized value does not fit in the batch"),
            Self::Unsupported { format } => {
                write!(f, "the value cannot be serialized as {format}")
            }
        }
    }
}

impl core::error::Error for SerializeError {}

#[cfg(feature = "producer")]
impl From<SerializeError> for crate::producer::ValueError {
    fn from(e: SerializeError) -> Self {
        match e {
            SerializeError::DoesNotFit => Self::DoesNotFit,
            SerializeError::Unsupported { .. } => Self::Failed,
        }
    }
}

/// Each serializer: a `Payload` of unknown length written in place, and the producer's
/// closure form.
macro_rules! serializer {
    ($(#[$doc:meta])* $name:ident, $bound:path, $write:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<'v, T: ?Sized>(pub &'v T);

        impl<T: ?Sized + $bound> Payload<SerializeError> for $name<'_, T> {
            fn known_len(&self) -> Option<Option<usize>> {
                None
            }

            fn write(self, out: &mut [u8]) -> Result<usize, SerializeError> {
                let write: fn(&T, &mut [u8]) -> Result<usize, SerializeError> = $write;
                write(self.0, out)
            }
        }

        impl<T: ?Sized + $bound> $name<'_, T> {
            /// The value as [`Producer::send_with`](crate::producer::Producer::send_with)'s
            /// writer: it serializes into the room it is given each time it is called.
            #[cfg(feature = "producer")]
            pub fn writer(
                self,
            ) -> impl FnMut(&mut [u8]) -> Result<usize, crate::producer::ValueError> {
                let value = self.0;
                move |out| Payload::<SerializeError>::write($name(value), out).map_err(Into::into)
            }
        }
    };
}

#[cfg(feature = "json")]
serializer!(
    /// A `serde` value as JSON (`serde-json-core`: no heap; floats as the shortest form that
    /// reads back the same, strings escaped as JSON requires).
    Json,
    serde::Serialize,
    |value, out| {
        serde_json_core::to_slice(value, out).map_err(|e| match e {
            serde_json_core::ser::Error::BufferFull => SerializeError::DoesNotFit,
            _ => SerializeError::Unsupported { format: "JSON" },
        })
    }
);

#[cfg(feature = "postcard")]
serializer!(
    /// A `serde` value in postcard's binary form (varint integers, no field names: the
    /// reader needs the same type).
    Postcard,
    serde::Serialize,
    |value, out| match postcard::to_slice(value, out) {
        Ok(written) => Ok(written.len()),
        Err(postcard::Error::SerializeBufferFull) => Err(SerializeError::DoesNotFit),
        Err(_) => Err(SerializeError::Unsupported { format: "postcard" }),
    }
);

#[cfg(feature = "cbor")]
serializer!(
    /// A `minicbor::Encode` value as CBOR (RFC 8949), e.g. with `#[derive(minicbor::Encode)]`.
    Cbor,
    minicbor::Encode<()>,
    |value, out| {
        let mut cursor = minicbor::encode::write::Cursor::new(out);
        match minicbor::encode(value, &mut cursor) {
            Ok(()) => Ok(cursor.position()),
            Err(e) if e.is_write() => Err(SerializeError::DoesNotFit),
            Err(_) => Err(SerializeError::Unsupported { format: "CBOR" }),
        }
    }
);
