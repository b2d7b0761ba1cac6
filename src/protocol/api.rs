//! Which Kafka APIs this crate speaks, and the version range of each.

use core::fmt;

/// A Kafka API, by its key. Keys this crate does not implement stay representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ApiKey {
    /// Produce (0): write record batches to partitions.
    Produce,
    /// Fetch (1): read record batches from partitions (the consumer side, and a test
    /// broker's or proxy's view of what a consumer asks).
    Fetch,
    /// Metadata (3): brokers, topics, partitions and their leaders.
    Metadata,
    /// SaslHandshake (17): pick a SASL mechanism.
    SaslHandshake,
    /// ApiVersions (18): which APIs and versions a broker supports.
    ApiVersions,
    /// InitProducerId (22): obtain a producer id and epoch for idempotence.
    InitProducerId,
    /// SaslAuthenticate (36): carry SASL authentication bytes.
    SaslAuthenticate,
    /// Any other key.
    Other(i16),
}

impl ApiKey {
    /// Every API this crate implements, in key order.
    pub const ALL: [ApiKey; 7] = [
        Self::Produce,
        Self::Fetch,
        Self::Metadata,
        Self::SaslHandshake,
        Self::ApiVersions,
        Self::InitProducerId,
        Self::SaslAuthenticate,
    ];

    /// The numeric key on the wire.
    pub const fn key(self) -> i16 {
        match self {
            Self::Produce => 0,
            Self::Fetch => 1,
            Self::Metadata => 3,
            Self::SaslHandshake => 17,
            Self::ApiVersions => 18,
            Self::InitProducerId => 22,
            Self::SaslAuthenticate => 36,
            Self::Other(k) => k,
        }
    }

    /// The API for a numeric key.
    pub const fn from_key(key: i16) -> Self {
        match key {
            0 => Self::Produce,
            1 => Self::Fetch,
            3 => Self::Metadata,
            17 => Self::SaslHandshake,
            18 => Self::ApiVersions,
            22 => Self::InitProducerId,
            36 => Self::SaslAuthenticate,
            k => Self::Other(k),
        }
    }

    /// Kafka's name for the API (`"Other"` for keys this crate does not implement).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Produce => "Produce",
            Self::Fetch => "Fetch",
            Self::Metadata => "Metadata",
            Self::SaslHandshake => "SaslHandshake",
            Self::ApiVersions => "ApiVersions",
            Self::InitProducerId => "InitProducerId",
            Self::SaslAuthenticate => "SaslAuthenticate",
            Self::Other(_) => "Other",
        }
    }

    /// The versions this crate encodes and decodes (`None` for keys it does not implement).
    pub const fn supported(self) -> Option<VersionRange> {
        Some(match self {
            Self::Produce => VersionRange::new(3, 11),
            Self::Fetch => VersionRange::new(4, 17),
            Self::Metadata => VersionRange::new(1, 12),
            Self::SaslHandshake => VersionRange::new(0, 1),
            Self::ApiVersions => VersionRange::new(0, 4),
            Self::InitProducerId => VersionRange::new(0, 5),
            Self::SaslAuthenticate => VersionRange::new(0, 2),
            Self::Other(_) => return None,
        })
    }

    /// The first version that uses the flexible encoding (compact strings and arrays, tagged
    /// fields), from the message definitions' `flexibleVersions`; `None` if none does.
    pub const fn flexible_from(self) -> Option<i16> {
        match self {
            Self::Produce => Some(9),
            Self::Fetch => Some(12),
            Self::Metadata => Some(9),
            Self::SaslHandshake => None,
            Self::ApiVersions => Some(3),
            Self::InitProducerId => Some(2),
            Self::SaslAuthenticate => Some(2),
            Self::Other(_) => None,
        }
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(k) => write!(f, "API key {k}"),
            api => write!(f, "{} ({})", api.name(), api.key()),
        }
    }
}

/// An inclusive range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// `min..=max`.
    pub const fn new(min: i16, max: i16) -> Self {
        Self { min, max }
    }

    /// Whether `version` lies in the range.
    pub const fn contains(self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }

    /// The highest version in both ranges, if they overlap.
    pub const fn highest_common(self, other: Self) -> Option<i16> {
        let lo = if self.min > other.min {
            self.min
        } else {
            other.min
        };
        let hi = if self.max < other.max {
            self.max
        } else {
            other.max
        };
        if lo <= hi { Some(hi) } else { None }
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}
