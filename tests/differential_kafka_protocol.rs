//! Differential tests against the `kafka-protocol` crate, another Rust implementation of the
//! Kafka protocol generated from Kafka's JSON specs (by other people, from their own copy of
//! the specs, with its own generator and codec).
//!
//! For every message in scope — RequestHeader v0-2, ResponseHeader v0-1, and the requests and
//! responses of Produce v3-11, Metadata v1-12, ApiVersions v0-4, InitProducerId v0-5,
//! SaslHandshake v0-1, SaslAuthenticate v0-2 — and every version, both directions:
//!
//! - **ours → theirs**: random values of our reprs valid at the version (the strategies
//!   generated from the specs, `tests/generated/mod.rs`) are encoded by us, decoded by
//!   kafka-protocol (all the bytes), and re-encoded by kafka-protocol: the bytes must be ours,
//!   byte for byte, kafka-protocol's `compute_size` must be our `encoded_len`, and the two
//!   values must agree field by field.
//! - **theirs → ours**: random values of kafka-protocol's types valid at the version
//!   (strategies generated from the same specs, `tests/generated/kafka_protocol.rs`) are
//!   encoded by kafka-protocol, decoded by us (all the bytes), and re-encoded by us: the bytes
//!   must be theirs, our `encoded_len` their length, and the values must agree field by field.
//!
//! The field-by-field comparison (`same_<struct>`, generated) covers every field of our structs,
//! also those the version lacks (both crates then hold the spec's default), and the unknown
//! tagged fields, in order.
//!
//! Also: a value valid at one version written at another (`across_versions`: the rules for
//! fields a version lacks agree), and the header versions every API and version is framed with
//! (`header_versions`).
//!
//! Where the two crates legitimately differ, the random values stay clear of it and a test
//! named `known_difference_*` below shows the difference on a minimal case:
//!
//! - kafka-protocol implements RequestHeader v1-2 only (Kafka 4 removed v0 along with
//!   ControlledShutdown v0); we keep v0.
//! - An unknown tag that another version of the struct knows (tag 0 of
//!   `PartitionProduceResponse` at v9, known from v10): we keep it raw, kafka-protocol (like
//!   Kafka's Java decoder) refuses it.
//! - Null where the version has no null: kafka-protocol writes it (length -1) and reads it
//!   back; we refuse both.
//! - Unknown tagged fields out of order or with a tag twice: kafka-protocol sorts them and
//!   keeps the last of a tag (a map), we refuse them.
//! - A known tagged field whose size does not match its value: kafka-protocol reads the value
//!   and ignores the size, losing its place in the input; we refuse it.
//! - Tagged fields in a version without them (raw ones in a version that is not flexible,
//!   known ones the version lacks): kafka-protocol drops them, we refuse them (as Java does).
//! - kafka-protocol bug: an unknown tagged field whose tag is a known one of the struct is
//!   counted in the tag section but not written, so the section is corrupt; we refuse to
//!   write it (`DuplicateTag`).
//!
//! `PROPTEST_CASES` sets the cases per message, version and direction (default
//! [`CASES_PER_VERSION`]).

#[macro_use]
mod support;
mod generated;
#[path = "generated/kafka_protocol.rs"]
mod kp_generated;
#[path = "support/kafka_protocol.rs"]
mod kp_support;

use embedded_kafka::protocol::messages::*;
use embedded_kafka::protocol::{Array, Decode, Encode, RequestHeader, ResponseHeader};
use embedded_kafka::wire::decode::TaggedFields;
use embedded_kafka::wire::{DecodeError, EncodeError, Writer};
use kp_support as k;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::fmt::Display;

/// Cases per message, version and direction.
const CASES_PER_VERSION: u32 = 256;

/// Messages and versions kafka-protocol does not implement: the differential tests skip them,
/// and a `known_difference_*` test covers each.
const NOT_IN_KAFKA_PROTOCOL: &[(&str, i16)] = &[("RequestHeader", 0)];

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES_PER_VERSION)
}

/// Runs `test` on `cases` values of `strategy`, failing with `what` (message, version,
/// direction) in the panic, and proptest's minimal failing value.
fn run<S: Strategy>(
    what: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{what}: {e}");
    }
}

fn fail(e: impl Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Our encoding of `value`, checked against `encoded_len`.
fn our_bytes(value: &impl Encode, version: i16) -> Result<Vec<u8>, TestCaseError> {
    let len = value.encoded_len(version);
    let mut bytes = vec![0xa5; len];
    let n = value
        .encode_to_slice(&mut bytes, version)
        .map_err(|e| fail(format!("we cannot encode v{version}: {e:?}")))?;
    prop_assert_eq!(n, len, "our encoded_len");
    Ok(bytes)
}

macro_rules! differential_tests {
    ($strategy:ident, $same:ident, $ty:ident, $theirs:path, $lo:expr, $hi:expr) => {
        mod $strategy {
            use super::*;

            fn versions() -> impl Iterator<Item = i16> {
                ($lo..=$hi).filter(|&v| !NOT_IN_KAFKA_PROTOCOL.contains(&(stringify!($ty), v)))
            }

            #[test]
            fn ours_to_theirs() {
                support::avoid_tags_known_in_other_versions();
                for version in versions() {
                    let what = format!("{} v{version}, ours -> kafka-protocol", stringify!($ty));
                    run(&what, cases(), generated::$strategy(version), |ours| {
                        let bytes = our_bytes(&ours, version)?;
                        let theirs: $theirs = k::decode(&bytes, version).map_err(fail)?;
                        prop_assert_eq!(
                            k::size(&theirs, version).map_err(fail)?,
                            bytes.len(),
                            "kafka-protocol's compute_size"
                        );
                        let again = k::encode(&theirs, version).map_err(fail)?;
                        prop_assert_eq!(hex(&again), hex(&bytes), "kafka-protocol's re-encoding");
                        kp_generated::$same(&ours, &theirs, version, stringify!($ty))
                    });
                }
            }

            /// A value valid at one version, written at another by both crates: where we write
            /// it (dropping the ignorable fields the target lacks), kafka-protocol writes the
            /// same bytes; where we refuse a field the target lacks, so does kafka-protocol.
            /// Known differences: kafka-protocol drops tagged fields (raw or known) in a
            /// version without them, where we refuse them; it writes null where the target
            /// has none, where we refuse it. We stop at the first field we refuse, so in those
            /// cases what kafka-protocol does with the rest is not compared; only that we read
            /// what it writes, if anything (but for its nulls).
            #[test]
            fn across_versions() {
                support::avoid_tags_known_in_other_versions();
                let strategy = (
                    proptest::sample::select(versions().collect::<Vec<_>>()),
                    proptest::sample::select(versions().collect::<Vec<_>>()),
                )
                    .prop_flat_map(|(from, to)| (Just(from), Just(to), generated::$strategy(from)));
                let what = concat!(stringify!($ty), ", written at another version");
                let cases = cases() * versions().count() as u32;
                run(what, cases, strategy, |(from, to, ours)| {
                    let bytes = our_bytes(&ours, from)?;
                    let theirs: $theirs = k::decode(&bytes, from).map_err(fail)?;
                    let their_bytes = k::encode(&theirs, to);
                    let mut buf = vec![0u8; ours.encoded_len(to)];
                    match ours.encode_to_slice(&mut buf, to) {
                        Ok(n) => {
                            prop_assert_eq!(n, buf.len());
                            prop_assert_eq!(
                                hex(&their_bytes.map_err(fail)?),
                                hex(&buf),
                                "v{} written at v{}",
                                from,
                                to
                            );
                        }
                        Err(EncodeError::FieldNotInVersion { field, .. })
                            if field.ends_with(".unknown_tagged_fields")
                                || kp_generated::TAGGED_FIELDS.contains(&field) =>
                        {
                            if let Ok(their_bytes) = their_bytes {
                                match <$ty>::decode_exact(&their_bytes, to) {
                                    Ok(_) | Err(DecodeError::UnexpectedNull { .. }) => {}
                                    Err(e) => prop_assert!(false, "{:?}", e),
                                }
                            }
                        }
                        Err(EncodeError::FieldNotInVersion { field, .. }) => {
                            prop_assert!(
                                their_bytes.is_err(),
                                "v{} written at v{}: we refuse {}, kafka-protocol does not",
                                from,
                                to,
                                field
                            );
                        }
                        Err(EncodeError::UnexpectedNull { .. }) => {
                            if let Ok(their_bytes) = their_bytes {
                                prop_assert!(<$ty>::decode_exact(&their_bytes, to).is_err());
                            }
                        }
                        Err(e) => prop_assert!(false, "v{} written at v{}: {:?}", from, to, e),
                    }
                    Ok(())
                });
            }

            #[test]
            fn theirs_to_ours() {
                for version in versions() {
                    let what = format!("{} v{version}, kafka-protocol -> ours", stringify!($ty));
                    run(&what, cases(), kp_generated::$strategy(version), |theirs| {
                        let bytes = k::encode(&theirs, version).map_err(fail)?;
                        prop_assert_eq!(
                            k::size(&theirs, version).map_err(fail)?,
                            bytes.len(),
                            "kafka-protocol's compute_size"
                        );
                        let ours = <$ty>::decode_exact(&bytes, version)
                            .map_err(|e| fail(format!("we cannot decode v{version}: {e:?}")))?;
                        let again = our_bytes(&ours, version)?;
                        prop_assert_eq!(hex(&again), hex(&bytes), "our re-encoding");
                        kp_generated::$same(&ours, &theirs, version, stringify!($ty))
                    });
                }
            }
        }
    };
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

for_each_kafka_protocol_message!(differential_tests);

/// Our value, encoded by us, decoded and re-encoded by kafka-protocol: the same bytes, the same
/// size, the same fields; and it decodes back to itself with us.
macro_rules! check_value {
    ($ours:expr, $ty:ident, $theirs:ty, $same:ident, $version:expr) => {{
        let (ours, version) = (&$ours, $version);
        let bytes = our_bytes(ours, version).unwrap();
        let theirs: $theirs = k::decode(&bytes, version).unwrap();
        assert_eq!(k::size(&theirs, version).unwrap(), bytes.len());
        assert!(k::encode(&theirs, version).unwrap() == bytes, "v{version}");
        kp_generated::$same(ours, &theirs, version, stringify!($ty)).unwrap();
        assert_eq!(&$ty::decode_exact(&bytes, version).unwrap(), ours);
    }};
}

/// Lengths whose prefixes change size: compact lengths (`UNSIGNED_VARINT` N+1) of one, two and
/// three bytes, for strings, bytes, records, arrays, tagged fields and tag numbers. (The random
/// values are short.)
#[test]
fn lengths_across_varint_boundaries() {
    use kafka_protocol::messages as kp;
    for n in [126, 127, 128, 129, 16_382, 16_383, 16_384, 40_000] {
        let data = vec![0x5a_u8; n];
        let text = "k".repeat(n.min(i16::MAX as usize));
        let tags = raw_tags(&[(n as u32, &data)]);

        for v in 0..=2 {
            let ours = SaslAuthenticateRequest {
                auth_bytes: &data,
                unknown_tagged_fields: if v >= 2 { tags } else { TaggedFields::EMPTY },
            };
            check_value!(
                ours,
                SaslAuthenticateRequest,
                kp::SaslAuthenticateRequest,
                same_sasl_authenticate_request,
                v
            );
        }
        for v in [3, 8, 9, 11] {
            let partitions = [PartitionProduceData {
                index: 1,
                records: Some(&data),
                ..Default::default()
            }];
            let topics = [TopicProduceData {
                name: &text,
                partition_data: Array::from(&partitions),
                ..Default::default()
            }];
            let ours = ProduceRequest {
                transactional_id: Some(&text),
                topic_data: Array::from(&topics),
                ..Default::default()
            };
            check_value!(
                ours,
                ProduceRequest,
                kp::ProduceRequest,
                same_produce_request,
                v
            );
        }
        let keys: Vec<ApiVersion> = (0..n.min(20_000))
            .map(|i| ApiVersion {
                api_key: i as i16,
                max_version: 3,
                ..Default::default()
            })
            .collect();
        for v in [2, 3] {
            let ours = ApiVersionsResponse {
                api_keys: Array::from(&keys[..]),
                finalized_features_epoch: if v >= 3 { n as i64 } else { -1 },
                ..Default::default()
            };
            check_value!(
                ours,
                ApiVersionsResponse,
                kp::ApiVersionsResponse,
                same_api_versions_response,
                v
            );
        }
    }
}

/// Both crates frame every API and version in scope with the same request and response header
/// versions (ApiVersions responses: always v0).
#[test]
fn header_versions() {
    use embedded_kafka::protocol::{ApiKey, request_header_version, response_header_version};
    for api in ApiKey::ALL {
        let theirs = kafka_protocol::messages::ApiKey::try_from(api.key()).unwrap();
        let range = api.supported().unwrap();
        for version in range.min..=range.max {
            assert_eq!(
                (
                    request_header_version(api, version),
                    response_header_version(api, version)
                ),
                (
                    theirs.request_header_version(version),
                    theirs.response_header_version(version)
                ),
                "{api} v{version}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Known differences, each on a minimal case.

/// Raw tagged fields, as our decoder would hold them.
fn raw_tags(fields: &[(u32, &[u8])]) -> TaggedFields<'static> {
    let size = fields.iter().map(|(_, d)| d.len() + 16).sum::<usize>() + 8;
    let buf: &'static mut [u8] = vec![0u8; size].leak();
    let mut w = Writer::new(buf);
    w.put_tagged_fields(fields).unwrap();
    let n = w.position();
    let bytes: &'static [u8] = &w.into_written()[..n];
    embedded_kafka::wire::decode::tagged_fields(bytes)
        .unwrap()
        .1
}

/// kafka-protocol implements RequestHeader v1-2 only: Kafka 4 dropped v0, which only
/// ControlledShutdown v0 used. We keep it (`REQUEST_HEADER_VERSIONS` is 0-2); without a peer
/// for it, v0 is checked against kafka-protocol's v1, which is v0 plus a client id at the end.
#[test]
fn known_difference_request_header_v0() {
    use kafka_protocol::messages::RequestHeader as Theirs;
    assert!(k::encode(&Theirs::default(), 0).is_err());
    assert!(k::decode::<Theirs>(&[0; 8], 0).is_err());

    run(
        "RequestHeader v0 against kafka-protocol's v1",
        cases(),
        generated::request_header(0),
        |ours| {
            let v0 = our_bytes(&ours, 0)?;
            let mut theirs = Theirs::default();
            theirs.request_api_key = ours.request_api_key;
            theirs.request_api_version = ours.request_api_version;
            theirs.correlation_id = ours.correlation_id;
            theirs.client_id = None;
            let v1 = k::encode(&theirs, 1).map_err(fail)?;
            // v1 ends with the client id, here null: INT16 -1.
            prop_assert_eq!(&v1[v1.len() - 2..], &[0xff, 0xff]);
            prop_assert_eq!(hex(&v0), hex(&v1[..v1.len() - 2]));
            Ok(())
        },
    );
}

/// A raw tagged field whose tag a later version of the struct knows: tag 0 of a Produce
/// response partition at v9 (v10 knows it as `current_leader`). We keep it raw at v9, as any
/// unknown tag, and refuse to write it at v10 (`DuplicateTag`). kafka-protocol refuses to read
/// it at v9, as Kafka's Java decoder does ("Tag 0 is not valid for version 9"). The
/// differential tests draw raw tags only from tags no version knows
/// (`support::avoid_tags_known_in_other_versions`).
#[test]
fn known_difference_raw_tag_known_in_a_later_version() {
    let partitions = [PartitionProduceResponse {
        unknown_tagged_fields: raw_tags(&[(0, b"\x01\x02")]),
        ..Default::default()
    }];
    let topics = [TopicProduceResponse {
        name: "t",
        partition_responses: Array::from(&partitions),
        ..Default::default()
    }];
    let ours = ProduceResponse {
        responses: Array::from(&topics),
        ..Default::default()
    };
    let bytes = our_bytes(&ours, 9).unwrap();
    assert_eq!(ProduceResponse::decode_exact(&bytes, 9), Ok(ours));
    let err = k::decode::<kafka_protocol::messages::ProduceResponse>(&bytes, 9).unwrap_err();
    assert!(err.contains("Tag 0 is not valid for version 9"), "{err}");

    let mut buf = [0u8; 64];
    assert_eq!(
        ours.encode_to_slice(&mut buf, 10),
        Err(EncodeError::DuplicateTag { tag: 0 })
    );
}

/// Tagged fields in a version without them: raw ones in a version that is not flexible, or a
/// known one that the version lacks (a Produce response's `node_endpoints` at v9; it is not
/// ignorable). kafka-protocol drops them silently; we refuse them (`FieldNotInVersion`), as
/// Kafka's Java encoder does.
#[test]
fn known_difference_tagged_fields_in_a_version_without_them() {
    let ours = ResponseHeader {
        correlation_id: 7,
        unknown_tagged_fields: raw_tags(&[(5, b"\xaa")]),
    };
    let mut buf = [0u8; 16];
    assert!(matches!(
        ours.encode_to_slice(&mut buf, 0),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
    let theirs: kafka_protocol::messages::ResponseHeader =
        k::decode(&our_bytes(&ours, 1).unwrap(), 1).unwrap();
    assert_eq!(k::encode(&theirs, 0).unwrap(), b"\x00\x00\x00\x07");

    let endpoints = [NodeEndpoint {
        node_id: 1,
        host: "b1",
        port: 9092,
        ..Default::default()
    }];
    let ours = ProduceResponse {
        node_endpoints: Array::from(&endpoints),
        ..Default::default()
    };
    assert_eq!(
        ours.encode_to_slice(&mut buf, 9),
        Err(EncodeError::FieldNotInVersion {
            field: "ProduceResponse.node_endpoints",
            version: 9
        })
    );
    let theirs: kafka_protocol::messages::ProduceResponse =
        k::decode(&our_bytes(&ours, 10).unwrap(), 10).unwrap();
    assert_eq!(theirs.node_endpoints.len(), 1);
    // responses [], throttle_time_ms 0, no tagged fields.
    assert_eq!(k::encode(&theirs, 9).unwrap(), b"\x01\x00\x00\x00\x00\x00");
}

/// Null in a version whose field is not nullable: a Metadata request topic's name is nullable
/// from v10 only. kafka-protocol writes null anyway (a compact string of length -1 at v9) and
/// reads it back as `None`; we refuse to write it and refuse to read it (Kafka's Java client
/// throws on both sides too).
#[test]
fn known_difference_null_where_the_version_has_none() {
    use kafka_protocol::messages::MetadataRequest as Theirs;
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic as TheirTopic;
    let mut theirs = Theirs::default();
    let mut topic = TheirTopic::default();
    topic.name = None;
    theirs.topics = Some(vec![topic]);
    let bytes = k::encode(&theirs, 9).unwrap();
    // topics: one, name null, no tags; allow_auto_topic_creation true, the two
    // include_*_authorized_operations false, no tags.
    assert_eq!(bytes, b"\x02\x00\x00\x01\x00\x00\x00");
    let back: Theirs = k::decode(&bytes, 9).unwrap();
    assert_eq!(back.topics.unwrap()[0].name, None);

    assert!(matches!(
        MetadataRequest::decode_exact(&bytes, 9),
        Err(DecodeError::UnexpectedNull { .. })
    ));
    let topics = [MetadataRequestTopic {
        name: None,
        ..Default::default()
    }];
    let ours = MetadataRequest {
        topics: Some(Array::from(&topics)),
        ..Default::default()
    };
    let mut buf = [0u8; 16];
    assert!(matches!(
        ours.encode_to_slice(&mut buf, 9),
        Err(EncodeError::UnexpectedNull { version: 9, .. })
    ));
    // At v10 both write it, the same way.
    let mut topic = TheirTopic::default();
    topic.name = None;
    theirs.topics = Some(vec![topic]);
    assert_eq!(
        hex(&our_bytes(&ours, 10).unwrap()),
        hex(&k::encode(&theirs, 10).unwrap())
    );
}

/// Raw tagged fields out of tag order, or a tag twice (not valid Kafka: a writer sends each
/// tag once, in ascending order): kafka-protocol keeps unknown tags in a map, so it sorts them
/// and keeps the last of a repeated tag, and its re-encoding differs from the input (loses a
/// field). We refuse such a section (`TagOutOfOrder`). (Kafka's Java decoder keeps them all in a
/// list, as they came.)
#[test]
fn known_difference_raw_tags_out_of_order() {
    // ResponseHeader v1: correlation id 7, then two fields with tag 5.
    let repeated = b"\x00\x00\x00\x07\x02\x05\x01\xaa\x05\x01\xbb";
    assert_eq!(
        ResponseHeader::decode_exact(repeated, 1),
        Err(DecodeError::TagOutOfOrder {
            previous: 5,
            found: 5
        })
    );
    let theirs: kafka_protocol::messages::ResponseHeader = k::decode(repeated, 1).unwrap();
    assert_eq!(theirs.unknown_tagged_fields.len(), 1);
    assert_eq!(theirs.unknown_tagged_fields[&5], &b"\xbb"[..]);
    assert_eq!(
        k::encode(&theirs, 1).unwrap(),
        b"\x00\x00\x00\x07\x01\x05\x01\xbb"
    );

    // Tag 6, then tag 5.
    let descending = b"\x00\x00\x00\x07\x02\x06\x01\xaa\x05\x01\xbb";
    assert_eq!(
        ResponseHeader::decode_exact(descending, 1),
        Err(DecodeError::TagOutOfOrder {
            previous: 6,
            found: 5
        })
    );
    let theirs: kafka_protocol::messages::ResponseHeader = k::decode(descending, 1).unwrap();
    assert_eq!(
        k::encode(&theirs, 1).unwrap(),
        b"\x00\x00\x00\x07\x02\x05\x01\xbb\x06\x01\xaa"
    );
}

/// A known tagged field whose size does not match its value: ApiVersions v3's
/// `FinalizedFeaturesEpoch` (tag 1, an int64) said to take 9 bytes. kafka-protocol reads the
/// int64 and ignores the size (as Kafka's Java decoder does), so it loses its place: here the
/// ninth byte is left over. We refuse the field (`TrailingBytes`).
#[test]
fn known_difference_known_tag_with_a_wrong_size() {
    // error_code 0, api_keys [], throttle_time_ms 0, one tagged field: tag 1, size 9,
    // epoch 1 and one byte more.
    let bytes = b"\x00\x00\x01\x00\x00\x00\x00\x01\x01\x09\x00\x00\x00\x00\x00\x00\x00\x01\x00";
    assert!(matches!(
        ApiVersionsResponse::decode_exact(bytes, 3),
        Err(DecodeError::TrailingBytes { .. })
    ));
    let err = k::decode::<kafka_protocol::messages::ApiVersionsResponse>(bytes, 3).unwrap_err();
    assert!(err.contains("left 1 of 19 bytes undecoded"), "{err}");
    // With the right size both read epoch 1.
    let mut right = bytes.to_vec();
    right[9] = 8;
    right.pop();
    let ours = ApiVersionsResponse::decode_exact(&right, 3).unwrap();
    let theirs: kafka_protocol::messages::ApiVersionsResponse = k::decode(&right, 3).unwrap();
    assert_eq!(
        (
            ours.finalized_features_epoch,
            theirs.finalized_features_epoch
        ),
        (1, 1)
    );
}

/// kafka-protocol bug: an unknown tagged field whose tag the struct knows (tag 0 of an
/// ApiVersions v3 response, `SupportedFeatures`) is counted in the tag section and in
/// `compute_size`, but not written (only unknown tags above the known ones are), so the
/// section says one field and holds none: the frame is corrupt and kafka-protocol cannot read
/// it back. We refuse to write such a field (`DuplicateTag`).
#[test]
fn known_difference_kafka_protocol_counts_a_raw_field_it_does_not_write() {
    let mut theirs = kafka_protocol::messages::ApiVersionsResponse::default();
    theirs
        .unknown_tagged_fields
        .insert(0, bytes::Bytes::from_static(b"\x01"));
    let bytes = k::encode(&theirs, 3).unwrap();
    // error_code, api_keys [], throttle_time_ms, then a count of 1 and nothing after it.
    assert_eq!(bytes, b"\x00\x00\x01\x00\x00\x00\x00\x01");
    assert_eq!(k::size(&theirs, 3).unwrap(), bytes.len() + 3);
    assert!(k::decode::<kafka_protocol::messages::ApiVersionsResponse>(&bytes, 3).is_err());
    assert!(matches!(
        ApiVersionsResponse::decode_exact(&bytes, 3),
        Err(DecodeError::Truncated { .. } | DecodeError::TooManyEntries { .. })
    ));

    let ours = ApiVersionsResponse {
        unknown_tagged_fields: raw_tags(&[(0, b"\x01")]),
        ..Default::default()
    };
    let mut buf = [0u8; 16];
    assert_eq!(
        ours.encode_to_slice(&mut buf, 3),
        Err(EncodeError::DuplicateTag { tag: 0 })
    );
}
