//! A Metadata response with 10,000 partitions decodes, and is walked to the last replica id,
//! without a single heap allocation: arrays are lazy views over the receive buffer, checked
//! once when the message is decoded. A counting global allocator proves it.

use embedded_kafka::protocol::{
    Array, Decode, Encode, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
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

    let before = ALLOCATIONS.load(Ordering::SeqCst);
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
    let after = ALLOCATIONS.load(Ordering::SeqCst);

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
