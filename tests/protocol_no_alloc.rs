//! A Metadata response with 10,000 partitions decodes, and is walked to the last replica id,
//! without a single heap allocation: arrays are lazy views over the receive buffer, checked
//! once when the message is decoded. So does a Fetch response, down to every record's key,
//! value and headers. A counting global allocator proves it (counting per thread, so that the
//! tests can run side by side).

use embedded_kafka::protocol::{
    Array, Decode, Encode, FetchResponse, FetchableTopicResponse, MetadataResponse,
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic, PartitionData,
};
use embedded_kafka::record::{BatchHeader, Header, RecordBatchBuilder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Allocations made by this thread (a const-initialised `Cell`: reading it never allocates).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ten_thousand_partitions_without_allocating() {
    const PARTITIONS: usize = 10_000;
    let replicas = [1, 2, 3];
    let partitions: Vec<MetadataResponsePartition<'_>> = (0..PARTITIONS as i32)
        .map(|i| MetadataResponsePartition {
            partition_index: i,
            leader_id: i % 3 + 1,
            leader_epoch: 4,
            replica_nodes: Array::from(&replicas),
            isr_nodes: Array::from(&replicas[..2]),
            ..Default::default()
        })
        .collect();
    let topics = [MetadataResponseTopic {
        name: Some("telemetry"),
        topic_id: [9; 16],
        partitions: Array::new(&partitions),
        ..Default::default()
    }];
    let brokers = [
        MetadataResponseBroker {
            node_id: 1,
            host: "b1",
            port: 9092,
            ..Default::default()
        },
        MetadataResponseBroker {
            node_id: 2,
            host: "b2",
            port: 9092,
            ..Default::default()
        },
        MetadataResponseBroker {
            node_id: 3,
            host: "b3",
            port: 9092,
            ..Default::default()
        },
    ];
    let response = MetadataResponse {
        brokers: Array::from(&brokers),
        topics: Array::from(&topics),
        ..Default::default()
    };
    let mut bytes = vec![0u8; response.encoded_len(12)];
    response.encode_to_slice(&mut bytes, 12).unwrap();

    let before = allocations();
    let decoded = MetadataResponse::decode_exact(&bytes, 12).unwrap();
    let mut count = 0usize;
    let mut leaders = [0usize; 4];
    let mut replica_sum = 0i64;
    for topic in decoded.topics {
        for p in topic.partitions {
            count += 1;
            leaders[p.leader_id as usize] += 1;
            replica_sum += p.replica_nodes.iter().map(i64::from).sum::<i64>();
        }
    }
    let equal = decoded == response;
    let after = allocations();

    assert_eq!(after - before, 0, "decoding and walking allocated");
    assert_eq!(count, PARTITIONS);
    assert_eq!(leaders[1..], [3334, 3333, 3333]);
    assert_eq!(replica_sum, 6 * PARTITIONS as i64);
    assert!(equal);
    // The whole decoded message is a few words.
    assert!(
        std::mem::size_of::<MetadataResponse<'_>>() <= 160,
        "{} bytes",
        std::mem::size_of::<MetadataResponse<'_>>()
    );
}

#[test]
fn a_fetch_response_read_to_every_record_without_allocating() {
    const PARTITIONS: usize = 100;
    const RECORDS: usize = 50;
    let batches: Vec<Vec<u8>> = (0..PARTITIONS)
        .map(|p| {
            let mut buf = vec![0u8; 8192];
            let header = BatchHeader {
                base_offset: 1000 * p as i64,
                ..BatchHeader::default()
            };
            let mut b = RecordBatchBuilder::new(&mut buf, header).unwrap();
            for i in 0..RECORDS {
                let n = [i as u8];
                let h = [Header::new("n", &n)];
                b.append(i as i64, Some(b"key"), Some(b"21.5"), &h).unwrap();
            }
            b.finish().unwrap().to_vec()
        })
        .collect();
    let partitions: Vec<PartitionData<'_>> = batches
        .iter()
        .enumerate()
        .map(|(p, batch)| PartitionData {
            partition_index: p as i32,
            records: Some(batch),
            ..Default::default()
        })
        .collect();
    let topics = [FetchableTopicResponse {
        topic_id: [9; 16],
        partitions: Array::new(&partitions),
        ..Default::default()
    }];
    let response = FetchResponse {
        responses: Array::from(&topics),
        ..Default::default()
    };
    let mut bytes = vec![0u8; response.encoded_len(17)];
    response.encode_to_slice(&mut bytes, 17).unwrap();

    let before = allocations();
    let decoded = FetchResponse::decode_exact(&bytes, 17).unwrap();
    let mut records = 0usize;
    let mut header_sum = 0usize;
    for topic in decoded.responses {
        for p in topic.partitions {
            for entry in p.record_sets() {
                let embedded_kafka::record::RecordSet::Batch(batch) = entry.unwrap() else {
                    unreachable!("only batches here")
                };
                for r in batch.records().unwrap() {
                    let r = r.unwrap();
                    records += usize::from(r.key == Some(b"key") && r.value == Some(b"21.5"));
                    header_sum += r
                        .headers
                        .iter()
                        .map(|h| usize::from(h.value.unwrap()[0]))
                        .sum::<usize>();
                }
            }
        }
    }
    let after = allocations();

    assert_eq!(after - before, 0, "decoding and walking allocated");
    assert_eq!(records, PARTITIONS * RECORDS);
    assert_eq!(header_sum, PARTITIONS * (0..RECORDS).sum::<usize>());
}
