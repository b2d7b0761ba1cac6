//! What the protocol fuzz targets share: the input layout, the decode → encode → decode
//! checks, and a walk over every lazy array, tagged section and records field of a decoded
//! message.
//!
//! Input: `selector frame…`. The selector's top bit picks the direction (0 request, 1 response),
//! its low seven bits the version (`min + bits % count`, over the versions the crate speaks);
//! `frame` is what follows a frame's 4-byte size: the header, then the body. That is exactly a
//! fixture file without its size prefix, so `fuzz/seed-from-fixtures` only prepends one byte.
//!
//! Checks, for whatever decodes:
//! - it encodes again at the same version, to exactly `encoded_len` bytes, and a buffer one
//!   byte short is `BufferTooSmall` naming that size;
//! - that encoding decodes to an equal value, which encodes to identical bytes (the input itself
//!   may differ: non-minimal varints, tagged fields written at their default);
//! - framing the value (`encode_request` / `encode_response`) gives the size, then the header
//!   and body bytes above, and `decode_request` / `decode_response` reads it back;
//! - every array yields exactly `len()` elements, every tagged section `len()` fields, and every
//!   records field is walked with `RecordBatches` down to each record's headers (Fetch's with
//!   `RecordSets` too, legacy messages included).
#![allow(dead_code)]

use embedded_kafka::protocol::{
    ApiKey, Array, ArrayItem, Decode, Encode, NegotiatedVersions, Request, RequestHeader, Response,
    ResponseHeader, decode_request_header, messages::*, request_header_version,
    response_correlation_id,
};
use embedded_kafka::record::{LegacyMessage, RecordBatches, RecordSet, RecordSets};
use embedded_kafka::wire::EncodeError;
use embedded_kafka::wire::decode::TaggedFields;
use std::fmt::Debug;

/// Direction and version from the selector byte, and the frame after it.
pub fn split(data: &[u8], api: ApiKey) -> Option<(bool, i16, &[u8])> {
    let (&sel, frame) = data.split_first()?;
    let range = api.supported()?;
    Some((sel & 0x80 != 0, pick(sel, range.min, range.max), frame))
}

/// `min + (sel & 0x7f) % count`.
pub fn pick(sel: u8, min: i16, max: i16) -> i16 {
    let count = i32::from(max) - i32::from(min) + 1;
    min + (i32::from(sel & 0x7f) % count) as i16
}

/// Buffers for one re-encoding check: the encodings must outlive the values decoded from them,
/// so the caller owns them.
#[derive(Default)]
pub struct Bufs {
    first: Vec<u8>,
    second: Vec<u8>,
}

/// Every buffer one input needs (kept by the caller for as long as the input).
#[derive(Default)]
pub struct Scratch {
    parts: [Bufs; 5],
    frame: Vec<u8>,
}

/// Encodes `value` at `version` into `buf`, checking `encoded_len` and the short-buffer error.
fn encode_checked<T: Encode + Debug>(value: &T, version: i16, buf: &mut Vec<u8>) {
    let len = value.encoded_len(version);
    buf.clear();
    buf.resize(len, 0xa5);
    let n = value.encode_to_slice(buf, version).unwrap_or_else(|e| {
        panic!("decoded value does not encode at v{version}: {e:?}\n{value:?}")
    });
    assert_eq!(n, len, "encoded_len disagrees with encode at v{version}");
    if let Some(short) = len.checked_sub(1) {
        assert_eq!(
            value.encode_to_slice(&mut buf[..short], version),
            Err(EncodeError::BufferTooSmall {
                needed: len,
                available: short
            }),
        );
    }
}

/// The stability check for one value decoded at `version` (`exact`: the decoder must take the
/// whole input, as a message body does; otherwise, as for a header, it may leave bytes over).
/// Returns the first re-encoding.
pub fn round_trip<'a, T>(value: &T, version: i16, exact: bool, bufs: &'a mut Bufs) -> &'a [u8]
where
    T: Encode + Decode<'a> + PartialEq + Debug + Walk,
{
    value.walk();
    encode_checked(value, version, &mut bufs.first);
    let first: &'a [u8] = &bufs.first;
    let again = if exact {
        T::decode_exact(first, version)
    } else {
        T::decode(first, version).map(|(rest, v)| {
            assert!(
                rest.is_empty(),
                "re-encoding left {} bytes over",
                rest.len()
            );
            v
        })
    }
    .unwrap_or_else(|e| panic!("re-encoding does not decode at v{version}: {e:?}\n{value:?}"));
    assert_eq!(
        &again, value,
        "decode → encode → decode changed the value at v{version}"
    );
    again.walk();
    encode_checked(&again, version, &mut bufs.second);
    assert_eq!(
        first,
        &bufs.second[..],
        "second encoding differs from the first at v{version}"
    );
    first
}

/// Writes the frame with `encode`, checking the short-buffer error first, and that it is the
/// size, then `header`, then `body`; returns it without its size prefix.
fn framed<'a>(
    header: &[u8],
    body: &[u8],
    out: &'a mut Vec<u8>,
    encode: impl Fn(&mut [u8]) -> Result<usize, EncodeError>,
) -> &'a [u8] {
    let n = 4 + header.len() + body.len();
    out.clear();
    out.resize(n, 0xa5);
    assert_eq!(
        encode(&mut out[..n - 1]),
        Err(EncodeError::BufferTooSmall {
            needed: n,
            available: n - 1
        })
    );
    assert_eq!(encode(out), Ok(n));
    assert_eq!(&out[..4], &((n - 4) as i32).to_be_bytes());
    assert_eq!(&out[4..4 + header.len()], header);
    assert_eq!(&out[4 + header.len()..], body);
    &out[4..]
}

/// One request frame of `R` read at `version` from the selector, and through `decode_request`
/// (which takes the version from the header bytes).
pub fn request<'a, R>(frame: &'a [u8], version: i16, scratch: &'a mut Scratch)
where
    R: Request + Decode<'a> + PartialEq + Debug + Walk + Copy,
{
    let [peek, h_at, b_at, h, b] = &mut scratch.parts;

    // The header as a broker reads it first, whatever API it names.
    if let Ok((_, header)) = decode_request_header(frame) {
        let api = ApiKey::from_key(header.request_api_key);
        let hv = request_header_version(api, header.request_api_version);
        round_trip(&header, hv, false, peek);
    }

    // At the selected version, whatever the header's own version field says.
    let hv = R::request_header_version(version);
    let at_version = RequestHeader::decode(frame, hv)
        .and_then(|(body, header)| Ok((header, R::decode_exact(body, version)?)));
    if let Ok((header, body)) = &at_version {
        round_trip(header, hv, false, h_at);
        round_trip(body, version, true, b_at);
    }

    // As a broker reads it: key and version from the header.
    let Ok((header, body)) = R::decode_request(frame) else {
        return;
    };
    let v = header.request_api_version;
    assert_eq!(header.request_api_key, R::API_KEY.key());
    assert!(R::versions().contains(v));
    if let Ok(parts) = &at_version
        && v == version
    {
        assert_eq!(
            parts,
            &(header, body),
            "decode_request disagrees with the parts"
        );
    }
    let header_bytes = round_trip(&header, R::request_header_version(v), false, h);
    let body_bytes = round_trip(&body, v, true, b);
    let again = framed(header_bytes, body_bytes, &mut scratch.frame, |out| {
        body.encode_request(&header, out, v)
    });
    let decoded = R::decode_request(again).expect("an encoded request decodes");
    assert_eq!(decoded, (header, body));
}

/// One response frame of `R` read at `version`, as the client that sent the request would.
/// Returns the decoded body for API-specific checks.
pub fn response<'a, R>(frame: &'a [u8], version: i16, scratch: &'a mut Scratch) -> Option<R>
where
    R: Response<'a> + PartialEq + Debug + Walk + Copy,
{
    let [h, b, ..] = &mut scratch.parts;
    let correlation_id = response_correlation_id(frame);
    let (header, body) = R::decode_response(frame, version).ok()?;
    assert_eq!(correlation_id, Ok(header.correlation_id));
    let header_bytes = round_trip(&header, R::response_header_version(version), false, h);
    let body_bytes = round_trip(&body, version, true, b);
    let again = framed(header_bytes, body_bytes, &mut scratch.frame, |out| {
        body.encode_response(&header, out, version)
    });
    let decoded = R::decode_response(again, version).expect("an encoded response decodes");
    assert_eq!(decoded, (header, body));
    Some(body)
}

/// A whole API target: requests of `$req`, responses `$resp`, with `$extra(body, version,
/// frame)` run on each decoded response.
#[macro_export]
macro_rules! api_target {
    ($req:ident, $resp:ident, $api:expr) => {
        $crate::api_target!($req, $resp, $api, |_: &$resp<'_>, _: i16, _: &[u8]| {});
    };
    ($req:ident, $resp:ident, $api:expr, $extra:expr) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            let Some((is_response, version, frame)) = common::split(data, $api) else {
                return;
            };
            let mut scratch = common::Scratch::default();
            if is_response {
                if let Some(body) = common::response::<$resp<'_>>(frame, version, &mut scratch) {
                    let extra = $extra;
                    extra(&body, version, frame);
                }
            } else {
                common::request::<$req<'_>>(frame, version, &mut scratch);
            }
        });
    };
}

// ---------------------------------------------------------------------------------------------
// Walking decoded values

/// Visits every lazy part of a decoded value.
pub trait Walk {
    /// Walks every array, tagged section and records field, checking their counts.
    fn walk(&self);
}

impl Walk for i32 {
    fn walk(&self) {}
}

impl Walk for &str {
    fn walk(&self) {}
}

impl<T: Walk> Walk for Option<T> {
    fn walk(&self) {
        if let Some(v) = self {
            v.walk();
        }
    }
}

impl<'a, T: ArrayItem<'a> + Walk> Walk for Array<'a, T> {
    fn walk(&self) {
        let mut n = 0;
        for item in self.iter() {
            item.walk();
            n += 1;
        }
        assert_eq!(
            n,
            self.len(),
            "an array yields a different number of elements than len()"
        );
        assert_eq!(self.iter().len(), self.len());
        assert!(self.get(self.len()).is_none());
    }
}

impl Walk for TaggedFields<'_> {
    fn walk(&self) {
        assert_eq!(
            self.iter().count(),
            self.len(),
            "a tagged section yields fewer fields"
        );
        let mut previous = None;
        for (tag, _) in self.iter() {
            assert!(previous < Some(tag), "tags out of order after decoding");
            previous = Some(tag);
        }
    }
}

/// The records field of a Produce request: every batch, record and header.
pub fn walk_records(records: &[u8]) {
    let mut batches = RecordBatches::new(records);
    for batch in batches.by_ref() {
        let Ok(batch) = batch else { break };
        let _ = batch.verify_crc();
        let _ = (
            batch.last_offset(),
            batch.last_sequence(),
            batch.attributes().compression(),
        );
        let Ok(records) = batch.records() else {
            continue;
        };
        for record in records {
            let Ok(record) = record else { break };
            assert_eq!(record.headers.iter().count(), record.headers.len());
        }
    }
    let _ = (batches.partial(), batches.remainder());
}

/// `Walk` for generated structs: the listed fields, then the unknown tagged fields.
macro_rules! walk_fields {
    ($($ty:ident { $($field:ident),* }),* $(,)?) => {$(
        impl Walk for $ty<'_> {
            fn walk(&self) {
                $(self.$field.walk();)*
                self.unknown_tagged_fields.walk();
            }
        }
    )*};
}

walk_fields! {
    RequestHeader {},
    ResponseHeader {},
    TopicProduceData { partition_data },
    ProduceResponse { responses, node_endpoints },
    TopicProduceResponse { partition_responses },
    PartitionProduceResponse { record_errors, current_leader },
    BatchIndexAndErrorMessage {},
    LeaderIdAndEpoch {},
    NodeEndpoint {},
    MetadataRequest { topics },
    MetadataRequestTopic {},
    MetadataResponse { brokers, topics },
    MetadataResponseBroker {},
    MetadataResponseTopic { partitions },
    MetadataResponsePartition { replica_nodes, isr_nodes, offline_replicas },
    ApiVersionsRequest {},
    ApiVersionsResponse { api_keys, supported_features, finalized_features },
    ApiVersion {},
    SupportedFeatureKey {},
    FinalizedFeatureKey {},
    InitProducerIdRequest {},
    InitProducerIdResponse {},
    SaslAuthenticateRequest {},
    SaslAuthenticateResponse {},
    FetchRequest { replica_state, topics, forgotten_topics_data },
    ReplicaState {},
    FetchTopic { partitions },
    FetchPartition {},
    ForgottenTopic { partitions },
    FetchResponse { responses, node_endpoints },
    FetchableTopicResponse { partitions },
    EpochEndOffset {},
    FetchLeaderIdAndEpoch {},
    SnapshotId {},
    AbortedTransaction {},
    FetchNodeEndpoint {},
}

impl Walk for PartitionData<'_> {
    fn walk(&self) {
        self.diverging_epoch.walk();
        self.current_leader.walk();
        self.snapshot_id.walk();
        self.aborted_transactions.walk();
        if let Some(records) = self.records {
            walk_records(records);
            walk_record_sets(records);
        }
        self.unknown_tagged_fields.walk();
    }
}

/// The records field of a Fetch response, whatever its formats: every entry (record batch or
/// legacy message), and `batches()` agreeing with it up to the first legacy message.
pub fn walk_record_sets(records: &[u8]) {
    let mut sets = RecordSets::new(records);
    let mut batches = RecordBatches::new(records);
    let mut legacy_seen = false;
    for entry in sets.by_ref() {
        let Ok(entry) = entry else { break };
        let _ = entry.last_offset();
        match entry {
            RecordSet::Batch(b) if !legacy_seen => {
                assert_eq!(
                    batches.next(),
                    Some(Ok(b)),
                    "RecordBatches reads the same batch"
                );
            }
            RecordSet::Batch(_) => {}
            RecordSet::Legacy(m) => {
                check_legacy(&m);
                legacy_seen = true;
            }
        }
    }
    let _ = (sets.partial(), sets.remainder());
}

/// A legacy message accepted by the reader: its fields laid out again give its bytes (all
/// but the CRC, which the reader does not check under the fuzzer).
pub fn check_legacy(m: &LegacyMessage<'_>) {
    let _ = (
        m.verify_crc(),
        m.compression(),
        m.is_compressed(),
        m.timestamp_type(),
    );
    let mut again = Vec::new();
    again.extend_from_slice(&m.offset().to_be_bytes());
    again.extend_from_slice(&m.message_size().to_be_bytes());
    again.extend_from_slice(&m.crc().to_be_bytes());
    again.extend_from_slice(&[m.magic() as u8, m.attributes() as u8]);
    assert_eq!(m.timestamp().is_some(), m.magic() == 1);
    if let Some(t) = m.timestamp() {
        again.extend_from_slice(&t.to_be_bytes());
    }
    for field in [m.key(), m.value()] {
        match field {
            None => again.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                again.extend_from_slice(&(b.len() as i32).to_be_bytes());
                again.extend_from_slice(b);
            }
        }
    }
    assert_eq!(
        again,
        m.as_bytes(),
        "a legacy message laid out from its fields"
    );
}

// SaslHandshake is never flexible: no tagged fields.
impl Walk for SaslHandshakeRequest<'_> {
    fn walk(&self) {}
}

impl Walk for SaslHandshakeResponse<'_> {
    fn walk(&self) {
        self.mechanisms.walk();
    }
}

impl Walk for ProduceRequest<'_> {
    fn walk(&self) {
        self.topic_data.walk();
        self.unknown_tagged_fields.walk();
    }
}

impl Walk for PartitionProduceData<'_> {
    fn walk(&self) {
        if let Some(records) = self.records {
            walk_records(records);
        }
        self.unknown_tagged_fields.walk();
    }
}

/// What a client asks of an ApiVersions response: versions per API, negotiation.
pub fn api_versions_extra(body: &ApiVersionsResponse<'_>) {
    for api in ApiKey::ALL {
        if let Some(v) = body.negotiate(api) {
            assert!(api.supported().is_some_and(|r| r.contains(v)));
        }
    }
    // Duplicate keys: `negotiate` takes the first, `NegotiatedVersions` the last (as Java).
    let ranges = body
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version));
    if let Ok(n) = NegotiatedVersions::from_broker(ranges, &[]) {
        for (api, v) in n.iter() {
            assert!(v.is_none_or(|v| api.supported().is_some_and(|r| r.contains(v))));
        }
    }
}
