//! The batch `attributes` field: compression codec, timestamp type, transactional and control
//! flags (KIP-32, KIP-98, KIP-534).

/// Compression codec of a record batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Compression {
    /// Records stored as they are.
    None,
    /// gzip (codec 1).
    Gzip,
    /// snappy, in the xerial framing (codec 2).
    Snappy,
    /// LZ4 frame format (codec 3).
    Lz4,
    /// zstd (codec 4, KIP-110).
    Zstd,
    /// A codec value this crate does not know (5-7).
    Unknown(u8),
}

impl Compression {
    /// The codec number stored in the attribute bits.
    pub const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
            Self::Unknown(c) => c & 0x07,
        }
    }

    /// Kafka's name (`compression.type`): `none`, `gzip`, `snappy`, `lz4`, `zstd`;
    /// `unknown` for 5-7.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
            Self::Unknown(_) => "unknown",
        }
    }

    /// The codec Kafka names `name` (`compression.type`; lower case, as in Kafka).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::None, Self::Gzip, Self::Snappy, Self::Lz4, Self::Zstd]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// The codec for a number.
    pub const fn from_code(code: u8) -> Self {
        match code & 0x07 {
            0 => Self::None,
            1 => Self::Gzip,
            2 => Self::Snappy,
            3 => Self::Lz4,
            4 => Self::Zstd,
            c => Self::Unknown(c),
        }
    }
}

/// What a batch's timestamps mean (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimestampType {
    /// Set by the producer when the record was created (what producers send).
    #[default]
    CreateTime,
    /// Overwritten by the broker when it appended the batch.
    LogAppendTime,
}

/// The 16-bit `attributes` of a record batch.
///
/// ```text
/// bit  15 ..  7 |      6        |    5    |       4       |       3        |  2 .. 0
///      unused   | deleteHorizon | control | transactional | timestampType  | compression
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Attributes(pub i16);

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE: i16 = 0x08;
const TRANSACTIONAL: i16 = 0x10;
const CONTROL: i16 = 0x20;
const DELETE_HORIZON: i16 = 0x40;

impl Attributes {
    /// Plain producer attributes: no compression, create time, not transactional.
    pub const NONE: Self = Self(0);

    /// The compression codec.
    pub const fn compression(self) -> Compression {
        Compression::from_code((self.0 & COMPRESSION_MASK) as u8)
    }

    /// The timestamp type.
    pub const fn timestamp_type(self) -> TimestampType {
        if self.0 & TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction (KIP-98).
    pub const fn is_transactional(self) -> bool {
        self.0 & TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (transaction markers) rather than data.
    pub const fn is_control(self) -> bool {
        self.0 & CONTROL != 0
    }

    /// Whether `baseTimestamp` holds the delete horizon of a compacted batch (KIP-534).
    pub const fn has_delete_horizon(self) -> bool {
        self.0 & DELETE_HORIZON != 0
    }

    /// With the compression codec replaced.
    pub const fn with_compression(self, c: Compression) -> Self {
        Self((self.0 & !COMPRESSION_MASK) | c.code() as i16)
    }

    /// With the timestamp type replaced.
    pub const fn with_timestamp_type(self, t: TimestampType) -> Self {
        match t {
            TimestampType::CreateTime => Self(self.0 & !TIMESTAMP_TYPE),
            TimestampType::LogAppendTime => Self(self.0 | TIMESTAMP_TYPE),
        }
    }

    /// With the transactional flag set or cleared.
    pub const fn with_transactional(self, on: bool) -> Self {
        Self(if on {
            self.0 | TRANSACTIONAL
        } else {
            self.0 & !TRANSACTIONAL
        })
    }

    /// With the control flag set or cleared.
    pub const fn with_control(self, on: bool) -> Self {
        Self(if on {
            self.0 | CONTROL
        } else {
            self.0 & !CONTROL
        })
    }
}
