//! The Kafka protocol messages a producer needs, encoded in place and decoded by borrowing:
//! request and response headers, Produce, Metadata, ApiVersions, InitProducerId,
//! SaslHandshake and SaslAuthenticate, every version in [`ApiKey::supported`].

mod api;
mod error_code;
mod frame;
mod versions;

pub use api::{ApiKey, VersionRange};
pub use error_code::ErrorCode;
pub use frame::{
    CorrelationIds, FRAME_PREFIX_LEN, FrameError, FrameReader, InFlight, InFlightFull,
    InFlightRequest, MIN_FRAME_BODY, parse_frame, response_correlation_id,
};
pub use versions::{NegotiatedVersions, VersionError, negotiate};
