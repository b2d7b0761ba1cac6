//! The Kafka protocol messages a producer needs, encoded in place and decoded by borrowing:
//! request and response headers, Produce, Metadata, ApiVersions, InitProducerId,
//! SaslHandshake and SaslAuthenticate, every version in [`ApiKey::supported`].

mod api;
mod error_code;

pub use api::{ApiKey, VersionRange};
pub use error_code::ErrorCode;
