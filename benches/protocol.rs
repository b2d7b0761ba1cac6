//! Protocol messages against two peers, `kafka-protocol` (owned, heap-allocated messages) and
//! `rskafka`'s codec (its `protocol` module: owned messages, written into and read from a
//! `std::io` stream), in one run so that the ratios are fair:
//!
//! - encoding a Produce request of 1 topic × 3 partitions × 1000 records of 100 bytes, at v9
//!   (flexible) and v3: ours streamed into the frame by `ProduceRequestWriter` (values copied,
//!   or written in place by a closure); ours through the `ProduceRequest` repr, with the
//!   batches built first and with them built beforehand;
//!   kafka-protocol from the payload slices (records, `RecordBatchEncoder`, request, header) and
//!   with its `Record`s built beforehand; at v3, rskafka the same two ways (its `RecordBatch`es
//!   from the payloads, and with them built beforehand); and the floor, copying the payload once
//!   and one CRC-32C per partition over it;
//! - decoding a Metadata response of 100 topics × 10 partitions (v12, v9, v4), reading every
//!   partition's fields (and ours decoded only: it validates everything, builds nothing);
//!   rskafka at v4, the highest Metadata version it has;
//! - decoding a Produce response for 100 partitions (v9, v7, v3; rskafka at v7 and v3);
//! - decoding a Fetch response of 1 topic × 10 partitions × one batch of 100 records of 100
//!   bytes (v17 by topic id, v12 by name, v4), reading every record's offset, key and value
//!   (batches CRC-checked by both), and ours decoded only (records not walked).
//!
//! Every encoder's frame is checked to be byte for byte the same before it is timed, and every
//! decoder's walk to give the same sum.
//!
//! rskafka's `protocol` module is private unless its `unstable-fuzzing` feature is on (that is
//! how it is reached here; it is not rskafka's stable API), and it only has Produce v3..=v7
//! (it asserts `v <= 7`) and Metadata v0..=v4, hence the extra versions above.
//!
//! ```text
//! cargo bench --bench protocol --features std -- --warm-up-time 1 --measurement-time 3
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedded_kafka::protocol::{
    Array, FetchRequest, FetchResponse, FetchableTopicResponse, MetadataRequest, MetadataResponse,
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic, PartitionData,
    PartitionProduceData, PartitionProduceResponse, ProduceRequest, ProduceRequestWriter,
    ProduceResponse, Request, RequestHeader, Response, ResponseHeader, TopicProduceData,
    TopicProduceResponse,
};
use embedded_kafka::record::{BatchHeader, InPlace, RecordBatchBuilder, crc32c};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rskafka::protocol::api_key::ApiKey;
use rskafka::protocol::api_version::ApiVersion;
use rskafka::protocol::messages::{self as rk, ReadVersionedType, WriteVersionedType};
use rskafka::protocol::primitives::{Int16, Int32, NullableString, Records, String_, TaggedFields};
use rskafka::protocol::record::{
    ControlBatchOrRecords, Record as RkRecord, RecordBatch, RecordBatchCompression,
    RecordBatchTimestampType,
};
use std::hint::black_box;
use std::io::Cursor;

const PARTITIONS: usize = 3;
const RECORDS: usize = 1000;
const VALUE: usize = 100;
const TOPIC: &str = "bench-topic";
const CLIENT: &str = "bench-client";
const TS: i64 = 1_764_000_000_000;

/// The record values of one partition.
fn payloads(partition: usize) -> Vec<[u8; VALUE]> {
    (0..RECORDS)
        .map(|i| {
            let mut v = [0u8; VALUE];
            for (j, b) in v.iter_mut().enumerate() {
                *b = (partition * 7 + i * 31 + j) as u8;
            }
            v
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Encoding a Produce request

fn ours_streaming(buf: &mut [u8], version: i16, values: &[Vec<[u8; VALUE]>]) -> usize {
    let header = RequestHeader::new(1, Some(CLIENT));
    let mut request = ProduceRequestWriter::begin(buf, version, &header, None, -1, 30_000).unwrap();
    let mut topic = request.topic(TOPIC).unwrap();
    for (p, values) in values.iter().enumerate() {
        let mut partition = topic.partition(p as i32, BatchHeader::default()).unwrap();
        for (i, v) in values.iter().enumerate() {
            partition.append(TS + i as i64, None, Some(v), &[]).unwrap();
        }
        partition.finish().unwrap();
    }
    topic.finish().unwrap();
    request.finish().unwrap().len()
}

/// The streaming writer with each value written in place by a closure (`InPlace`), as a
/// serializer without a scratch buffer would.
fn ours_streaming_in_place(buf: &mut [u8], version: i16, values: &[Vec<[u8; VALUE]>]) -> usize {
    let header = RequestHeader::new(1, Some(CLIENT));
    let mut request = ProduceRequestWriter::begin(buf, version, &header, None, -1, 30_000).unwrap();
    let mut topic = request.topic(TOPIC).unwrap();
    for (p, values) in values.iter().enumerate() {
        let mut partition = topic.partition(p as i32, BatchHeader::default()).unwrap();
        for (i, v) in values.iter().enumerate() {
            let value = InPlace(|out: &mut [u8]| {
                let dst = out.get_mut(..VALUE).ok_or(())?;
                dst.copy_from_slice(v);
                Ok::<usize, ()>(VALUE)
            });
            partition
                .append_with(TS + i as i64, None::<&[u8]>, value, &[])
                .unwrap();
        }
        partition.finish().unwrap();
    }
    topic.finish().unwrap();
    request.finish().unwrap().len()
}

/// Builds one partition's batch into `buf` with `RecordBatchBuilder`; returns its length.
fn build_batch(buf: &mut [u8], values: &[[u8; VALUE]]) -> usize {
    let mut batch = RecordBatchBuilder::new(buf, BatchHeader::default()).unwrap();
    for (i, v) in values.iter().enumerate() {
        batch.append(TS + i as i64, None, Some(v), &[]).unwrap();
    }
    batch.finish().unwrap().len()
}

fn ours_repr(out: &mut [u8], version: i16, batches: [&[u8]; PARTITIONS]) -> usize {
    let partitions = [0, 1, 2].map(|p| PartitionProduceData {
        index: p as i32,
        records: Some(batches[p]),
        ..Default::default()
    });
    let topics = [TopicProduceData {
        name: TOPIC,
        partition_data: Array::from(&partitions),
        ..Default::default()
    }];
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: Array::from(&topics),
        ..Default::default()
    };
    request
        .encode_request(&RequestHeader::new(1, Some(CLIENT)), out, version)
        .unwrap()
}

/// What a kafka-protocol user builds from the payloads: one owned `Record` per value.
/// `RecordBatchEncoder` starts a new batch whenever `offset - sequence` changes, so without
/// idempotence the sequences must run from -1 alongside the offsets (a constant -1 gives a
/// batch per record); the batch's base sequence is then -1, as in ours.
fn kp_records(values: &[[u8; VALUE]]) -> Vec<Record> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: TS + i as i64,
            key: None,
            value: Some(Bytes::copy_from_slice(v)),
            headers: IndexMap::new(),
        })
        .collect()
}

/// kafka-protocol from its `Record`s: a batch per partition, then the request and header,
/// into a `BytesMut` sized up front.
fn kp_encode(version: i16, records: &[Vec<Record>]) -> BytesMut {
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    let partitions = records
        .iter()
        .enumerate()
        .map(|(p, records)| {
            let mut batch = BytesMut::with_capacity(61 + records.len() * (VALUE + 16));
            RecordBatchEncoder::encode(&mut batch, records, &options).unwrap();
            kp::produce_request::PartitionProduceData::default()
                .with_index(p as i32)
                .with_records(Some(batch.freeze()))
        })
        .collect();
    let request = kp::ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            kp::produce_request::TopicProduceData::default()
                .with_name(kp::TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(partitions),
        ]);
    let header = kp::RequestHeader::default()
        .with_request_api_key(0)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT)));
    let hv = kp::ProduceRequest::header_version(version);
    let size = header.compute_size(hv).unwrap() + request.compute_size(version).unwrap();
    let mut frame = BytesMut::with_capacity(4 + size);
    frame.put_i32(size as i32);
    header.encode(&mut frame, hv).unwrap();
    request.encode(&mut frame, version).unwrap();
    frame
}

/// What an rskafka user builds from one partition's payloads: one owned `Record` per value in
/// a `RecordBatch`. The batch header is ours (and kafka-protocol's): rskafka's own client
/// writes a `partition_leader_epoch` of 0 where these write -1, so it is set to -1 here for the
/// frames to be the same.
fn rk_batch(values: &[[u8; VALUE]]) -> RecordBatch {
    let records = values
        .iter()
        .enumerate()
        .map(|(i, v)| RkRecord {
            timestamp_delta: i as i64,
            offset_delta: i as i32,
            key: None,
            value: Some(v.to_vec()),
            headers: Vec::new(),
        })
        .collect();
    RecordBatch {
        base_offset: 0,
        partition_leader_epoch: -1,
        last_offset_delta: values.len() as i32 - 1,
        first_timestamp: TS,
        max_timestamp: TS + values.len() as i64 - 1,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records: ControlBatchOrRecords::Records(records),
        compression: RecordBatchCompression::NoCompression,
        is_transactional: false,
        timestamp_type: RecordBatchTimestampType::CreateTime,
    }
}

/// rskafka's request from its batches (consumed: `ProduceRequest` owns them).
fn rk_request(batches: Vec<RecordBatch>) -> rk::ProduceRequest {
    rk::ProduceRequest {
        transactional_id: NullableString(None),
        acks: Int16(-1),
        timeout_ms: Int32(30_000),
        topic_data: vec![rk::ProduceRequestTopicData {
            name: String_(TOPIC.to_string()),
            partition_data: batches
                .into_iter()
                .enumerate()
                .map(|(p, batch)| rk::ProduceRequestPartitionData {
                    index: Int32(p as i32),
                    records: Records(vec![batch]),
                })
                .collect(),
        }],
    }
}

/// The frame as rskafka's messenger sends it: the request header (v1 below Produce v9) and the
/// body written with `write_versioned` into one growing `Vec` (not sized up front, as in the
/// messenger), behind the size (the messenger writes it separately; here it is 4 placeholder
/// bytes patched at the end).
fn rk_encode(version: i16, request: &rk::ProduceRequest) -> Vec<u8> {
    let header = rk::RequestHeader {
        request_api_key: ApiKey::Produce,
        request_api_version: ApiVersion(Int16(version)),
        correlation_id: Int32(1),
        client_id: Some(NullableString(Some(CLIENT.to_string()))),
        tagged_fields: Some(TaggedFields::default()),
    };
    let mut frame = vec![0u8; 4];
    header
        .write_versioned(&mut frame, ApiVersion(Int16(1)))
        .unwrap();
    request
        .write_versioned(&mut frame, ApiVersion(Int16(version)))
        .unwrap();
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    frame
}

/// Panics, naming the first differing byte, unless `got` is `expected`.
fn same(got: &[u8], expected: &[u8], who: &str, version: i16) {
    let at = got.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        got.len() == expected.len() && at.is_none(),
        "{who} v{version}: {} bytes, expected {}; first difference at {at:?}",
        got.len(),
        expected.len()
    );
}

fn encode_produce(c: &mut Criterion) {
    let values: Vec<_> = (0..PARTITIONS).map(payloads).collect();
    let kp_prebuilt: Vec<_> = values.iter().map(|v| kp_records(v)).collect();
    let rk_prebuilt = rk_request(values.iter().map(|v| rk_batch(v)).collect());
    let mut buf = vec![0u8; 512 * 1024];
    let mut batch_bufs = vec![vec![0u8; 128 * 1024]; PARTITIONS];
    let mut prebuilt = vec![vec![0u8; 128 * 1024]; PARTITIONS];
    let lens: Vec<usize> = prebuilt
        .iter_mut()
        .zip(&values)
        .map(|(b, v)| build_batch(b, v))
        .collect();
    let prebuilt: Vec<&[u8]> = prebuilt.iter().zip(&lens).map(|(b, &n)| &b[..n]).collect();
    let prebuilt = [prebuilt[0], prebuilt[1], prebuilt[2]];

    let mut g = c.benchmark_group("produce_request_encode_3x1000x100B");
    g.throughput(Throughput::Bytes((PARTITIONS * RECORDS * VALUE) as u64));
    for version in [9i16, 3] {
        // The same frame from every encoder, before anything is timed.
        let n = ours_streaming(&mut buf, version, &values);
        let expected = buf[..n].to_vec();
        let n = ours_streaming_in_place(&mut buf, version, &values);
        same(&buf[..n], &expected, "streaming, in place", version);
        let mut out = vec![0u8; 512 * 1024];
        let m = ours_repr(&mut out, version, prebuilt);
        same(&out[..m], &expected, "repr", version);
        let (_, decoded) = ProduceRequest::decode_request(&expected[4..]).unwrap();
        assert_eq!(
            decoded.topic_data.get(0).unwrap().partition_data.len(),
            PARTITIONS
        );
        same(
            &kp_encode(version, &kp_prebuilt),
            &expected,
            "kafka-protocol",
            version,
        );
        // rskafka has Produce v3..=v7 only.
        let rskafka = version <= 7;
        if rskafka {
            same(
                &rk_encode(version, &rk_prebuilt),
                &expected,
                "rskafka",
                version,
            );
        }

        g.bench_function(
            BenchmarkId::new("embedded-kafka streaming writer", version),
            |b| b.iter(|| black_box(ours_streaming(&mut buf, version, black_box(&values)))),
        );
        g.bench_function(
            BenchmarkId::new("embedded-kafka streaming writer, values in place", version),
            |b| {
                b.iter(|| {
                    black_box(ours_streaming_in_place(
                        &mut buf,
                        version,
                        black_box(&values),
                    ))
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("embedded-kafka repr, batches built + encoded", version),
            |b| {
                b.iter(|| {
                    let [b0, b1, b2] = &mut batch_bufs[..] else {
                        unreachable!()
                    };
                    let n0 = build_batch(b0, &values[0]);
                    let n1 = build_batch(b1, &values[1]);
                    let n2 = build_batch(b2, &values[2]);
                    black_box(ours_repr(
                        &mut out,
                        version,
                        [&b0[..n0], &b1[..n1], &b2[..n2]],
                    ))
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("embedded-kafka repr, pre-built batches", version),
            |b| b.iter(|| black_box(ours_repr(&mut out, version, black_box(prebuilt)))),
        );
        g.bench_function(
            BenchmarkId::new("kafka-protocol from payloads", version),
            |b| {
                b.iter(|| {
                    let records: Vec<_> = values.iter().map(|v| kp_records(v)).collect();
                    black_box(kp_encode(version, &records).len())
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("kafka-protocol, Records pre-built", version),
            |b| b.iter(|| black_box(kp_encode(version, black_box(&kp_prebuilt)).len())),
        );
        if rskafka {
            g.bench_function(BenchmarkId::new("rskafka from payloads", version), |b| {
                b.iter(|| {
                    let request = rk_request(values.iter().map(|v| rk_batch(v)).collect());
                    black_box(rk_encode(version, &request).len())
                })
            });
            g.bench_function(
                BenchmarkId::new("rskafka, RecordBatches pre-built", version),
                |b| b.iter(|| black_box(rk_encode(version, black_box(&rk_prebuilt)).len())),
            );
        }
    }
    g.bench_function(BenchmarkId::new("floor", "copy+crc32c"), |b| {
        b.iter(|| {
            let mut at = 0;
            let mut crc = 0;
            for values in &values {
                let start = at;
                for v in values {
                    buf[at..at + VALUE].copy_from_slice(v);
                    at += VALUE;
                }
                crc ^= crc32c(&buf[start..at]);
            }
            black_box(crc)
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding a Metadata response

const TOPICS: usize = 100;
const TOPIC_PARTITIONS: usize = 10;

/// A Metadata response frame (without the size prefix) of 3 brokers and 100 topics of 10
/// partitions, each with 3 replicas in sync.
fn metadata_frame(version: i16) -> Vec<u8> {
    let brokers: Vec<_> = (0..3)
        .map(|i| MetadataResponseBroker {
            node_id: i,
            host: "broker.example.internal",
            port: 9092,
            rack: Some("rack-a"),
            ..Default::default()
        })
        .collect();
    let replicas = [0, 1, 2];
    let partitions: Vec<_> = (0..TOPIC_PARTITIONS as i32)
        .map(|p| MetadataResponsePartition {
            partition_index: p,
            leader_id: p % 3,
            leader_epoch: 7,
            replica_nodes: Array::from(&replicas),
            isr_nodes: Array::from(&replicas),
            ..Default::default()
        })
        .collect();
    let names: Vec<String> = (0..TOPICS)
        .map(|t| format!("sensor-readings-{t:03}"))
        .collect();
    let topics: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(t, name)| MetadataResponseTopic {
            name: Some(name),
            topic_id: [t as u8; 16],
            partitions: Array::from(&partitions[..]),
            ..Default::default()
        })
        .collect();
    let response = MetadataResponse {
        brokers: Array::from(&brokers[..]),
        cluster_id: Some("bench-cluster"),
        controller_id: 1,
        topics: Array::from(&topics[..]),
        ..Default::default()
    };
    let mut out = vec![0u8; 256 * 1024];
    let n = response
        .encode_response(&ResponseHeader::new(9), &mut out, version)
        .unwrap();
    out.truncate(n);
    out.split_off(4)
}

fn ours_metadata(frame: &[u8], version: i16) -> i64 {
    let (header, response) = MetadataRequest::decode_response(frame, version).unwrap();
    let mut sum = i64::from(header.correlation_id);
    for broker in response.brokers.iter() {
        sum += i64::from(broker.port) + broker.host.len() as i64;
    }
    for topic in response.topics.iter() {
        sum += topic.name.map_or(0, str::len) as i64 + i64::from(topic.error_code);
        for p in topic.partitions.iter() {
            sum +=
                i64::from(p.partition_index) + i64::from(p.leader_id) + i64::from(p.leader_epoch);
            sum += p.replica_nodes.iter().map(i64::from).sum::<i64>();
            sum += p.isr_nodes.len() as i64;
        }
    }
    sum
}

fn kp_metadata(frame: &Bytes, version: i16) -> i64 {
    let mut buf = frame.clone();
    let hv = kp::MetadataResponse::header_version(version);
    let header = kp::ResponseHeader::decode(&mut buf, hv).unwrap();
    let response = kp::MetadataResponse::decode(&mut buf, version).unwrap();
    let mut sum = i64::from(header.correlation_id);
    for broker in &response.brokers {
        sum += i64::from(broker.port) + broker.host.len() as i64;
    }
    for topic in &response.topics {
        sum += topic.name.as_ref().map_or(0, |n| n.0.len()) as i64 + i64::from(topic.error_code);
        for p in &topic.partitions {
            sum +=
                i64::from(p.partition_index) + i64::from(p.leader_id.0) + i64::from(p.leader_epoch);
            sum += p.replica_nodes.iter().map(|n| i64::from(n.0)).sum::<i64>();
            sum += p.isr_nodes.len() as i64;
        }
    }
    sum
}

/// rskafka (Metadata v0..=v4): the response header (v0) and body with `read_versioned` from a
/// `Cursor` over the frame, then the same walk as the others, less the leader epoch (a v7
/// field it does not have).
fn rk_metadata(frame: &[u8], version: i16) -> i64 {
    let mut reader = Cursor::new(frame);
    let header = rk::ResponseHeader::read_versioned(&mut reader, ApiVersion(Int16(0))).unwrap();
    let response =
        rk::MetadataResponse::read_versioned(&mut reader, ApiVersion(Int16(version))).unwrap();
    assert_eq!(reader.position() as usize, frame.len());
    let mut sum = i64::from(header.correlation_id.0);
    for broker in &response.brokers {
        sum += i64::from(broker.port.0) + broker.host.0.len() as i64;
    }
    for topic in &response.topics {
        sum += topic.name.0.len() as i64 + i64::from(Int16::from(topic.error).0);
        for p in &topic.partitions {
            sum += i64::from(p.partition_index.0) + i64::from(p.leader_id.0);
            let replicas = p.replica_nodes.0.as_deref().unwrap_or_default();
            sum += replicas.iter().map(|n| i64::from(n.0)).sum::<i64>();
            sum += p.isr_nodes.0.as_ref().map_or(0, Vec::len) as i64;
        }
    }
    sum
}

fn decode_metadata(c: &mut Criterion) {
    let mut g = c.benchmark_group("metadata_response_decode_100x10");
    for version in [12i16, 9, 4] {
        let frame = metadata_frame(version);
        let bytes = Bytes::from(frame.clone());
        assert_eq!(ours_metadata(&frame, version), kp_metadata(&bytes, version));
        // rskafka has Metadata v0..=v4. Before v7 there is no leader epoch: ours and
        // kafka-protocol report -1 for it, rskafka has no field.
        let rskafka = version <= 4;
        if rskafka {
            assert_eq!(
                ours_metadata(&frame, version),
                rk_metadata(&frame, version) - (TOPICS * TOPIC_PARTITIONS) as i64
            );
        }
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(
            BenchmarkId::new("embedded-kafka decode only", version),
            |b| {
                b.iter(|| {
                    let (_, response) =
                        MetadataRequest::decode_response(black_box(&frame), version).unwrap();
                    black_box(response.topics.len())
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("embedded-kafka decode+walk", version),
            |b| b.iter(|| black_box(ours_metadata(black_box(&frame), version))),
        );
        g.bench_function(
            BenchmarkId::new("kafka-protocol decode+walk", version),
            |b| b.iter(|| black_box(kp_metadata(black_box(&bytes), version))),
        );
        if rskafka {
            g.bench_function(BenchmarkId::new("rskafka decode+walk", version), |b| {
                b.iter(|| black_box(rk_metadata(black_box(&frame), version)))
            });
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding a Produce response

const RESPONSE_PARTITIONS: usize = 100;

fn produce_response_frame(version: i16) -> Vec<u8> {
    let partitions: Vec<_> = (0..RESPONSE_PARTITIONS as i32)
        .map(|p| PartitionProduceResponse {
            index: p,
            base_offset: 1_000_000 + i64::from(p) * 1000,
            log_start_offset: 0,
            ..Default::default()
        })
        .collect();
    let topics = [TopicProduceResponse {
        name: TOPIC,
        partition_responses: Array::from(&partitions[..]),
        ..Default::default()
    }];
    let response = ProduceResponse {
        responses: Array::from(&topics),
        ..Default::default()
    };
    let mut out = vec![0u8; 64 * 1024];
    let n = response
        .encode_response(&ResponseHeader::new(5), &mut out, version)
        .unwrap();
    out.truncate(n);
    out.split_off(4)
}

fn ours_produce_response(frame: &[u8], version: i16) -> i64 {
    let (_, response) = ProduceRequest::decode_response(frame, version).unwrap();
    let mut sum = 0;
    for topic in response.responses.iter() {
        for p in topic.partition_responses.iter() {
            sum += i64::from(p.index) + i64::from(p.error_code) + p.base_offset;
        }
    }
    sum
}

fn kp_produce_response(frame: &Bytes, version: i16) -> i64 {
    let mut buf = frame.clone();
    let hv = kp::ProduceResponse::header_version(version);
    let _ = kp::ResponseHeader::decode(&mut buf, hv).unwrap();
    let response = kp::ProduceResponse::decode(&mut buf, version).unwrap();
    let mut sum = 0;
    for topic in &response.responses {
        for p in &topic.partition_responses {
            sum += i64::from(p.index) + i64::from(p.error_code) + p.base_offset;
        }
    }
    sum
}

/// rskafka (Produce v3..=v7): the response header (v0) and body with `read_versioned` from a
/// `Cursor` over the frame, then the same walk.
fn rk_produce_response(frame: &[u8], version: i16) -> i64 {
    let mut reader = Cursor::new(frame);
    let _ = rk::ResponseHeader::read_versioned(&mut reader, ApiVersion(Int16(0))).unwrap();
    let response =
        rk::ProduceResponse::read_versioned(&mut reader, ApiVersion(Int16(version))).unwrap();
    assert_eq!(reader.position() as usize, frame.len());
    let mut sum = 0;
    for topic in &response.responses {
        for p in &topic.partition_responses {
            sum += i64::from(p.index.0) + i64::from(Int16::from(p.error).0) + p.base_offset.0;
        }
    }
    sum
}

fn decode_produce_response(c: &mut Criterion) {
    let mut g = c.benchmark_group("produce_response_decode_100_partitions");
    for version in [9i16, 7, 3] {
        let frame = produce_response_frame(version);
        let bytes = Bytes::from(frame.clone());
        assert_eq!(
            ours_produce_response(&frame, version),
            kp_produce_response(&bytes, version)
        );
        // rskafka has Produce v3..=v7.
        let rskafka = version <= 7;
        if rskafka {
            assert_eq!(
                ours_produce_response(&frame, version),
                rk_produce_response(&frame, version)
            );
        }
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(
            BenchmarkId::new("embedded-kafka decode+walk", version),
            |b| b.iter(|| black_box(ours_produce_response(black_box(&frame), version))),
        );
        g.bench_function(
            BenchmarkId::new("kafka-protocol decode+walk", version),
            |b| b.iter(|| black_box(kp_produce_response(black_box(&bytes), version))),
        );
        if rskafka {
            g.bench_function(BenchmarkId::new("rskafka decode+walk", version), |b| {
                b.iter(|| black_box(rk_produce_response(black_box(&frame), version)))
            });
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding a Fetch response

const FETCH_PARTITIONS: usize = 10;
const FETCH_RECORDS: usize = 100;

fn fetch_response_frame(version: i16) -> Vec<u8> {
    let batches: Vec<Vec<u8>> = (0..FETCH_PARTITIONS)
        .map(|p| {
            let mut buf = vec![0u8; 64 * 1024];
            let header = BatchHeader {
                base_offset: 5_000 * p as i64,
                ..BatchHeader::default()
            };
            let mut b = RecordBatchBuilder::new(&mut buf, header).unwrap();
            for (i, v) in payloads(p).iter().take(FETCH_RECORDS).enumerate() {
                let key = format!("sensor-{i}");
                b.append(TS + i as i64, Some(key.as_bytes()), Some(v), &[])
                    .unwrap();
            }
            b.finish().unwrap().to_vec()
        })
        .collect();
    let partitions: Vec<_> = batches
        .iter()
        .enumerate()
        .map(|(p, batch)| PartitionData {
            partition_index: p as i32,
            high_watermark: 5_000 * p as i64 + FETCH_RECORDS as i64,
            last_stable_offset: 5_000 * p as i64 + FETCH_RECORDS as i64,
            log_start_offset: 0,
            aborted_transactions: Some(Array::EMPTY),
            records: Some(batch),
            ..Default::default()
        })
        .collect();
    let topics = [FetchableTopicResponse {
        topic: if version <= 12 { TOPIC } else { "" },
        topic_id: if version >= 13 { [7; 16] } else { [0; 16] },
        partitions: Array::from(&partitions[..]),
        ..Default::default()
    }];
    let response = FetchResponse {
        responses: Array::from(&topics),
        ..Default::default()
    };
    let mut out = vec![0u8; 256 * 1024];
    let n = response
        .encode_response(&ResponseHeader::new(11), &mut out, version)
        .unwrap();
    out.truncate(n);
    out.split_off(4)
}

/// Decodes the response and reads every record of every batch (CRC-checked by `batches()`).
fn ours_fetch(frame: &[u8], version: i16) -> i64 {
    let (_, response) = FetchRequest::decode_response(frame, version).unwrap();
    let mut sum = 0;
    for topic in response.responses.iter() {
        for p in topic.partitions.iter() {
            sum += p.high_watermark;
            for batch in p.batches() {
                for record in batch.unwrap().records().unwrap() {
                    let r = record.unwrap();
                    sum += r.offset
                        + r.key.map_or(0, <[u8]>::len) as i64
                        + r.value.map_or(0, <[u8]>::len) as i64;
                }
            }
        }
    }
    sum
}

fn kp_fetch(frame: &Bytes, version: i16) -> i64 {
    let mut buf = frame.clone();
    let hv = kp::FetchResponse::header_version(version);
    let _ = kp::ResponseHeader::decode(&mut buf, hv).unwrap();
    let response = kp::FetchResponse::decode(&mut buf, version).unwrap();
    let mut sum = 0;
    for topic in &response.responses {
        for p in &topic.partitions {
            sum += p.high_watermark;
            let mut records = p.records.clone().unwrap_or_default();
            for set in RecordBatchDecoder::decode_all(&mut records).unwrap() {
                for r in &set.records {
                    sum += r.offset
                        + r.key.as_ref().map_or(0, |k| k.len()) as i64
                        + r.value.as_ref().map_or(0, |v| v.len()) as i64;
                }
            }
        }
    }
    sum
}

fn decode_fetch_response(c: &mut Criterion) {
    let mut g = c.benchmark_group("fetch_response_decode_10x100");
    for version in [17i16, 12, 4] {
        let frame = fetch_response_frame(version);
        let bytes = Bytes::from(frame.clone());
        assert_eq!(ours_fetch(&frame, version), kp_fetch(&bytes, version));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(
            BenchmarkId::new("embedded-kafka decode only", version),
            |b| {
                b.iter(|| {
                    let (_, response) =
                        FetchRequest::decode_response(black_box(&frame), version).unwrap();
                    black_box(response.responses.len())
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("embedded-kafka decode+records", version),
            |b| b.iter(|| black_box(ours_fetch(black_box(&frame), version))),
        );
        g.bench_function(
            BenchmarkId::new("kafka-protocol decode+records", version),
            |b| b.iter(|| black_box(kp_fetch(black_box(&bytes), version))),
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    encode_produce,
    decode_metadata,
    decode_produce_response,
    decode_fetch_response
);
criterion_main!(benches);
