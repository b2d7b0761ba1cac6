//! The bootstrap requests the producer writes by hand, as it writes Produce: ApiVersions and a
//! Metadata request for one topic. The generated encoders handle every field of every version
//! (any number of topics, topic ids, null topic lists, unknown tagged fields) and size the
//! frame before writing it; the producer sends one shape of each, and writing that shape
//! straight into TX takes a fraction of the flash. The tests check them byte for byte against
//! the generated encoders at every version.

use crate::protocol::{ApiKey, RequestHeader, request_header_version};
use crate::wire::{EncodeError, Gap, Writer};

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
    let (mut w, size) = start(out, ApiKey::ApiVersions, header, version)?;
    if version >= 3 {
        w.put_compact_string(SOFTWARE_NAME)?;
        w.put_compact_string(SOFTWARE_VERSION)?;
        w.put_empty_tagged_fields()?;
    }
    finish(w, size)
}

/// Writes the frame of a Metadata request at `version` for `topic` alone, allowing the broker
/// to create it (as the Java producer asks), into `out`, and returns its length.
pub(super) fn metadata(
    out: &mut [u8],
    header: &RequestHeader<'_>,
    topic: &str,
    version: i16,
) -> Result<usize, EncodeError> {
    let (mut w, size) = start(out, ApiKey::Metadata, header, version)?;
    let flexible = version >= 9;
    if flexible {
        w.put_compact_array_len(1)?;
    } else {
        w.put_array_len(1)?;
    }
    if version >= 10 {
        // No topic id: the topic is named.
        w.put_uuid(&[0; 16])?;
    }
    if flexible {
        w.put_compact_string(topic)?;
        w.put_empty_tagged_fields()?;
    } else {
        w.put_string(topic)?;
    }
    if version >= 4 {
        // allow_auto_topic_creation (implied before v4).
        w.put_bool(true)?;
    }
    if (8..=10).contains(&version) {
        // include_cluster_authorized_operations
        w.put_bool(false)?;
    }
    if version >= 8 {
        // include_topic_authorized_operations
        w.put_bool(false)?;
    }
    if flexible {
        w.put_empty_tagged_fields()?;
    }
    finish(w, size)
}

/// Checks `version` of `api`, reserves the frame's size and writes the request header.
fn start<'o>(
    out: &'o mut [u8],
    api: ApiKey,
    header: &RequestHeader<'_>,
    version: i16,
) -> Result<(Writer<'o>, Gap<4>), EncodeError> {
    if !api.supported().is_some_and(|r| r.contains(version)) {
        return Err(EncodeError::UnsupportedVersion {
            api: api.key(),
            version,
        });
    }
    let mut w = Writer::new(out);
    let size = w.reserve::<4>()?;
    put_header(
        &mut w,
        api,
        version,
        header.correlation_id,
        header.client_id,
    )?;
    Ok((w, size))
}

/// Writes a request header (v1, or v2 in flexible versions: with no tagged fields) for `api`
/// at `version` (the client id stays a `NULLABLE_STRING` in v2).
pub(super) fn put_header(
    w: &mut Writer<'_>,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<(), EncodeError> {
    w.put_i16(api.key())?;
    w.put_i16(version)?;
    w.put_i32(correlation_id)?;
    w.put_nullable_string(client_id)?;
    if request_header_version(api, version) >= 2 {
        w.put_empty_tagged_fields()?;
    }
    Ok(())
}

/// Fills in the frame's size; the frame's length.
fn finish(mut w: Writer<'_>, size: Gap<4>) -> Result<usize, EncodeError> {
    let body = w.position() - size.end();
    let body = i32::try_from(body).map_err(|_| EncodeError::TooLong {
        what: "frame",
        len: body,
        max: i32::MAX as usize,
    })?;
    w.patch_i32(size, body)?;
    Ok(w.position())
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
                let mut w = Writer::new(&mut ours);
                put_header(&mut w, api, version, -7, client_id).unwrap();
                let n = w.position();
                let mut w = Writer::new(&mut theirs);
                header
                    .encode(&mut w, request_header_version(api, version))
                    .unwrap();
                let m = w.position();
                assert_eq!(ours[..n], theirs[..m], "{api:?} v{version} {client_id:?}");
            }
        }
    }
}
