//! The bootstrap requests the producer writes by hand, as it writes Produce: ApiVersions and a
//! Metadata request for one topic. The generated encoders handle every field of every version
//! (any number of topics, topic ids, null topic lists, unknown tagged fields) and size the
//! frame before writing it; the producer sends one shape of each, and writing that shape
//! straight into TX takes a fraction of the flash. The tests check them byte for byte against
//! the generated encoders at every version.

use crate::protocol::{ApiKey, RequestHeader, request_header_version};
use crate::wire::EncodeError;

/// What the producer says it is in ApiVersions v3+ (`client_software_name`/`_version`).
pub(super) const SOFTWARE_NAME: &str = "embedded-kafka";
pub(super) const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes the frame of an ApiVersions request at `version` into `out` (the 4-byte size,
/// `header` with the API key and version set, the body) and returns its length.
pub(super) fn api_versions(
    out: &mut [u8],
    header: &RequestHeader<'_>,
    version: i16,
) -> Result<usize, EncodeError> {
    let mut o = start(out, ApiKey::ApiVersions, header, version)?;
    if version >= 3 {
        o.compact(SOFTWARE_NAME);
        o.compact(SOFTWARE_VERSION);
        o.bytes(&[0]); // no tagged fields
    }
    o.finish()
}

/// Writes the frame of a Metadata request at `version` for `topic` alone, allowing the broker
/// to create it (as the Java producer asks), into `out`, and returns its length.
pub(super) fn metadata(
    out: &mut [u8],
    header: &RequestHeader<'_>,
    topic: &str,
    version: i16,
) -> Result<usize, EncodeError> {
    let mut o = start(out, ApiKey::Metadata, header, version)?;
    let flexible = version >= 9;
    if flexible {
        o.bytes(&[2]); // one topic (compact: N + 1)
    } else {
        o.bytes(&1i32.to_be_bytes());
    }
    if version >= 10 {
        // No topic id: the topic is named.
        o.bytes(&[0; 16]);
    }
    if flexible {
        o.compact(topic);
        o.bytes(&[0]); // the topic's tagged fields: none
    } else {
        o.string(Some(topic));
    }
    if version >= 4 {
        // allow_auto_topic_creation (implied before v4).
        o.bytes(&[1]);
    }
    if (8..=10).contains(&version) {
        // include_cluster_authorized_operations
        o.bytes(&[0]);
    }
    if version >= 8 {
        // include_topic_authorized_operations
        o.bytes(&[0]);
    }
    if flexible {
        o.bytes(&[0]); // no tagged fields
    }
    o.finish()
}

/// Checks `version` of `api`, leaves room for the frame's size and writes the request header
/// (v1, or v2 in flexible versions: with no tagged fields; the client id stays a
/// `NULLABLE_STRING` in v2).
pub(super) fn start<'o>(
    out: &'o mut [u8],
    api: ApiKey,
    header: &RequestHeader<'_>,
    version: i16,
) -> Result<Out<'o>, EncodeError> {
    if !api.supported().is_some_and(|r| r.contains(version)) {
        return Err(EncodeError::UnsupportedVersion {
            api: api.key(),
            version,
        });
    }
    let mut o = Out { frame: out, len: 4 };
    o.bytes(&api.key().to_be_bytes());
    o.bytes(&version.to_be_bytes());
    o.bytes(&header.correlation_id.to_be_bytes());
    o.string(header.client_id);
    if request_header_version(api, version) >= 2 {
        o.bytes(&[0]);
    }
    Ok(o)
}

/// A frame being written: each piece is stored after the previous one if it fits, and counted
/// either way; [`finish`](Self::finish) then checks once that the whole frame fitted (instead
/// of an error path after every field, each of which cost flash).
pub(super) struct Out<'o> {
    frame: &'o mut [u8],
    /// Bytes of the frame so far, the 4-byte size included.
    len: usize,
}

impl Out<'_> {
    /// Bytes of the frame so far, the 4-byte size included: where the next piece goes.
    pub(super) fn position(&self) -> usize {
        self.len
    }

    pub(super) fn bytes(&mut self, piece: &[u8]) {
        let end = self.len.saturating_add(piece.len());
        if let Some(to) = self.frame.get_mut(self.len..end) {
            to.copy_from_slice(piece);
        }
        self.len = end;
    }

    /// A `NULLABLE_STRING` (`INT16` length; -1 for null). One longer than an `INT16` says
    /// (no client id or topic name is) makes the frame fail as too long.
    pub(super) fn string(&mut self, s: Option<&str>) {
        let len = match s.map(|s| i16::try_from(s.len())) {
            None => -1,
            Some(Ok(len)) => len,
            Some(Err(_)) => {
                self.len = usize::MAX;
                return;
            }
        };
        self.bytes(&len.to_be_bytes());
        self.bytes(s.unwrap_or_default().as_bytes());
    }

    /// A `COMPACT_STRING` (`UNSIGNED_VARINT` length + 1).
    pub(super) fn compact(&mut self, s: &str) {
        self.uvarint(u32::try_from(s.len()).unwrap_or(u32::MAX - 1) + 1);
        self.bytes(s.as_bytes());
    }

    /// An `UNSIGNED_VARINT`.
    pub(super) fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.bytes(&[(v as u8) | 0x80]);
            v >>= 7;
        }
        self.bytes(&[v as u8]);
    }

    /// An array's length: `INT32`, or `UNSIGNED_VARINT` N + 1 in flexible versions.
    pub(super) fn array_len(&mut self, n: usize, flexible: bool) {
        if flexible {
            self.uvarint(u32::try_from(n).unwrap_or(u32::MAX - 1) + 1);
        } else {
            self.bytes(&i32::try_from(n).unwrap_or(i32::MAX).to_be_bytes());
        }
    }

    /// Fills in the frame's size: the frame's length, or why it does not fit.
    fn finish(self) -> Result<usize, EncodeError> {
        self.finish_with(0)
    }

    /// [`finish`](Self::finish) for a frame whose last `extra` bytes go on the wire from
    /// elsewhere (a Produce request's batches, from their buffers): the size counts them, the
    /// length returned does not.
    pub(super) fn finish_with(self, extra: usize) -> Result<usize, EncodeError> {
        let available = self.frame.len();
        if self.len == usize::MAX {
            return Err(EncodeError::TooLong {
                what: "string",
                len: usize::MAX,
                max: i16::MAX as usize,
            });
        }
        let body = (self.len - 4).saturating_add(extra);
        let size = i32::try_from(body).map_err(|_| EncodeError::TooLong {
            what: "frame",
            len: body,
            max: i32::MAX as usize,
        })?;
        match self.frame.first_chunk_mut::<4>() {
            Some(at) if self.len <= available => {
                *at = size.to_be_bytes();
                Ok(self.len)
            }
            _ => Err(EncodeError::BufferTooSmall {
                needed: self.len,
                available,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        ApiVersionsRequest, Array, Encode, MetadataRequest, MetadataRequestTopic, Request,
    };

    fn header() -> RequestHeader<'static> {
        RequestHeader::new(0x0102_0304, Some("footprint"))
    }

    #[test]
    fn api_versions_is_the_generated_encoding_at_every_version() {
        for version in 0..=4 {
            let request = ApiVersionsRequest {
                client_software_name: SOFTWARE_NAME,
                client_software_version: SOFTWARE_VERSION,
                ..Default::default()
            };
            let (mut ours, mut theirs) = ([0u8; 128], [0u8; 128]);
            let n = api_versions(&mut ours, &header(), version).unwrap();
            let m = request
                .encode_request(&header(), &mut theirs, version)
                .unwrap();
            assert_eq!(ours[..n], theirs[..m], "v{version}");
        }
    }

    #[test]
    fn metadata_is_the_generated_encoding_at_every_version() {
        for version in 1..=12 {
            let topics = [MetadataRequestTopic {
                name: Some("sensor-readings"),
                ..Default::default()
            }];
            let request = MetadataRequest {
                topics: Some(Array::from(&topics)),
                allow_auto_topic_creation: true,
                ..Default::default()
            };
            let (mut ours, mut theirs) = ([0u8; 128], [0u8; 128]);
            let n = metadata(&mut ours, &header(), "sensor-readings", version).unwrap();
            let m = request
                .encode_request(&header(), &mut theirs, version)
                .unwrap();
            assert_eq!(ours[..n], theirs[..m], "v{version}");
        }
    }

    #[test]
    fn an_unsupported_version_or_a_short_buffer_is_an_error() {
        let mut out = [0u8; 128];
        assert!(matches!(
            metadata(&mut out, &header(), "t", 13),
            Err(EncodeError::UnsupportedVersion {
                api: 3,
                version: 13
            })
        ));
        assert!(metadata(&mut out[..20], &header(), "t", 12).is_err());
        assert!(api_versions(&mut out[..8], &header(), 3).is_err());
    }

    #[test]
    fn the_header_is_the_generated_encoding() {
        for (api, version) in [
            (ApiKey::Produce, 3),
            (ApiKey::Produce, 9),
            (ApiKey::Metadata, 8),
            (ApiKey::Metadata, 12),
        ] {
            for client_id in [None, Some(""), Some("a-client")] {
                let header = RequestHeader {
                    request_api_key: api.key(),
                    request_api_version: version,
                    ..RequestHeader::new(-7, client_id)
                };
                let (mut ours, mut theirs) = ([0u8; 64], [0u8; 64]);
                let n = start(&mut ours, api, &header, version)
                    .unwrap()
                    .finish()
                    .unwrap();
                assert_eq!(ours[..4], ((n - 4) as i32).to_be_bytes());
                let mut w = crate::wire::Writer::new(&mut theirs);
                header
                    .encode(&mut w, request_header_version(api, version))
                    .unwrap();
                let m = w.position();
                assert_eq!(ours[4..n], theirs[..m], "{api:?} v{version} {client_id:?}");
            }
        }
    }
}
