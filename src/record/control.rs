//! Control records: the transaction markers (commit/abort) that brokers write into control
//! batches (KIP-98). Their key is `version:i16 | type:i16`.

use crate::wire::{DecodeError, decode};

/// What a control record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ControlType {
    /// The transaction was aborted (type 0).
    Abort,
    /// The transaction was committed (type 1).
    Commit,
    /// A type this crate does not know.
    Unknown(i16),
}

/// The decoded key of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ControlRecord {
    /// Key schema version (0 today).
    pub version: i16,
    /// The marker type.
    pub kind: ControlType,
}

impl ControlRecord {
    /// Decodes a control record's key. Later key versions may append fields, which are ignored.
    pub fn parse(key: &[u8]) -> Result<Self, DecodeError> {
        let (rest, version) = decode::within("control record key", decode::i16(key))?;
        let (_, kind) = decode::within("control record key", decode::i16(rest))?;
        if version < 0 {
            return Err(DecodeError::InvalidValue {
                what: "control record version",
                found: version.into(),
            });
        }
        let kind = match kind {
            0 => ControlType::Abort,
            1 => ControlType::Commit,
            k => ControlType::Unknown(k),
        };
        Ok(Self { version, kind })
    }
}
