//! The captured broker exchanges in `tests/fixtures/` (real frames between kafka-python and the
//! Tansu broker, listed in `INDEX.tsv`), decoded for real.
//!
//! Every request frame decodes with our decoder (`decode_request_header`, then
//! `Request::decode_request`), every response frame with `Request::decode_response` at the
//! request's version (whose response header version is v0 for ApiVersions, whatever the
//! version); each re-encodes to the captured frame byte for byte. kafka-protocol decodes the
//! same frames (header and body), agrees with us field by field (`same_<struct>`, generated
//! from the specs) and re-encodes them byte for byte too.
//!
//! Then what the frames mean, checked against the INDEX's descriptions and the README's notes
//! on Tansu: acks, record batches (CRCs, codecs, record counts, keys, values, headers, producer
//! ids and sequences; the batch headers compared with kafka-protocol's reading of them, and the
//! records of uncompressed batches too), error codes (45, 46, 3, 33, 34, -1), the Metadata
//! topics and partitions (4 for an auto-created topic, each with a leader), the ApiVersions
//! ranges, the SASL exchanges.
//!
//! Framing alone (size prefixes, headers against the INDEX) is `fixtures_index.rs`'s business.

mod common;
#[macro_use]
mod support;
#[path = "generated/kafka_protocol.rs"]
mod kp_generated;
#[path = "support/kafka_protocol.rs"]
mod kp_support;

use bytes::{Buf, Bytes};
use common::fixtures::{self, Fixture};
use common::hex;
use embedded_kafka::protocol::messages::*;
use embedded_kafka::protocol::{ApiKey, Decode, Request, Response, decode_request_header};
use embedded_kafka::record::{Compression, RecordBatch, RecordBatches, RecordSet};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use kafka_protocol::records::RecordBatchDecoder;
use kp_support as k;
use proptest::test_runner::TestCaseError;
use std::fmt::Debug;

/// A generated comparison of one of our values with kafka-protocol's.
type Same<T, K> = fn(&T, &K, i16, &str) -> Result<(), TestCaseError>;

/// The fixtures of one API, with their frames.
fn exchanges(api: ApiKey) -> Vec<(Fixture, Vec<u8>, Option<Vec<u8>>)> {
    let all: Vec<_> = fixtures::all()
        .into_iter()
        .filter(|f| f.api_key == api.key())
        .map(|f| {
            let request = f.request_frame();
            let response = f.response_frame();
            (f, request, response)
        })
        .collect();
    assert!(!all.is_empty(), "no {api} fixtures");
    all
}

/// Decodes a request frame (size prefix included) with both crates; both must re-encode it byte
/// for byte and agree field by field. Returns ours.
fn request<'a, T, K>(fixture: &Fixture, frame: &'a [u8], same: Same<T, K>) -> T
where
    T: Request + Decode<'a> + Debug,
    K: Decodable + Encodable + Debug,
{
    let name = fixture.name();
    let version = fixture.api_version;
    let body = &frame[4..];

    let (_, peeked) = decode_request_header(body).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (header, ours) = T::decode_request(body).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(peeked, header, "{name}");
    assert_eq!(header.request_api_key, fixture.api_key, "{name}");
    assert_eq!(header.request_api_version, version, "{name}");
    assert_eq!(header.correlation_id, fixture.correlation_id, "{name}");
    let mut out = vec![0u8; frame.len()];
    let n = ours
        .encode_request(&header, &mut out, version)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(hex(&out[..n]), hex(frame), "{name}: our re-encoding");

    let header_version = T::request_header_version(version);
    let mut buf = Bytes::copy_from_slice(body);
    let their_header = kafka_protocol::protocol::decode_request_header_from_buffer(&mut buf)
        .unwrap_or_else(|e| panic!("{name}: kafka-protocol: {e:#}"));
    let theirs =
        K::decode(&mut buf, version).unwrap_or_else(|e| panic!("{name}: kafka-protocol: {e:#}"));
    assert_eq!(buf.remaining(), 0, "{name}: kafka-protocol left bytes");
    kp_generated::same_request_header(&header, &their_header, header_version, "RequestHeader")
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    same(&ours, &theirs, version, T::API_KEY.name()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut again = k::encode(&their_header, header_version).unwrap();
    again.extend(k::encode(&theirs, version).unwrap());
    assert_eq!(
        hex(&again),
        hex(body),
        "{name}: kafka-protocol's re-encoding"
    );
    ours
}

/// The tagged fields that end Tansu's ApiVersions v3 and v4 responses: all four known ones, at
/// their defaults. Kafka writes a tagged field only when it differs from its default, and so
/// do both crates; decoding does not keep whether a default came from the wire, so their
/// re-encodings leave these out.
#[rustfmt::skip]
const TANSU_DEFAULT_TAGS: &[u8] = &[
    0x04,                   // four tagged fields
    0x00, 0x01, 0x01,       // tag 0 SupportedFeatures, 1 byte: an empty compact array
    0x01, 0x08,             // tag 1 FinalizedFeaturesEpoch, 8 bytes: -1
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x02, 0x01, 0x01,       // tag 2 FinalizedFeatures, 1 byte: an empty compact array
    0x03, 0x01, 0x00,       // tag 3 ZkMigrationReady, 1 byte: false
];

/// The tagged field that ends Tansu's Fetch v16+ responses: NodeEndpoints (tag 0), an empty
/// array, its default (so neither crate writes it back).
#[rustfmt::skip]
const TANSU_FETCH_DEFAULT_TAGS: &[u8] = &[
    0x01,                   // one tagged field
    0x00, 0x01, 0x01,       // tag 0 NodeEndpoints, 1 byte: an empty compact array
];

/// What re-encoding a decoded response frame gives: the frame itself, but for Tansu's
/// ApiVersions v3+ and Fetch v16+ responses, without the default-valued tagged fields.
fn re_encoded(fixture: &Fixture, frame: &[u8]) -> Vec<u8> {
    let defaults = match (ApiKey::from_key(fixture.api_key), fixture.api_version) {
        (ApiKey::ApiVersions, 3..) => TANSU_DEFAULT_TAGS,
        (ApiKey::Fetch, 16..) => TANSU_FETCH_DEFAULT_TAGS,
        _ => return frame.to_vec(),
    };
    let rest = frame
        .strip_suffix(defaults)
        .unwrap_or_else(|| panic!("{}: Tansu's default tagged fields", fixture.name()));
    let mut out = rest.to_vec();
    out.push(0); // no tagged fields
    let size = i32::try_from(out.len() - 4).unwrap();
    out[..4].copy_from_slice(&size.to_be_bytes());
    out
}

/// Decodes the response frame (size prefix included) to the request of `fixture` with both
/// crates, as [`request`] does (re-encoding gives [`re_encoded`]). Returns ours.
fn response<'a, R, T, K>(fixture: &Fixture, frame: &'a [u8], same: Same<T, K>) -> T
where
    R: Request<Response<'a> = T>,
    T: Response<'a> + Debug,
    K: Decodable + Encodable + HeaderVersion + Debug,
{
    let name = fixture.name();
    let version = fixture.api_version;
    let body = &frame[4..];

    let (header, ours) =
        R::decode_response(body, version).unwrap_or_else(|e| panic!("{name} response: {e}"));
    assert_eq!(header.correlation_id, fixture.correlation_id, "{name}");
    let expected = re_encoded(fixture, frame);
    let mut out = vec![0u8; expected.len()];
    let n = ours
        .encode_response(&header, &mut out, version)
        .unwrap_or_else(|e| panic!("{name} response: {e}"));
    assert_eq!(
        hex(&out[..n]),
        hex(&expected),
        "{name} response: our re-encoding"
    );

    let header_version = R::response_header_version(version);
    assert_eq!(
        K::header_version(version),
        header_version,
        "{name}: the response header version"
    );
    if R::API_KEY == ApiKey::ApiVersions {
        assert_eq!(header_version, 0, "{name}");
    }
    let mut buf = Bytes::copy_from_slice(body);
    let their_header = kafka_protocol::messages::ResponseHeader::decode(&mut buf, header_version)
        .unwrap_or_else(|e| panic!("{name} response: kafka-protocol: {e:#}"));
    let theirs = K::decode(&mut buf, version)
        .unwrap_or_else(|e| panic!("{name} response: kafka-protocol: {e:#}"));
    assert_eq!(
        buf.remaining(),
        0,
        "{name} response: kafka-protocol left bytes"
    );
    kp_generated::same_response_header(&header, &their_header, header_version, "ResponseHeader")
        .unwrap_or_else(|e| panic!("{name} response: {e}"));
    same(&ours, &theirs, version, R::API_KEY.name())
        .unwrap_or_else(|e| panic!("{name} response: {e}"));
    let mut again = k::encode(&their_header, header_version).unwrap();
    again.extend(k::encode(&theirs, version).unwrap());
    assert_eq!(
        hex(&again),
        hex(&expected[4..]),
        "{name} response: kafka-protocol's re-encoding"
    );
    ours
}

// ---------------------------------------------------------------------------------------------
// Produce

/// The codec a fixture's description names, if any.
fn codec_in(what: &str) -> Compression {
    [
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ]
    .into_iter()
    .find(|(name, _)| what.contains(name))
    .map_or(Compression::None, |(_, c)| c)
}

/// The record count a fixture's description names, if it names one batch's.
fn records_in(what: &str) -> Option<i32> {
    [
        ("one record", 1),
        ("one keyed record", 1),
        ("one keyless record", 1),
        ("a keyed record", 1),
        ("two records", 2),
        ("three records", 3),
    ]
    .into_iter()
    .find(|(words, _)| what.contains(words))
    .map(|(_, n)| n)
}

/// The batches of one partition: valid CRCs, nothing left over, the same batch headers as
/// kafka-protocol reads, and for uncompressed batches the same records.
fn batches<'a>(name: &str, records: &'a [u8]) -> Vec<RecordBatch<'a>> {
    let mut iter = RecordBatches::new(records);
    let batches: Vec<_> = iter
        .by_ref()
        .map(|b| b.unwrap_or_else(|e| panic!("{name}: record batch: {e}")))
        .collect();
    assert_eq!(iter.partial(), None, "{name}: a partial batch");
    assert!(iter.remainder().is_empty(), "{name}");
    assert!(!batches.is_empty(), "{name}: no batch");

    let infos = RecordBatchDecoder::decode_batch_info(&mut Bytes::copy_from_slice(records))
        .unwrap_or_else(|e| panic!("{name}: kafka-protocol's batch headers: {e:#}"));
    assert_eq!(infos.len(), batches.len(), "{name}");
    for (batch, info) in batches.iter().zip(&infos) {
        batch.verify_crc().unwrap();
        let attributes = batch.attributes();
        assert_eq!(
            (
                batch.base_offset(),
                batch.partition_leader_epoch(),
                batch.base_timestamp(),
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence(),
                batch.record_count(),
                i32::from(attributes.compression().code()),
                attributes.is_transactional(),
                attributes.is_control(),
            ),
            (
                info.min_offset,
                info.partition_leader_epoch,
                info.min_timestamp,
                info.producer_id,
                info.producer_epoch,
                info.base_sequence,
                info.record_count,
                info.compression as i32,
                info.transactional,
                info.control,
            ),
            "{name}: batch header, ours and kafka-protocol's"
        );
        if attributes.compression() != Compression::None {
            assert!(batch.records().is_err(), "{name}: compressed records");
            continue;
        }
        let ours: Vec<_> = batch
            .records()
            .unwrap()
            .map(|r| r.unwrap_or_else(|e| panic!("{name}: record: {e}")))
            .collect();
        assert_eq!(ours.len(), batch.record_count() as usize, "{name}");
        let theirs = RecordBatchDecoder::decode(&mut Bytes::copy_from_slice(batch.as_bytes()))
            .unwrap_or_else(|e| panic!("{name}: kafka-protocol's records: {e:#}"));
        assert_eq!(theirs.records.len(), ours.len(), "{name}");
        for (o, t) in ours.iter().zip(&theirs.records) {
            let headers: Vec<(String, Option<Vec<u8>>)> = o
                .headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect();
            let their_headers: Vec<(String, Option<Vec<u8>>)> = t
                .headers
                .iter()
                .map(|(key, value)| (key.to_string(), value.as_ref().map(|v| v.to_vec())))
                .collect();
            assert_eq!(
                (o.offset, o.timestamp, o.key, o.value, headers),
                (
                    t.offset,
                    t.timestamp,
                    t.key.as_deref(),
                    t.value.as_deref(),
                    their_headers
                ),
                "{name}: record, ours and kafka-protocol's"
            );
        }
    }
    batches
}

#[test]
fn produce() {
    for (f, request_frame, response_frame) in exchanges(ApiKey::Produce) {
        let name = f.name();
        let request: ProduceRequest<'_> =
            request(&f, &request_frame, kp_generated::same_produce_request);

        let acks = if f.what.contains("acks=0") {
            0
        } else if f.what.contains("acks=1") {
            1
        } else {
            assert!(f.what.contains("acks=all"), "{name}: {}", f.what);
            -1
        };
        assert_eq!(request.acks, acks, "{name}");
        assert_eq!(request.transactional_id, None, "{name}");

        let mut all = Vec::new();
        for topic in request.topic_data.iter() {
            for partition in topic.partition_data.iter() {
                let records = partition.records.expect("records");
                for batch in batches(&name, records) {
                    assert_eq!(
                        batch.attributes().compression(),
                        codec_in(&f.what),
                        "{name}"
                    );
                    all.push(batch);
                }
            }
        }
        if let Some(n) = records_in(&f.what) {
            assert_eq!(all.len(), 1, "{name}: one batch");
            assert_eq!(all[0].record_count(), n, "{name}");
        }
        let idempotent = f.what.contains("idempoten") || f.what.contains("resent");
        for batch in &all {
            if idempotent {
                assert!(batch.producer_id() >= 0, "{name}");
                assert!(batch.producer_epoch() >= 0, "{name}");
                let first = if f.what.contains("sequence 5") { 5 } else { 0 };
                assert_eq!(batch.base_sequence(), first, "{name}");
                assert_eq!(
                    batch.last_sequence(),
                    first + batch.record_count() - 1,
                    "{name}"
                );
            } else {
                assert_eq!(
                    (batch.producer_id(), batch.base_sequence()),
                    (-1, -1),
                    "{name}"
                );
            }
        }
        let record = |i: usize| {
            all[0]
                .records()
                .expect("uncompressed")
                .nth(i)
                .unwrap()
                .unwrap()
        };
        if f.what.contains("null value") {
            assert_eq!(record(0).value, None, "{name}");
            assert!(record(0).key.is_some(), "{name}");
        }
        if f.what.contains("one keyless record") {
            assert_eq!(record(0).key, None, "{name}");
        }
        if f.what.contains("three records (keyed, keyless, header)") {
            assert!(record(0).key.is_some(), "{name}");
            assert_eq!(record(1).key, None, "{name}");
            assert_eq!(record(2).headers.len(), 1, "{name}");
        }
        if f.what.contains("two headers (one with an empty value)") {
            let headers: Vec<_> = record(0).headers.iter().collect();
            assert_eq!(headers.len(), 2, "{name}");
            assert!(headers[0].value.is_some_and(|v| !v.is_empty()), "{name}");
            assert_eq!(headers[1].value, Some(&b""[..]), "{name}");
        }

        // Tansu answers acks=0 too (see the README); every Produce fixture has a response.
        let frame = response_frame.unwrap_or_else(|| panic!("{name}: no response"));
        let response: ProduceResponse<'_> =
            response::<ProduceRequest<'_>, _, _>(&f, &frame, kp_generated::same_produce_response);
        let expected_error = if f.what.contains("resent") {
            46 // DUPLICATE_SEQUENCE_NUMBER
        } else if f.what.contains("sequence 5 after") {
            45 // OUT_OF_ORDER_SEQUENCE_NUMBER
        } else {
            0
        };
        // The response answers every partition of the request, in order.
        let asked: Vec<(&str, i32)> = request
            .topic_data
            .iter()
            .flat_map(|t| t.partition_data.iter().map(move |p| (t.name, p.index)))
            .collect();
        let answered: Vec<(&str, i32)> = response
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(move |p| (t.name, p.index)))
            .collect();
        assert_eq!(answered, asked, "{name}");
        for topic in response.responses.iter() {
            for p in topic.partition_responses.iter() {
                assert_eq!(p.error_code, expected_error, "{name}");
                if expected_error == 0 {
                    assert!(p.base_offset >= 0, "{name}");
                } else {
                    assert_eq!(p.base_offset, -1, "{name}");
                }
                assert_eq!(response.partition(topic.name, p.index), Some(p), "{name}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata

/// Tansu's node id and cluster id (README).
const NODE_ID: i32 = 111;
const CLUSTER_ID: &str = "tansu_cluster";

#[test]
fn metadata() {
    let mut auto_created = 0;
    for (f, request_frame, response_frame) in exchanges(ApiKey::Metadata) {
        let name = f.name();
        let v = f.api_version;
        let request: MetadataRequest<'_> =
            request(&f, &request_frame, kp_generated::same_metadata_request);
        let frame = response_frame.unwrap_or_else(|| panic!("{name}: no response"));
        let response: MetadataResponse<'_> =
            response::<MetadataRequest<'_>, _, _>(&f, &frame, kp_generated::same_metadata_response);

        assert!(response.broker(NODE_ID).is_some(), "{name}: brokers");
        assert_eq!(response.controller_id, NODE_ID, "{name}");
        if v >= 2 {
            assert_eq!(response.cluster_id, Some(CLUSTER_ID), "{name}");
        }
        if v >= 4 && f.what.contains("auto-create o") {
            let on = f.what.contains("auto-create on");
            assert_eq!(request.allow_auto_topic_creation, on, "{name}");
        }

        let requested: Vec<&str> = match request.topics {
            None => {
                assert!(f.what.contains("null list"), "{name}");
                vec![]
            }
            Some(topics) => topics.iter().map(|t| t.name.expect("by name")).collect(),
        };
        if f.what.contains("no topics") || f.what.contains("bootstrap") {
            assert!(requested.is_empty(), "{name}");
        }
        if requested.is_empty() {
            // All topics (Tansu answers an empty list with all of them, too).
            let fixtures = response.topic("fixtures").expect("the fixtures topic");
            assert_eq!(fixtures.partitions.len(), 3, "{name}");
            continue;
        }
        assert_eq!(requested.len(), 1, "{name}");
        assert_eq!(response.topics.len(), 1, "{name}");
        let topic = response.topic(requested[0]).expect("the topic asked for");
        let expected_partitions = if f.what.contains("unknown topic with auto-create off") {
            assert_eq!(topic.error_code, 3, "{name}: UNKNOWN_TOPIC_OR_PARTITION");
            0
        } else if f.what.contains("auto-create on") {
            auto_created += 1;
            4
        } else {
            assert_eq!(requested[0], "fixtures", "{name}");
            3
        };
        if expected_partitions > 0 {
            assert_eq!(topic.error_code, 0, "{name}");
        }
        assert_eq!(topic.partitions.len(), expected_partitions, "{name}");
        for (i, p) in topic.partitions.iter().enumerate() {
            assert_eq!(p.error_code, 0, "{name}");
            assert_eq!(p.partition_index, i as i32, "{name}");
            assert!(response.broker(p.leader_id).is_some(), "{name}: a leader");
            assert_eq!(p.replica_nodes.iter().collect::<Vec<_>>(), [NODE_ID]);
            assert_eq!(p.isr_nodes.iter().collect::<Vec<_>>(), [NODE_ID]);
        }
        if v >= 10 && expected_partitions > 0 {
            assert_ne!(topic.topic_id, [0; 16], "{name}: a topic id");
        }
    }
    assert_eq!(
        auto_created, 3,
        "auto-create fixtures (v4, v12, KafkaProducer)"
    );
}

// ---------------------------------------------------------------------------------------------
// ApiVersions

#[test]
fn api_versions() {
    for (f, request_frame, response_frame) in exchanges(ApiKey::ApiVersions) {
        let name = f.name();
        let request: ApiVersionsRequest<'_> =
            request(&f, &request_frame, kp_generated::same_api_versions_request);
        if f.api_version >= 3 {
            assert!(!request.client_software_name.is_empty(), "{name}");
            assert!(!request.client_software_version.is_empty(), "{name}");
        }
        let frame = response_frame.unwrap_or_else(|| panic!("{name}: no response"));
        let response: ApiVersionsResponse<'_> = response::<ApiVersionsRequest<'_>, _, _>(
            &f,
            &frame,
            kp_generated::same_api_versions_response,
        );
        if f.api_version >= 3 {
            // Without Tansu's default-valued tagged fields, the frame reads the same.
            let shorter = re_encoded(&f, &frame);
            assert!(shorter.len() < frame.len(), "{name}");
            let (_, again) = ApiVersionsRequest::decode_response(&shorter[4..], f.api_version)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(again, response, "{name}");
        }
        assert_eq!(response.error_code, 0, "{name}");
        // 36 keys, in a different order each time the broker starts (README).
        assert_eq!(response.api_keys.len(), 36, "{name}");
        for api in ApiKey::ALL {
            let ours = api.supported().unwrap();
            assert_eq!(
                response.negotiate(api),
                Some(ours.max),
                "{name}: {api}, the broker lists {:?}",
                response.versions_of(api)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// InitProducerId

#[test]
fn init_producer_id() {
    for (f, request_frame, response_frame) in exchanges(ApiKey::InitProducerId) {
        let name = f.name();
        let request: InitProducerIdRequest<'_> = request(
            &f,
            &request_frame,
            kp_generated::same_init_producer_id_request,
        );
        assert_eq!(request.transactional_id, None, "{name}");
        assert_eq!((request.producer_id, request.producer_epoch), (-1, -1));
        let frame = response_frame.unwrap_or_else(|| panic!("{name}: no response"));
        let response: InitProducerIdResponse<'_> = response::<InitProducerIdRequest<'_>, _, _>(
            &f,
            &frame,
            kp_generated::same_init_producer_id_response,
        );
        if f.api_version <= 2 {
            // Tansu does not implement v0-v2 (README).
            assert_eq!(response.error_code, -1, "{name}: UNKNOWN_SERVER_ERROR");
            assert_eq!(response.producer_id, -1, "{name}");
        } else {
            assert_eq!(response.error_code, 0, "{name}");
            assert!(response.producer_id >= 0, "{name}");
            assert_eq!(response.producer_epoch, 0, "{name}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SASL

#[test]
fn sasl_handshake() {
    for (f, request_frame, response_frame) in exchanges(ApiKey::SaslHandshake) {
        let name = f.name();
        let request: SaslHandshakeRequest<'_> = request(
            &f,
            &request_frame,
            kp_generated::same_sasl_handshake_request,
        );
        let Some(frame) = response_frame else {
            assert!(f.what.contains("closes the connection"), "{name}");
            continue;
        };
        let response: SaslHandshakeResponse<'_> = response::<SaslHandshakeRequest<'_>, _, _>(
            &f,
            &frame,
            kp_generated::same_sasl_handshake_response,
        );
        let refused = f.what.contains("without --authentication") || f.what.contains("lower case");
        let expected = if refused { 33 } else { 0 }; // UNSUPPORTED_SASL_MECHANISM
        assert_eq!(response.error_code, expected, "{name}");
        // Tansu lists the mechanism asked for, not its enabled ones (README).
        assert_eq!(
            response.mechanisms.iter().collect::<Vec<_>>(),
            [request.mechanism],
            "{name}"
        );
    }
}

#[test]
fn sasl_authenticate() {
    for (f, request_frame, response_frame) in exchanges(ApiKey::SaslAuthenticate) {
        let name = f.name();
        let request: SaslAuthenticateRequest<'_> = request(
            &f,
            &request_frame,
            kp_generated::same_sasl_authenticate_request,
        );
        let frame = response_frame.unwrap_or_else(|| panic!("{name}: no response"));
        let response: SaslAuthenticateResponse<'_> = response::<SaslAuthenticateRequest<'_>, _, _>(
            &f,
            &frame,
            kp_generated::same_sasl_authenticate_response,
        );
        if f.what.contains("without a handshake") {
            assert_eq!(response.error_code, 34, "{name}: ILLEGAL_SASL_STATE");
            assert!(response.error_message.is_some_and(|m| m.contains("SASL")));
            continue;
        }
        assert_eq!(response.error_code, 0, "{name}");
        // A successful step carries "NONE" where Kafka sends null (README).
        assert_eq!(response.error_message, Some("NONE"), "{name}");
        let client = std::str::from_utf8(request.auth_bytes).unwrap();
        let server = std::str::from_utf8(response.auth_bytes).unwrap();
        if let Some(nonce) = client.strip_prefix("n,,n=user,r=") {
            // SCRAM client-first-message: the server-first-message extends the nonce.
            assert!(
                server.starts_with(&format!("r={nonce}")),
                "{name}: {server}"
            );
            assert!(server.ends_with(",i=16384"), "{name}: {server}");
        } else {
            assert!(client.starts_with("c=biws,r="), "{name}: {client}");
            assert_eq!(server, "e=unknown-user", "{name}");
        }
        if f.api_version >= 1 {
            assert!(response.session_lifetime_ms > 0, "{name}");
        }
    }
}

/// Every fixture is one of the APIs above: none is left out.
#[test]
fn every_fixture_is_checked() {
    for f in fixtures::all() {
        assert!(
            ApiKey::ALL.contains(&ApiKey::from_key(f.api_key)),
            "{}: API key {}",
            f.name(),
            f.api_key
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fetch

/// The records `scripts/capture-fixtures` produced to partition 0 of `fixtures-fetch` before
/// fetching: (offset, key, value, headers), in three batches (offsets 0-2, a gzip batch with
/// 3-4, then 5).
type FetchRecord = (
    i64,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    &'static [(&'static str, &'static [u8])],
);
const FETCH_RECORDS: &[FetchRecord] = &[
    (0, Some(b"sensor-1"), Some(b"21.5"), &[("unit", b"celsius")]),
    (1, None, Some(b"21.6"), &[]),
    (2, Some(b"sensor-1"), None, &[]),
    (3, Some(b"k"), None, &[]), // gzip: read by count only (no decompression here)
    (4, None, None, &[]),
    (5, Some(b"sensor-2"), Some(b"19.0"), &[]),
];

/// Batches of a fetched partition from `from`: each checked by [`batches`] (CRCs, headers and
/// records against kafka-protocol), then every record of the uncompressed ones against
/// [`FETCH_RECORDS`] and the gzip one by its header. Returns the number of records.
fn fetched(name: &str, records: &[u8], from: i64) -> usize {
    let mut walked = 0;
    let mut next = from;
    for batch in batches(name, records) {
        assert_eq!(batch.base_offset(), next, "{name}: batches are contiguous");
        next = batch.last_offset() + 1;
        let compression = batch.attributes().compression();
        if batch.base_offset() == 3 {
            assert_eq!(compression, Compression::Gzip, "{name}");
            assert_eq!(batch.record_count(), 2, "{name}");
            walked += 2;
            continue;
        }
        assert_eq!(compression, Compression::None, "{name}");
        for record in batch.records().unwrap() {
            let record = record.unwrap_or_else(|e| panic!("{name}: {e}"));
            let (offset, key, value, headers) = FETCH_RECORDS[record.offset as usize];
            let got: Vec<(&str, &[u8])> = record
                .headers
                .iter()
                .map(|h| (h.key, h.value.unwrap()))
                .collect();
            assert_eq!(
                (record.offset, record.key, record.value, got.as_slice()),
                (offset, key, value, headers),
                "{name}"
            );
            walked += 1;
        }
    }
    assert_eq!(next, 6, "{name}: up to the high watermark");
    walked
}

#[test]
fn fetch() {
    let mut consumer_records = 0;
    let mut topic_ids = std::collections::HashSet::new();
    for (f, request_frame, response_frame) in exchanges(ApiKey::Fetch) {
        let name = f.name();
        let v = f.api_version;
        let request: FetchRequest<'_> =
            request(&f, &request_frame, kp_generated::same_fetch_request);
        let frame = response_frame.unwrap_or_else(|| panic!("{name}: no response"));
        let response: FetchResponse<'_> =
            response::<FetchRequest<'_>, _, _>(&f, &frame, kp_generated::same_fetch_response);

        assert_eq!(request.replica_id, -1, "{name}: a consumer");
        assert_eq!(request.isolation_level, 0, "{name}");
        assert_eq!(request.topics.len(), 1, "{name}");
        let asked = request.topics.get(0).unwrap();
        assert_eq!((response.error_code, response.session_id), (0, 0), "{name}");
        assert_eq!(response.responses.len(), 1, "{name}");
        let topic = if v >= 13 {
            assert_eq!(asked.topic, "", "{name}: by id");
            topic_ids.insert(asked.topic_id);
            response.topic_by_id(asked.topic_id)
        } else {
            assert_eq!(asked.topic, "fixtures-fetch", "{name}");
            response.topic("fixtures-fetch")
        }
        .unwrap_or_else(|| panic!("{name}: the topic asked for"));
        assert_eq!(topic.partitions.len(), asked.partitions.len(), "{name}");

        for p in asked.partitions.iter() {
            let answer = topic.partition(p.partition).expect("answered");
            assert_eq!(answer.error_code, 0, "{name}");
            assert_eq!(answer.aborted_transactions.map(|a| a.len()), Some(0));
            let records = answer.records.unwrap_or_default();
            if p.partition == 1 || p.fetch_offset >= 6 {
                // The empty partition, and past the end (Tansu answers 0 with no records
                // where Kafka would answer OFFSET_OUT_OF_RANGE).
                assert!(records.is_empty(), "{name}");
                assert_eq!(answer.batches().count(), 0, "{name}");
                continue;
            }
            let log_start = if v >= 5 { 0 } else { -1 }; // a field from v5
            assert_eq!(
                (answer.high_watermark, answer.log_start_offset),
                (6, log_start)
            );
            let n = fetched(&name, records, p.fetch_offset);
            assert_eq!(n, 6 - p.fetch_offset as usize, "{name}");
            assert_eq!(
                answer.batches().map(|b| b.unwrap()).collect::<Vec<_>>(),
                batches(&name, records),
                "{name}"
            );
            // Tansu stores what it was sent: record batches only, no legacy messages.
            let sets: Vec<_> = answer.record_sets().map(|e| e.unwrap()).collect();
            assert!(
                sets.iter().all(|e| matches!(e, RecordSet::Batch(_))),
                "{name}"
            );
            assert_eq!(sets.len(), batches(&name, records).len(), "{name}");
            if f.what.contains("KafkaConsumer") {
                consumer_records += n;
            }

            // A broker cuts the last batch at its byte limit: every cut reads the whole
            // batches before it and reports the rest as partial.
            if f.what.contains("three batches") {
                let ends: Vec<usize> = batches(&name, records)
                    .iter()
                    .scan(0, |end, b| {
                        *end += b.as_bytes().len();
                        Some(*end)
                    })
                    .collect();
                for cut in 0..records.len() {
                    let mut iter = embedded_kafka::record::RecordBatches::new(&records[..cut]);
                    let whole = iter
                        .by_ref()
                        .filter(|b| b.as_ref().unwrap().verify_crc().is_ok())
                        .count();
                    assert_eq!(whole, ends.iter().filter(|&&e| e <= cut).count());
                    let start = whole.checked_sub(1).map_or(0, |i| ends[i]);
                    match iter.partial() {
                        None => assert_eq!(cut, start, "{name} cut at {cut}"),
                        Some((have, _)) => assert_eq!(have, cut - start, "{name} cut at {cut}"),
                    }
                }
            }
        }
    }
    assert_eq!(consumer_records, 6, "KafkaConsumer read every record once");
    assert_eq!(topic_ids.len(), 1, "one topic id");
}
