//! The rules the generated code follows beyond plain round trips: Java's rule for fields a
//! version lacks, null where a version cannot express it, tagged fields (defaults omitted,
//! unknown ones kept and merged in tag order), framing, and malformed input.

use embedded_kafka::protocol::messages::*;
use embedded_kafka::protocol::{
    Array, Decode, Encode, Request, RequestHeader, Response, ResponseHeader, decode_request_header,
};
use embedded_kafka::wire::decode::{self, TaggedFields};
use embedded_kafka::wire::{DecodeError, EncodeError, Writer};

fn encode<T: Encode>(value: &T, version: i16) -> Result<Vec<u8>, EncodeError> {
    let mut buf = vec![0u8; value.encoded_len(version)];
    let n = value.encode_to_slice(&mut buf, version)?;
    assert_eq!(n, buf.len());
    Ok(buf)
}

/// Raw tagged fields, as a decoder would hand them over.
fn tagged(fields: &[(u32, &[u8])]) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; 256];
    let mut w = Writer::new(&mut buf);
    w.put_tagged_fields(fields).unwrap();
    let n = w.position();
    buf.truncate(n);
    (buf, n)
}

#[test]
fn non_default_value_of_a_missing_non_ignorable_field_is_an_error() {
    // InitProducerIdRequest.ProducerId exists from v3 and is not ignorable.
    let r = InitProducerIdRequest {
        producer_id: 5,
        ..Default::default()
    };
    assert_eq!(
        encode(&r, 2),
        Err(EncodeError::FieldNotInVersion {
            field: "InitProducerIdRequest.producer_id",
            version: 2
        })
    );
    assert!(encode(&r, 3).is_ok());
    // Its default (-1) is fine anywhere.
    assert!(encode(&InitProducerIdRequest::default(), 0).is_ok());

    // MetadataRequest.IncludeClusterAuthorizedOperations exists in 8-10 only.
    let r = MetadataRequest {
        include_cluster_authorized_operations: true,
        ..Default::default()
    };
    assert!(encode(&r, 10).is_ok());
    for v in [7, 11, 12] {
        assert_eq!(
            encode(&r, v),
            Err(EncodeError::FieldNotInVersion {
                field: "MetadataRequest.include_cluster_authorized_operations",
                version: v
            })
        );
    }

    // A non-ignorable tagged field before its versions: ProduceResponse.NodeEndpoints (10+).
    let nodes = [NodeEndpoint {
        node_id: 1,
        host: "h",
        port: 1,
        ..Default::default()
    }];
    let r = ProduceResponse {
        node_endpoints: Array::from(&nodes),
        ..Default::default()
    };
    assert_eq!(
        encode(&r, 9),
        Err(EncodeError::FieldNotInVersion {
            field: "ProduceResponse.node_endpoints",
            version: 9
        })
    );
    assert!(encode(&r, 10).is_ok());
}

#[test]
fn ignorable_fields_are_dropped_silently() {
    // MetadataResponse.ThrottleTimeMs (3+) and Rack (1+) are ignorable.
    let r = MetadataResponse {
        throttle_time_ms: 100,
        ..Default::default()
    };
    let bytes = encode(&r, 2).unwrap();
    assert_eq!(
        MetadataResponse::decode_exact(&bytes, 2)
            .unwrap()
            .throttle_time_ms,
        0
    );
    // ApiVersionsRequest's client software fields (3+) vanish from v0-2: an empty body.
    let r = ApiVersionsRequest {
        client_software_name: "x",
        client_software_version: "y",
        ..Default::default()
    };
    assert_eq!(encode(&r, 2).unwrap(), b"");
    // Ignorable tagged fields too: ApiVersionsResponse.SupportedFeatures before v3.
    let features = [SupportedFeatureKey {
        name: "f",
        ..Default::default()
    }];
    let r = ApiVersionsResponse {
        supported_features: Array::from(&features),
        ..Default::default()
    };
    assert_eq!(
        encode(&r, 2).unwrap(),
        encode(&ApiVersionsResponse::default(), 2).unwrap()
    );
}

#[test]
fn null_where_the_version_has_no_null_is_an_error() {
    let topics = [MetadataRequestTopic {
        topic_id: [7; 16],
        name: None,
        ..Default::default()
    }];
    let r = MetadataRequest {
        topics: Some(Array::from(&topics)),
        ..Default::default()
    };
    assert_eq!(
        encode(&r, 9),
        Err(EncodeError::UnexpectedNull {
            field: "MetadataRequestTopic.name",
            version: 9
        })
    );
    let bytes = encode(&r, 10).unwrap();
    assert_eq!(MetadataRequest::decode_exact(&bytes, 10).unwrap(), r);
    // And null on the wire where the version has none is a decode error.
    let mut bytes = encode(&MetadataRequest::default(), 9).unwrap();
    // v9: topics = compact array of one element whose name is null (0).
    bytes[0] = 2; // one element
    bytes.splice(1..1, [0u8, 0]); // name: null, element tags: none
    assert!(matches!(
        MetadataRequest::decode_exact(&bytes, 9),
        Err(DecodeError::UnexpectedNull { .. })
    ));
}

#[test]
fn defaults_follow_the_spec() {
    let r = MetadataRequest::default();
    assert_eq!(r.topics, Some(Array::EMPTY));
    assert!(r.allow_auto_topic_creation);
    let t = MetadataResponseTopic::default();
    assert_eq!(t.topic_authorized_operations, i32::MIN);
    assert_eq!(t.name, Some(""));
    assert_eq!(MetadataResponseBroker::default().rack, None);
    assert_eq!(MetadataResponsePartition::default().leader_epoch, -1);
    assert_eq!(ApiVersionsResponse::default().finalized_features_epoch, -1);
    assert_eq!(InitProducerIdResponse::default().producer_id, -1);
    assert_eq!(ProduceRequest::default().transactional_id, None);
    assert_eq!(PartitionProduceData::default().records, None);
    assert_eq!(
        LeaderIdAndEpoch::default(),
        LeaderIdAndEpoch {
            leader_id: -1,
            leader_epoch: -1,
            unknown_tagged_fields: TaggedFields::EMPTY
        }
    );
    assert_eq!(RequestHeader::default().client_id, Some(""));
}

#[test]
fn tagged_fields_at_their_default_are_not_written_but_are_read() {
    let plain = PartitionProduceResponse::default();
    let bytes = encode(&plain, 10).unwrap();
    assert_eq!(*bytes.last().unwrap(), 0, "no tagged fields");
    // The same partition with CurrentLeader (tag 0) present on the wire at its default value.
    let leader = encode(&LeaderIdAndEpoch::default(), 10).unwrap();
    let (section, _) = tagged(&[(0, &leader)]);
    let mut explicit = bytes[..bytes.len() - 1].to_vec();
    explicit.extend_from_slice(&section);
    let decoded = PartitionProduceResponse::decode_exact(&explicit, 10).unwrap();
    assert_eq!(decoded, plain);
    assert!(decoded.unknown_tagged_fields.is_empty());
    assert_eq!(encode(&decoded, 10).unwrap(), bytes);
}

#[test]
fn unknown_tags_are_kept_and_merged_in_tag_order() {
    // ApiVersionsResponse v3 knows tags 0-3. Unknown tags 5 and 9 ride along.
    let (raw, _) = tagged(&[(5, b"five"), (9, b"")]);
    let unknown = decode::tagged_fields(&raw).unwrap().1;
    let features = [SupportedFeatureKey {
        name: "f",
        min_version: 1,
        max_version: 2,
        ..Default::default()
    }];
    let r = ApiVersionsResponse {
        supported_features: Array::from(&features),
        zk_migration_ready: true,
        unknown_tagged_fields: unknown,
        ..Default::default()
    };
    let bytes = encode(&r, 3).unwrap();
    let decoded = ApiVersionsResponse::decode_exact(&bytes, 3).unwrap();
    assert_eq!(decoded, r);
    assert_eq!(
        decoded.unknown_tagged_fields.iter().collect::<Vec<_>>(),
        [(5, &b"five"[..]), (9, &b""[..])]
    );
    // On the wire: count 4, then tags 0, 3, 5, 9.
    let (_, section) = {
        // The tagged section is at the end: find it by re-reading the known part.
        let empty = ApiVersionsResponse {
            supported_features: Array::EMPTY,
            zk_migration_ready: false,
            unknown_tagged_fields: TaggedFields::EMPTY,
            ..r
        };
        let head = encode(&empty, 3).unwrap();
        decode::tagged_fields(&bytes[head.len() - 1..]).unwrap()
    };
    assert_eq!(
        section.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        [0, 3, 5, 9]
    );

    // A raw field with a tag the version knows is refused, even when the known field is at
    // its default: a reader would take the raw bytes for the field.
    let epoch = 77i64.to_be_bytes();
    let (raw, _) = tagged(&[(1, &epoch)]);
    let r = ApiVersionsResponse {
        unknown_tagged_fields: decode::tagged_fields(&raw).unwrap().1,
        ..Default::default()
    };
    assert_eq!(encode(&r, 3), Err(EncodeError::DuplicateTag { tag: 1 }));

    // The same tag both known (non-default) and raw is refused.
    let (raw, _) = tagged(&[(3, b"\x01")]);
    let r = ApiVersionsResponse {
        zk_migration_ready: true,
        unknown_tagged_fields: decode::tagged_fields(&raw).unwrap().1,
        ..Default::default()
    };
    assert_eq!(encode(&r, 3), Err(EncodeError::DuplicateTag { tag: 3 }));

    // Raw tagged fields cannot be written in a version without tagged fields.
    let (raw, _) = tagged(&[(7, b"x")]);
    let r = ApiVersionsResponse {
        unknown_tagged_fields: decode::tagged_fields(&raw).unwrap().1,
        ..Default::default()
    };
    assert_eq!(
        encode(&r, 2),
        Err(EncodeError::FieldNotInVersion {
            field: "ApiVersionsResponse.unknown_tagged_fields",
            version: 2
        })
    );
}

#[test]
fn a_tag_unknown_in_one_version_is_known_in_the_next() {
    // CurrentLeader is tag 0 of a produce partition response from v10; at v9 it is unknown.
    let leader = LeaderIdAndEpoch {
        leader_id: 3,
        leader_epoch: 8,
        ..Default::default()
    };
    let p = PartitionProduceResponse {
        index: 1,
        current_leader: leader,
        ..Default::default()
    };
    let v10 = encode(&p, 10).unwrap();
    let at_v9 = PartitionProduceResponse::decode_exact(&v10, 9).unwrap();
    assert_eq!(at_v9.current_leader, LeaderIdAndEpoch::default());
    assert_eq!(at_v9.unknown_tagged_fields.len(), 1);
    assert_eq!(encode(&at_v9, 9).unwrap(), v10, "kept raw and written back");
    // At v10 tag 0 is CurrentLeader: the raw copy cannot be written there.
    assert_eq!(
        encode(&at_v9, 10),
        Err(EncodeError::DuplicateTag { tag: 0 })
    );
}

#[test]
fn malformed_tagged_values_are_errors() {
    let bytes = encode(&PartitionProduceResponse::default(), 10).unwrap();
    let head = &bytes[..bytes.len() - 1];
    for (data, ok) in [
        (&b"\xff\xff\xff\xff\xff\xff\xff\xff\x00\x7f"[..], false), // one byte too many
        (&b"\xff\xff\xff\xff\xff\xff"[..], false),                 // too short
        (&b"\x00\x00\x00\x01\x00\x00\x00\x02\x00"[..], true),
    ] {
        let (section, _) = tagged(&[(0, data)]);
        let mut input = head.to_vec();
        input.extend_from_slice(&section);
        let r = PartitionProduceResponse::decode_exact(&input, 10);
        match (ok, r) {
            (true, Ok(p)) => assert_eq!(
                (p.current_leader.leader_id, p.current_leader.leader_epoch),
                (1, 2)
            ),
            (
                false,
                Err(DecodeError::TrailingBytes {
                    what: "PartitionProduceResponse.current_leader",
                    count: 1,
                }),
            ) => {}
            (false, Err(DecodeError::Truncated { .. } | DecodeError::TooManyEntries { .. })) => {}
            (ok, r) => panic!("{ok} {r:?}"),
        }
    }
    // Tags out of order.
    let mut input = head.to_vec();
    input.extend_from_slice(b"\x02\x05\x00\x03\x00");
    assert_eq!(
        PartitionProduceResponse::decode_exact(&input, 10),
        Err(DecodeError::TagOutOfOrder {
            previous: 5,
            found: 3
        })
    );
}

#[test]
fn strings_must_be_utf8() {
    let r = SaslHandshakeRequest { mechanism: "PLAIN" };
    let mut bytes = encode(&r, 1).unwrap();
    bytes[3] = 0xff;
    assert!(matches!(
        SaslHandshakeRequest::decode_exact(&bytes, 1),
        Err(DecodeError::InvalidUtf8 { valid_up_to: 1 })
    ));
}

#[test]
fn forged_array_counts_fail_fast() {
    // A Metadata response claiming two billion brokers in twelve bytes.
    let mut bytes = vec![0u8; 12];
    bytes[..4].copy_from_slice(&i32::MAX.to_be_bytes());
    let start = std::time::Instant::now();
    assert!(matches!(
        MetadataResponse::decode_exact(&bytes, 1),
        Err(DecodeError::TooManyEntries {
            count: 0x7fff_ffff,
            left: 8,
            ..
        })
    ));
    assert!(start.elapsed().as_millis() < 100);
    // A negative count other than -1 is invalid, -1 where null is not allowed is null.
    bytes[..4].copy_from_slice(&(-2i32).to_be_bytes());
    assert!(matches!(
        MetadataResponse::decode_exact(&bytes, 1),
        Err(DecodeError::InvalidLength { .. })
    ));
    bytes[..4].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        MetadataResponse::decode_exact(&bytes, 1),
        Err(DecodeError::UnexpectedNull { .. })
    ));
}

#[test]
fn frames() {
    let r = SaslAuthenticateRequest {
        auth_bytes: b"\0u\0p",
        ..Default::default()
    };
    let header = RequestHeader::new(99, Some("c"));
    let mut out = [0xa5u8; 64];
    let n = r.encode_request(&header, &mut out, 2).unwrap();
    // Too small: the full size is reported and the buffer is untouched.
    let mut small = [0xa5u8; 64];
    assert_eq!(
        r.encode_request(&header, &mut small[..n - 1], 2),
        Err(EncodeError::BufferTooSmall {
            needed: n,
            available: n - 1
        })
    );
    assert_eq!(small, [0xa5u8; 64]);
    assert_eq!(
        r.encode_request(&header, &mut out, 3),
        Err(EncodeError::UnsupportedVersion {
            api: 36,
            version: 3
        })
    );

    // The broker side: peek at the header, then decode the body.
    let (body, h) = decode_request_header(&out[4..n]).unwrap();
    assert_eq!(
        (
            h.request_api_key,
            h.request_api_version,
            h.correlation_id,
            h.client_id
        ),
        (36, 2, 99, Some("c"))
    );
    assert_eq!(SaslAuthenticateRequest::decode_exact(body, 2).unwrap(), r);
    // A frame of another API is refused.
    assert!(matches!(
        SaslHandshakeRequest::decode_request(&out[4..n]),
        Err(DecodeError::InvalidValue {
            what: "request api key",
            found: 36
        })
    ));
    // Unknown APIs and versions cannot be dispatched.
    assert_eq!(
        decode_request_header(b"\x00\x02\x00\x0c\x00\x00\x00\x00\xff\xff"),
        Err(DecodeError::UnsupportedVersion {
            api: 2,
            version: 12
        })
    );

    // Responses: ApiVersions always uses header v0, others v1 when flexible.
    let resp = SaslAuthenticateResponse::default();
    let m = resp
        .encode_response(&ResponseHeader::new(99), &mut out, 2)
        .unwrap();
    assert_eq!(
        &out[4..9],
        b"\x00\x00\x00\x63\x00",
        "header v1: correlation id, tags"
    );
    assert_eq!(
        SaslAuthenticateRequest::decode_response(&out[4..m], 2)
            .unwrap()
            .1,
        resp
    );
    let resp = ApiVersionsResponse::default();
    let m = resp
        .encode_response(&ResponseHeader::new(99), &mut out, 4)
        .unwrap();
    assert_eq!(
        &out[4..10],
        b"\x00\x00\x00\x63\x00\x00",
        "header v0, then error code 0"
    );
    let mut longer = out[4..m].to_vec();
    longer.push(0);
    assert_eq!(
        ApiVersionsRequest::decode_response(&longer, 4),
        Err(DecodeError::TrailingBytes {
            what: "message",
            count: 1
        })
    );
}

#[test]
fn arrays_compare_by_element_and_print_as_lists() {
    let ids = [1, 2, 3];
    let built = Array::from(&ids);
    let mut buf = [0u8; 32];
    let p = MetadataResponsePartition {
        replica_nodes: built,
        ..Default::default()
    };
    let n = p.encode_to_slice(&mut buf, 12).unwrap();
    let decoded = MetadataResponsePartition::decode_exact(&buf[..n], 12).unwrap();
    assert!(decoded.replica_nodes.as_slice().is_none(), "a lazy view");
    assert_eq!(decoded.replica_nodes, built);
    assert_ne!(decoded.replica_nodes, Array::from(&[1, 2]));
    assert_eq!(format!("{:?}", decoded.replica_nodes), "[1, 2, 3]");
    assert_eq!(decoded.replica_nodes.get(2), Some(3));
    assert_eq!(decoded.replica_nodes.get(3), None);
    assert_eq!(decoded.replica_nodes.into_iter().sum::<i32>(), 6);
}

#[test]
fn tagged_sections_compare_by_content_not_by_varint_spelling() {
    // One field, tag 1, two data bytes: minimally, and with a padded size varint (0x82 0x00),
    // which readers accept as the Java client does.
    let minimal = decode::tagged_fields(b"\x01\x01\x02ab").unwrap().1;
    let padded = decode::tagged_fields(b"\x01\x01\x82\x00ab").unwrap().1;
    assert_eq!(minimal, padded);
    assert_ne!(minimal, decode::tagged_fields(b"\x01\x01\x02ac").unwrap().1);
}

/// Fetch's two ways of naming a topic (KIP-516): a name up to v12, an id from v13. Both are
/// ignorable, so the one a version lacks is dropped on encoding (Java's rule); the old replica
/// id (v0-14, not ignorable) has moved into the tagged ReplicaState from v15.
#[test]
fn fetch_topic_names_and_ids() {
    let partitions = [FetchPartition {
        partition: 0,
        fetch_offset: 10,
        partition_max_bytes: 1024,
        ..Default::default()
    }];
    let topics = [FetchTopic {
        topic: "sensors",
        topic_id: [9; 16],
        partitions: Array::from(&partitions),
        ..Default::default()
    }];
    let r = FetchRequest {
        topics: Array::from(&topics),
        ..Default::default()
    };
    let bytes = encode(&r, 12).unwrap();
    let at_12 = FetchRequest::decode_exact(&bytes, 12).unwrap();
    let t = at_12.topics.get(0).unwrap();
    assert_eq!((t.topic, t.topic_id), ("sensors", [0; 16]));
    let bytes = encode(&r, 13).unwrap();
    let at_13 = FetchRequest::decode_exact(&bytes, 13).unwrap();
    let t = at_13.topics.get(0).unwrap();
    assert_eq!((t.topic, t.topic_id), ("", [9; 16]));

    let follower = FetchRequest {
        replica_id: 3,
        ..Default::default()
    };
    assert!(encode(&follower, 14).is_ok());
    assert_eq!(
        encode(&follower, 15),
        Err(EncodeError::FieldNotInVersion {
            field: "FetchRequest.replica_id",
            version: 15
        })
    );
    let follower = FetchRequest {
        replica_state: ReplicaState {
            replica_id: 3,
            replica_epoch: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let bytes = encode(&follower, 15).unwrap();
    let back = FetchRequest::decode_exact(&bytes, 15).unwrap();
    assert_eq!(back.replica_state.replica_id, 3);
    // Versions outside 4-17 are refused both ways.
    assert_eq!(
        encode(&FetchRequest::default(), 3),
        Err(EncodeError::UnsupportedVersion { api: 1, version: 3 })
    );
    assert_eq!(
        FetchResponse::decode_exact(&[], 18),
        Err(DecodeError::UnsupportedVersion {
            api: 1,
            version: 18
        })
    );
}
