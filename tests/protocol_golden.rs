//! Golden frames.
//!
//! - One frame annotated field by field from the spec (ApiVersions v3 request, as a client
//!   sends it first on every connection).
//! - `tests/vectors/protocol_kafka_python.txt`: frames of every API, requests and responses,
//!   old and flexible versions, tagged fields included, encoded by kafka-python 3.0.12 (whose
//!   protocol code is its own, generated at run time from its copy of Kafka's JSON specs;
//!   regenerate with `tests/python/protocol_vectors.py`). Each must decode, hold the values
//!   the script put in, and re-encode to the same bytes.

use embedded_kafka::protocol::messages::*;
use embedded_kafka::protocol::{
    ApiKey, Array, Decode, Encode, Request, RequestHeader, Response, ResponseHeader,
    decode_request_header,
};
use embedded_kafka::record::RecordBatches;
use std::fmt::Debug;

#[test]
fn api_versions_v3_request_by_hand() {
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0x00, 0x00, 0x00, 0x2c,             // size: 44 bytes follow
        // request header v2 (ApiVersions v3 is flexible)
        0x00, 0x12,                         // request_api_key: 18 (ApiVersions)
        0x00, 0x03,                         // request_api_version: 3
        0x00, 0x00, 0x00, 0x07,             // correlation_id: 7
        0x00, 0x0c,                         // client_id: INT16 length 12 (never compact,
        b'k', b'a', b'f', b'k', b'a', b'-', //   "flexibleVersions": "none" in the spec)
        b'p', b'y', b't', b'h', b'o', b'n',
        0x00,                               // header tagged fields: none
        // body
        0x0d,                               // client_software_name: COMPACT_STRING, 12 + 1
        b'k', b'a', b'f', b'k', b'a', b'-',
        b'p', b'y', b't', b'h', b'o', b'n',
        0x07,                               // client_software_version: COMPACT_STRING, 6 + 1
        b'3', b'.', b'0', b'.', b'1', b'2',
        0x00,                               // body tagged fields: none
    ];
    let request = ApiVersionsRequest {
        client_software_name: "kafka-python",
        client_software_version: "3.0.12",
        ..Default::default()
    };
    let mut out = [0u8; 64];
    let n = request
        .encode_request(&RequestHeader::new(7, Some("kafka-python")), &mut out, 3)
        .unwrap();
    assert_eq!(&out[..n], expected);
    let (header, decoded) = ApiVersionsRequest::decode_request(&expected[4..]).unwrap();
    assert_eq!(header.client_id, Some("kafka-python"));
    assert_eq!(decoded, request);
}

/// Decodes a request frame, checks its header, and re-encodes it.
fn request<'a, T>(frame: &'a [u8], version: i16) -> T
where
    T: Request + Decode<'a> + Debug,
{
    let (header, body) = T::decode_request(&frame[4..]).unwrap();
    assert_eq!(header.request_api_key, T::API_KEY.key());
    assert_eq!(header.request_api_version, version);
    assert_eq!(header.correlation_id, 7);
    assert_eq!(header.client_id, Some("kafka-python"));
    let (_, peeked) = decode_request_header(&frame[4..]).unwrap();
    assert_eq!(peeked, header);
    let mut out = vec![0u8; frame.len()];
    let n = body.encode_request(&header, &mut out, version).unwrap();
    assert_eq!(&out[..n], frame, "{}", std::any::type_name::<T>());
    assert_eq!(
        n,
        4 + header.encoded_len(T::request_header_version(version)) + body.encoded_len(version)
    );
    body
}

/// Decodes a response frame, checks its header, and re-encodes it.
fn response<'a, T>(frame: &'a [u8], version: i16) -> T
where
    T: Response<'a> + Debug,
{
    let (header, body) = T::decode_response(&frame[4..], version).unwrap();
    assert_eq!(header, ResponseHeader::new(7));
    let mut out = vec![0u8; frame.len()];
    let n = body.encode_response(&header, &mut out, version).unwrap();
    assert_eq!(&out[..n], frame, "{}", std::any::type_name::<T>());
    body
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const TOPIC_ID: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

#[test]
fn kafka_python_frames() {
    let text = include_str!("vectors/protocol_kafka_python.txt");
    let mut seen = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut parts = line.split(' ');
        let (name, v, frame) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let v: i16 = v.parse().unwrap();
        let frame = hex(frame);
        assert_eq!(
            i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
        seen += 1;
        match name {
            "ApiVersionsRequest" => {
                let r: ApiVersionsRequest = request(&frame, v);
                let name = if v >= 3 { "kafka-python" } else { "" };
                assert_eq!(r.client_software_name, name);
            }
            "ApiVersionsResponse" => {
                let r: ApiVersionsResponse = response(&frame, v);
                let keys: Vec<_> = r
                    .api_keys
                    .iter()
                    .map(|k| (k.api_key, k.min_version, k.max_version))
                    .collect();
                assert_eq!(keys, [(0, 3, 11), (18, 0, 4)]);
                assert_eq!(r.negotiate(ApiKey::Produce), Some(11));
                assert_eq!(r.negotiate(ApiKey::ApiVersions), Some(4));
                assert_eq!(r.negotiate(ApiKey::Metadata), None);
                assert_eq!(r.throttle_time_ms, if v >= 1 { 12 } else { 0 });
                if v >= 3 {
                    let f = r.supported_features.get(0).unwrap();
                    assert_eq!(
                        (f.name, f.min_version, f.max_version),
                        ("metadata.version", 1, 21)
                    );
                    assert_eq!(r.finalized_features_epoch, 42);
                    let f = r.finalized_features.get(0).unwrap();
                    assert_eq!(
                        (f.name, f.max_version_level, f.min_version_level),
                        ("metadata.version", 21, 21)
                    );
                    assert!(r.zk_migration_ready);
                    assert!(r.unknown_tagged_fields.is_empty());
                } else {
                    assert_eq!(r.finalized_features_epoch, -1);
                }
            }
            "MetadataRequest" => {
                let r: MetadataRequest = request(&frame, v);
                let topics: Option<Vec<_>> = r
                    .topics
                    .map(|t| t.iter().map(|t| (t.topic_id, t.name)).collect());
                let expected = match v {
                    1 => None,
                    4 | 9 => Some(vec![([0; 16], Some("sensors"))]),
                    _ => Some(vec![(TOPIC_ID, None)]),
                };
                if v == 9 {
                    assert_eq!(topics.unwrap()[1], ([0; 16], Some("alerts")));
                    assert!(r.include_topic_authorized_operations);
                } else {
                    assert_eq!(topics, expected);
                }
                assert_eq!(r.allow_auto_topic_creation, v != 4);
            }
            "MetadataResponse" => {
                let r: MetadataResponse = response(&frame, v);
                let b: Vec<_> = r
                    .brokers
                    .iter()
                    .map(|b| (b.node_id, b.host, b.port, b.rack))
                    .collect();
                assert_eq!(
                    b,
                    [
                        (1, "broker-1", 9092, Some("rack-a")),
                        (2, "broker-2", 9093, None)
                    ]
                );
                assert_eq!(r.controller_id, 1);
                assert_eq!(r.broker(2).map(|b| b.host), Some("broker-2"));
                assert_eq!(r.topic("sensors").map(|t| t.partitions.len()), Some(2));
                assert!(r.topic("other").is_none());
                assert_eq!(r.cluster_id, if v >= 2 { Some("cluster-0") } else { None });
                let t = r.topics.get(0).unwrap();
                assert_eq!(
                    (t.error_code, t.name, t.is_internal),
                    (0, Some("sensors"), false)
                );
                assert_eq!(t.topic_id, if v >= 10 { TOPIC_ID } else { [0; 16] });
                assert_eq!(t.topic_authorized_operations, i32::MIN);
                for (i, p) in t.partitions.iter().enumerate() {
                    assert_eq!((p.partition_index, p.leader_id), (i as i32, i as i32 + 1));
                    assert_eq!(p.leader_epoch, if v >= 7 { 5 } else { -1 });
                    assert_eq!(p.replica_nodes, Array::from(&[1, 2, 3]));
                    assert_eq!(p.isr_nodes, Array::from(&[1, 2]));
                    assert_eq!(p.offline_replicas.len(), usize::from(v >= 5));
                }
            }
            "ProduceRequest" => {
                let r: ProduceRequest = request(&frame, v);
                assert_eq!(
                    (r.transactional_id, r.acks, r.timeout_ms),
                    (None, -1, 30000)
                );
                let t = r.topic_data.get(0).unwrap();
                assert_eq!(t.name, "sensors");
                let p0 = t.partition_data.get(0).unwrap();
                let p1 = t.partition_data.get(1).unwrap();
                assert_eq!((p0.index, p1.index, p1.records), (0, 1, None));
                // The records are kafka-python's own record batch: our reader takes it.
                let batch = RecordBatches::new(p0.records.unwrap())
                    .next()
                    .unwrap()
                    .unwrap();
                assert_eq!(batch.record_count(), 2);
            }
            "ProduceResponse" => {
                let r: ProduceResponse = response(&frame, v);
                let p = r
                    .responses
                    .get(0)
                    .unwrap()
                    .partition_responses
                    .get(0)
                    .unwrap();
                assert_eq!((p.index, p.error_code, p.base_offset), (0, 0, 1234));
                assert_eq!(r.partition("sensors", 0), Some(p));
                assert_eq!(r.partition("sensors", 1), None);
                if v >= 8 {
                    let e = p.record_errors.get(0).unwrap();
                    assert_eq!(
                        (e.batch_index, e.batch_index_error_message),
                        (1, Some("bad"))
                    );
                    assert_eq!(p.error_message, Some("one record was bad"));
                }
                if v >= 10 {
                    assert_eq!(
                        (p.current_leader.leader_id, p.current_leader.leader_epoch),
                        (2, 9)
                    );
                    let n = r.node_endpoints.get(0).unwrap();
                    assert_eq!(
                        (n.node_id, n.host, n.port, n.rack),
                        (2, "broker-2", 9093, None)
                    );
                } else {
                    assert_eq!(p.current_leader, LeaderIdAndEpoch::default());
                    assert!(r.node_endpoints.is_empty());
                }
            }
            "FetchRequest" => {
                let r: FetchRequest = request(&frame, v);
                assert_eq!(
                    (r.replica_id, r.max_wait_ms, r.min_bytes, r.max_bytes),
                    (-1, 500, 1, 50 << 20)
                );
                assert_eq!(r.isolation_level, 1);
                let session = if v >= 7 { (42, 3) } else { (0, -1) };
                assert_eq!((r.session_id, r.session_epoch), session);
                let t = r.topics.get(0).unwrap();
                if v >= 13 {
                    assert_eq!((t.topic, t.topic_id), ("", TOPIC_ID));
                } else {
                    assert_eq!((t.topic, t.topic_id), ("sensors", [0; 16]));
                }
                let p = t.partitions.get(0).unwrap();
                assert_eq!((p.partition, p.fetch_offset), (0, 100));
                assert_eq!(p.partition_max_bytes, 1 << 20);
                assert_eq!(p.current_leader_epoch, if v >= 9 { 5 } else { -1 });
                assert_eq!(p.last_fetched_epoch, if v >= 12 { 4 } else { -1 });
                let dir = if v >= 17 { TOPIC_ID } else { [0; 16] };
                assert_eq!(p.replica_directory_id, dir);
                let forgotten: Vec<_> = r
                    .forgotten_topics_data
                    .iter()
                    .map(|f| (f.topic, f.topic_id, f.partitions.iter().collect::<Vec<_>>()))
                    .collect();
                match v {
                    4 => assert!(forgotten.is_empty()),
                    7..=12 => assert_eq!(forgotten, [("old", [0; 16], vec![1, 2])]),
                    _ => assert_eq!(forgotten, [("", TOPIC_ID, vec![1, 2])]),
                }
                assert_eq!(r.rack_id, if v >= 11 { "rack-a" } else { "" });
                let cluster = if v >= 12 { Some("cluster-0") } else { None };
                assert_eq!(r.cluster_id, cluster);
                let state = if v >= 15 { (1, 5) } else { (-1, -1) };
                assert_eq!(
                    (r.replica_state.replica_id, r.replica_state.replica_epoch),
                    state
                );
            }
            "FetchResponse" => {
                let r: FetchResponse = response(&frame, v);
                let session = if v >= 7 { 42 } else { 0 }; // a field from v7
                assert_eq!((r.error_code, r.session_id), (0, session));
                let t = if v >= 13 {
                    r.topic_by_id(TOPIC_ID)
                } else {
                    r.topic("sensors")
                }
                .unwrap();
                let p = t.partition(0).unwrap();
                assert_eq!((p.error_code, p.high_watermark), (0, 2));
                let log_start = if v >= 5 { 0 } else { -1 }; // a field from v5
                assert_eq!((p.last_stable_offset, p.log_start_offset), (2, log_start));
                let aborted: Vec<_> = p
                    .aborted_transactions
                    .unwrap()
                    .iter()
                    .map(|a| (a.producer_id, a.first_offset))
                    .collect();
                assert_eq!(aborted, [(77, 1)]);
                assert_eq!(p.preferred_read_replica, if v >= 11 { 3 } else { -1 });
                if v >= 12 {
                    assert_eq!(
                        (p.diverging_epoch.epoch, p.diverging_epoch.end_offset),
                        (3, 90)
                    );
                    assert_eq!(
                        (p.current_leader.leader_id, p.current_leader.leader_epoch),
                        (2, 9)
                    );
                    assert_eq!((p.snapshot_id.end_offset, p.snapshot_id.epoch), (80, 2));
                } else {
                    assert_eq!(p.current_leader, FetchLeaderIdAndEpoch::default());
                }
                // One whole batch, then the first 30 bytes of the next: read in place, the
                // partial one reported, not an error.
                let mut batches = p.batches();
                let whole: Vec<_> = batches.by_ref().map(|b| b.unwrap()).collect();
                assert_eq!(whole.len(), 1);
                assert_eq!(whole[0].record_count(), 2);
                let records: Vec<_> = whole[0].records().unwrap().map(|r| r.unwrap()).collect();
                assert_eq!(records[0].key, Some(&b"sensor-7"[..]));
                assert_eq!(records[1].headers.get("unit"), Some(Some(&b"C"[..])));
                let (have, needed) = batches.partial().unwrap();
                assert_eq!(have, 30);
                assert_eq!(have + needed, whole[0].as_bytes().len());
                assert_eq!(p.record_sets().count(), 1);
                let empty = t.partition(1).unwrap();
                assert_eq!((empty.error_code, empty.records), (1, None));
                assert_eq!(empty.aborted_transactions, None);
                assert_eq!(empty.batches().count(), 0);
                let endpoints: Vec<_> = r
                    .node_endpoints
                    .iter()
                    .map(|e| (e.node_id, e.host, e.port, e.rack))
                    .collect();
                if v >= 16 {
                    assert_eq!(endpoints, [(2, "broker-2", 9093, Some("rack-b"))]);
                } else {
                    assert!(endpoints.is_empty());
                }
            }
            "InitProducerIdRequest" => {
                let r: InitProducerIdRequest = request(&frame, v);
                assert_eq!(
                    (r.transactional_id, r.transaction_timeout_ms),
                    (None, 60000)
                );
                let expected = if v >= 3 { (77, 3) } else { (-1, -1) };
                assert_eq!((r.producer_id, r.producer_epoch), expected);
            }
            "InitProducerIdResponse" => {
                let r: InitProducerIdResponse = response(&frame, v);
                assert_eq!(
                    (r.error_code, r.producer_id, r.producer_epoch),
                    (0, 4000, 1)
                );
            }
            "SaslHandshakeRequest" => {
                let r: SaslHandshakeRequest = request(&frame, v);
                assert_eq!(r.mechanism, "PLAIN");
            }
            "SaslHandshakeResponse" => {
                let r: SaslHandshakeResponse = response(&frame, v);
                assert_eq!(r.mechanisms, Array::from(&["PLAIN", "SCRAM-SHA-256"]));
            }
            "SaslAuthenticateRequest" => {
                let r: SaslAuthenticateRequest = request(&frame, v);
                assert_eq!(r.auth_bytes, b"\0user\0secret");
            }
            "SaslAuthenticateResponse" => {
                let r: SaslAuthenticateResponse = response(&frame, v);
                assert_eq!(
                    (r.error_code, r.error_message, r.auth_bytes),
                    (0, None, &b""[..])
                );
                assert_eq!(r.session_lifetime_ms, if v >= 1 { 3_600_000 } else { 0 });
            }
            other => panic!("unknown message {other}"),
        }
    }
    assert_eq!(seen, 51);
}
