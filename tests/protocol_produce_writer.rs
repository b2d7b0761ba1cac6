//! The streaming Produce request writer against the repr encoder: for random topics,
//! partitions and records, at every version, the frame `ProduceRequestWriter` builds in place
//! is byte for byte the frame `ProduceRequest::encode_request` writes for the same batches.
//! Plus the scope rules: a too-small buffer is an error, never a truncated frame, and an
//! abandoned scope leaves a valid request behind.

use embedded_kafka::protocol::{
    Array, PartitionProduceData, ProduceRequest, ProduceRequestWriter, Request, RequestHeader,
    TopicProduceData,
};
use embedded_kafka::record::{BatchHeader, RecordBatchBuilder, RecordBatches};
use embedded_kafka::wire::EncodeError;
use proptest::prelude::*;

type Rec = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

fn records() -> impl Strategy<Value = Vec<Rec>> {
    proptest::collection::vec(
        (
            1_600_000_000_000i64..1_800_000_000_000,
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        ),
        0..5,
    )
}

/// A topic name and its partitions, each an index and its records.
type TopicShape = (String, Vec<(i32, Vec<Rec>)>);

/// Topics, each with partitions, each with records.
fn request_shape() -> impl Strategy<Value = Vec<TopicShape>> {
    proptest::collection::vec(
        (
            "[a-z._-]{0,20}",
            proptest::collection::vec((any::<i32>(), records()), 0..4),
        ),
        0..4,
    )
}

fn batch_header(seq: i32) -> BatchHeader {
    BatchHeader {
        producer_id: 7,
        producer_epoch: 1,
        base_sequence: seq,
        ..BatchHeader::default()
    }
}

/// The batch bytes a standalone builder gives for `recs`.
fn standalone_batch(recs: &[Rec], seq: i32) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut b = RecordBatchBuilder::new(&mut buf, batch_header(seq)).unwrap();
    for (ts, k, v) in recs {
        b.append(*ts, k.as_deref(), v.as_deref(), &[]).unwrap();
    }
    b.finish().unwrap().to_vec()
}

/// The same request written by `ProduceRequestWriter` in place and by the repr encoder from
/// batches built separately: (streamed frame, repr frame).
fn streamed_and_repr(
    version: i16,
    shape: &[TopicShape],
    transactional_id: Option<&str>,
    acks: i16,
    timeout_ms: i32,
    correlation_id: i32,
) -> (Vec<u8>, Vec<u8>) {
    let header = RequestHeader::new(correlation_id, Some("producer-1"));

    // Streaming, in place.
    let mut frame = vec![0xa5u8; 128 * 1024];
    let mut req = ProduceRequestWriter::begin(
        &mut frame,
        version,
        &header,
        transactional_id,
        acks,
        timeout_ms,
    )
    .unwrap();
    for (name, partitions) in shape {
        let mut topic = req.topic(name).unwrap();
        for (i, (index, recs)) in partitions.iter().enumerate() {
            let mut p = topic.partition(*index, batch_header(i as i32)).unwrap();
            for (ts, k, v) in recs {
                p.append(*ts, k.as_deref(), v.as_deref(), &[]).unwrap();
            }
            p.finish().unwrap();
        }
        assert_eq!(topic.partition_count(), partitions.len());
        topic.finish().unwrap();
    }
    let streamed = req.finish().unwrap().to_vec();

    // The same request as a repr, batches built separately.
    let batches: Vec<Vec<Vec<u8>>> = shape
        .iter()
        .map(|(_, ps)| {
            ps.iter()
                .enumerate()
                .map(|(i, (_, recs))| standalone_batch(recs, i as i32))
                .collect()
        })
        .collect();
    let partition_data: Vec<Vec<PartitionProduceData<'_>>> = shape
        .iter()
        .zip(&batches)
        .map(|((_, ps), bs)| {
            ps.iter()
                .zip(bs)
                .map(|((index, _), b)| PartitionProduceData {
                    index: *index,
                    records: Some(b),
                    ..Default::default()
                })
                .collect()
        })
        .collect();
    let topics: Vec<TopicProduceData<'_>> = shape
        .iter()
        .zip(&partition_data)
        .map(|((name, _), ps)| TopicProduceData {
            name,
            partition_data: Array::new(ps),
            ..Default::default()
        })
        .collect();
    let repr = ProduceRequest {
        transactional_id,
        acks,
        timeout_ms,
        topic_data: Array::new(&topics),
        ..Default::default()
    };
    let mut out = vec![0u8; 128 * 1024];
    let n = repr.encode_request(&header, &mut out, version).unwrap();
    // It reads back as the request it was written from.
    let (_, decoded) = ProduceRequest::decode_request(&streamed[4..]).unwrap();
    assert_eq!(decoded, repr);
    (streamed, out[..n].to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_repr(
        version in 3i16..=11,
        shape in request_shape(),
        transactional_id in proptest::option::of("[a-z]{0,10}"),
        acks in prop_oneof![Just(-1i16), Just(0), Just(1)],
        timeout_ms in any::<i32>(),
        correlation_id in any::<i32>(),
    ) {
        let (streamed, repr) = streamed_and_repr(
            version, &shape, transactional_id.as_deref(), acks, timeout_ms, correlation_id,
        );
        prop_assert_eq!(&streamed[..], &repr[..]);

        // And it reads back, batches and all.
        let (_, decoded) = ProduceRequest::decode_request(&streamed[4..]).unwrap();
        for topic in decoded.topic_data {
            for p in topic.partition_data {
                for batch in RecordBatches::new(p.records.unwrap()) {
                    batch.unwrap();
                }
            }
        }
    }

    /// Whatever the buffer size, the writer either succeeds or reports `BufferTooSmall`, and
    /// what it finishes is always a valid request (the scopes that did not fit are gone).
    #[test]
    fn small_buffers_never_truncate(version in 3i16..=11, size in 0usize..400, recs in records()) {
        let mut frame = vec![0u8; size];
        let header = RequestHeader::new(1, None);
        let mut req = match ProduceRequestWriter::begin(&mut frame, version, &header, None, 1, 1000) {
            Ok(r) => r,
            Err(e) => {
                let ok = matches!(e, EncodeError::BufferTooSmall { available, .. } if available == size);
                prop_assert!(ok, "{:?}", e);
                return Ok(());
            }
        };
        let mut written = 0;
        'topics: for t in 0..3 {
            let Ok(mut topic) = req.topic(&format!("topic-{t}")) else { break };
            let mut topic_records = 0;
            for i in 0..2 {
                let Ok(mut p) = topic.partition(i, BatchHeader::default()) else {
                    if topic.finish().is_ok() {
                        written += topic_records;
                    }
                    break 'topics;
                };
                let mut appended = 0;
                for (ts, k, v) in &recs {
                    match p.append(*ts, k.as_deref(), v.as_deref(), &[]) {
                        Ok(()) => appended += 1,
                        Err(EncodeError::BufferTooSmall { needed, available }) => {
                            prop_assert!(needed > available);
                            break;
                        }
                        Err(e) => prop_assert!(false, "{:?}", e),
                    }
                }
                if p.finish().is_err() {
                    break;
                }
                topic_records += appended;
            }
            if topic.finish().is_err() {
                break;
            }
            written += topic_records;
        }
        let Ok(frame) = req.finish() else { return Ok(()) };
        let (_, decoded) = ProduceRequest::decode_request(&frame[4..]).unwrap();
        let mut read = 0;
        for topic in decoded.topic_data {
            for p in topic.partition_data {
                for batch in RecordBatches::new(p.records.unwrap()) {
                    read += batch.unwrap().record_count() as usize;
                }
            }
        }
        prop_assert_eq!(read, written);
    }
}

#[test]
fn dropped_scopes_are_rolled_back() {
    let header = RequestHeader::new(5, Some("c"));
    let mut frame = [0u8; 1024];
    let mut req = ProduceRequestWriter::begin(&mut frame, 11, &header, None, -1, 100).unwrap();
    {
        let mut topic = req.topic("kept").unwrap();
        {
            let mut p = topic.partition(0, BatchHeader::default()).unwrap();
            p.append(1, None, Some(b"v"), &[]).unwrap();
            // Dropped unfinished: partition 0 vanishes.
        }
        let mut p = topic.partition(1, BatchHeader::default()).unwrap();
        p.append(2, None, Some(b"w"), &[]).unwrap();
        p.finish().unwrap();
        topic.finish().unwrap();
    }
    {
        let mut topic = req.topic("dropped").unwrap();
        let mut p = topic.partition(0, BatchHeader::default()).unwrap();
        p.append(3, None, Some(b"x"), &[]).unwrap();
        p.finish().unwrap();
        // The topic is dropped unfinished: it vanishes with its finished partition.
    }
    assert_eq!(req.topic_count(), 1);
    let frame = req.finish().unwrap();
    let (_, body) = ProduceRequest::decode_request(&frame[4..]).unwrap();
    assert_eq!(body.topic_data.len(), 1);
    let topic = body.topic_data.get(0).unwrap();
    assert_eq!(topic.name, "kept");
    assert_eq!(topic.partition_data.len(), 1);
    assert_eq!(topic.partition_data.get(0).unwrap().index, 1);
}

#[test]
fn unsupported_versions_are_refused() {
    let mut frame = [0u8; 64];
    for version in [2, 12] {
        assert_eq!(
            ProduceRequestWriter::begin(
                &mut frame,
                version,
                &RequestHeader::new(0, None),
                None,
                1,
                1
            )
            .unwrap_err(),
            EncodeError::UnsupportedVersion { api: 0, version }
        );
    }
}

#[test]
fn empty_batches_are_empty_records() {
    let mut frame = [0u8; 256];
    let mut req =
        ProduceRequestWriter::begin(&mut frame, 9, &RequestHeader::new(0, None), None, 1, 1)
            .unwrap();
    let mut topic = req.topic("t").unwrap();
    topic
        .partition(3, BatchHeader::default())
        .unwrap()
        .finish()
        .unwrap();
    topic.finish().unwrap();
    let frame = req.finish().unwrap();
    let (_, body) = ProduceRequest::decode_request(&frame[4..]).unwrap();
    let p = body
        .topic_data
        .get(0)
        .unwrap()
        .partition_data
        .get(0)
        .unwrap();
    assert_eq!((p.index, p.records), (3, Some(&[][..])));
}

/// A flexible version's records length is reserved only as wide as the room left could need.
/// Across buffer sizes that put that width at 1, 2 and 3 bytes, a partition filled with as
/// many records as fit (so its length lands on and just under each width's limit) still gives
/// exactly the repr's frame.
#[test]
fn records_length_slots_sized_by_the_room_left() {
    let value = [0x5au8; 40];
    let header = RequestHeader::new(3, Some("c"));
    let mut compared = 0;
    for size in (60..700).chain(16_300..16_500) {
        let mut frame = vec![0u8; size];
        let Ok(mut req) = ProduceRequestWriter::begin(&mut frame, 9, &header, None, 1, 10) else {
            continue;
        };
        let mut records = Vec::new();
        {
            let Ok(mut topic) = req.topic("t") else {
                continue;
            };
            let Ok(mut p) = topic.partition(0, batch_header(0)) else {
                continue;
            };
            for i in 0.. {
                let len = (i % 41) as usize;
                let ts = 1_700_000_000_000 + i64::from(i);
                if p.append(ts, None, Some(&value[..len]), &[]).is_err() {
                    break;
                }
                records.push((ts, None, Some(value[..len].to_vec())));
            }
            if p.finish().is_err() || topic.finish().is_err() {
                continue;
            }
        }
        let Ok(streamed) = req.finish() else { continue };
        let streamed = streamed.to_vec();

        let batch = standalone_batch(&records, 0);
        let partitions = [PartitionProduceData {
            index: 0,
            records: Some(&batch),
            ..Default::default()
        }];
        let topics = [TopicProduceData {
            name: "t",
            partition_data: Array::from(&partitions),
            ..Default::default()
        }];
        let repr = ProduceRequest {
            acks: 1,
            timeout_ms: 10,
            topic_data: Array::from(&topics),
            ..Default::default()
        };
        let mut out = vec![0u8; size + 16];
        let n = repr.encode_request(&header, &mut out, 9).unwrap();
        assert_eq!(streamed, &out[..n], "buffer of {size} bytes");
        compared += 1;
    }
    assert!(
        compared > 700,
        "only {compared} buffer sizes reached a frame"
    );
}

/// Counts of 127 or more take a wider varint than the one byte a count slot starts with: the
/// writer moves what follows forward when the scope finishes, byte for byte the repr's frame,
/// at every version; and with too little room for that move, finishing is `BufferTooSmall`
/// and the frame written so far stays valid.
#[test]
fn counts_past_one_varint_byte_move_what_follows() {
    let rec = vec![(1_700_000_000_000i64, None, Some(b"reading".to_vec()))];
    let wide_topic: Vec<TopicShape> =
        vec![("t".into(), (0..200).map(|p| (p, rec.clone())).collect())];
    let many_topics: Vec<TopicShape> = (0..130)
        .map(|t| (format!("t{t}"), vec![(0, rec.clone())]))
        .collect();
    for version in 3i16..=11 {
        for shape in [&wide_topic, &many_topics] {
            let (streamed, repr) = streamed_and_repr(version, shape, None, -1, 1000, 9);
            assert_eq!(streamed, repr, "v{version}, {} topics", shape.len());
        }
    }

    // One topic of 200 partitions at v9 in a buffer that holds everything before the topic's
    // finish but not the one byte the count's move needs (the finished frame also has the
    // topic's and the request's empty tagged sections: 3 bytes past that point).
    let (full, _) = streamed_and_repr(9, &wide_topic, None, -1, 1000, 9);
    let header = RequestHeader::new(9, Some("producer-1"));
    let mut frame = vec![0u8; full.len() - 3];
    let mut req = ProduceRequestWriter::begin(&mut frame, 9, &header, None, -1, 1000).unwrap();
    let mut topic = req.topic("t").unwrap();
    for p in 0..200 {
        let mut w = topic.partition(p, batch_header(p)).unwrap();
        w.append(1_700_000_000_000, None, Some(b"reading"), &[])
            .unwrap();
        w.finish().unwrap();
    }
    assert!(matches!(
        topic.finish(),
        Err(EncodeError::BufferTooSmall { .. })
    ));
    let frame = req.finish().unwrap();
    let (_, decoded) = ProduceRequest::decode_request(&frame[4..]).unwrap();
    assert_eq!(
        decoded.topic_data.len(),
        0,
        "the topic that did not fit is rolled back"
    );
}
