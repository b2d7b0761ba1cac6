//! The Kafka protocol messages a producer needs, encoded in place and decoded by borrowing:
//! request and response headers, Produce, Fetch, Metadata, ApiVersions, InitProducerId,
//! SaslHandshake and SaslAuthenticate, every version in [`ApiKey::supported`], requests and
//! responses alike. (Fetch is the consumer's side: a Fetch response's records are read in place
//! with [`PartitionData::batches`] or, legacy message sets included,
//! [`PartitionData::record_sets`].)
//!
//! The messages are generated from Kafka's own JSON message definitions
//! (`spec/kafka-protocol/`) by `scripts/gen-protocol`; see [`messages`]. Each is a borrowing
//! repr that implements [`Encode`] and [`Decode`]; requests implement [`Request`], which frames
//! them with a [`RequestHeader`], and responses [`Response`].
//!
//! ```
//! use embedded_kafka::protocol::{
//!     Array, ApiVersionsRequest, ApiVersionsResponse, ApiVersion, Request, RequestHeader,
//!     Response, ResponseHeader,
//! };
//!
//! // A client asks which versions the broker speaks...
//! let request = ApiVersionsRequest {
//!     client_software_name: "embedded-kafka",
//!     client_software_version: "0.1.0",
//!     ..Default::default()
//! };
//! let mut frame = [0u8; 64];
//! let n = request.encode_request(&RequestHeader::new(1, Some("sensor-7")), &mut frame, 3)?;
//!
//! // ...a (test) broker answers...
//! let keys = [ApiVersion { api_key: 0, min_version: 3, max_version: 11, ..Default::default() }];
//! let response = ApiVersionsResponse { api_keys: Array::from(&keys), ..Default::default() };
//! let mut reply = [0u8; 64];
//! let m = response.encode_response(&ResponseHeader::new(1), &mut reply, 3)?;
//!
//! // ...and the client reads it, borrowing from the receive buffer.
//! let (header, decoded) = ApiVersionsRequest::decode_response(&reply[4..m], 3).expect("valid");
//! assert_eq!(header.correlation_id, 1);
//! assert_eq!(decoded, response);
//! let produce = decoded.api_keys.iter().find(|k| k.api_key == 0).expect("listed");
//! assert_eq!(produce.max_version, 11);
//! # let _ = n;
//! # Ok::<(), embedded_kafka::wire::EncodeError>(())
//! ```

mod api;
pub(crate) mod codec;
mod error_code;
mod ext;
mod frame;
pub mod header;
pub mod messages;
mod produce_writer;
mod versions;

pub use api::{ApiKey, VersionRange};
pub use codec::{
    Array, ArrayItem, ArrayIter, Decode, Encode, Keyed, Request, Response, decode_request_header,
    request_header_version, response_header_version,
};
pub use error_code::ErrorCode;
pub use frame::{
    CorrelationIds, FRAME_PREFIX_LEN, FrameError, FrameReader, InFlight, InFlightFull,
    InFlightRequest, MIN_FRAME_BODY, parse_frame, response_correlation_id,
};
pub use header::{RequestHeader, ResponseHeader};
pub use messages::*;
pub use produce_writer::{PartitionWriter, ProduceRequestWriter, TopicWriter};
pub use versions::{NegotiatedVersions, VersionError, negotiate};
