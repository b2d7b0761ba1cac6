//! murmur2 and keyed partitioning throughput, next to the `murmur2` crate.
//!
//! Run: `cargo bench --bench murmur2 -- --warm-up-time 1 --measurement-time 3`
//!
//! The `murmur2` crate (0.1) is the only other Rust murmur2 on crates.io here that can compute
//! Kafka's variant: its endian-neutral `murmur2(data, seed)` with `KAFKA_SEED` is the same
//! function returned as `u32`. It is checked against the Java client's vectors before any
//! timing, so the comparison is between two implementations of the same hash.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedded_kafka::partition::{murmur2, partition_for_key};

/// Key lengths: a u64 id, a short name, a UUID string, and two longer keys.
const LENGTHS: [usize; 5] = [8, 16, 36, 64, 256];

/// UtilsTest.testMurmur2 (see tests/vectors/murmur2_java.txt).
const JAVA_VECTORS: [(&[u8], i32); 6] = [
    (b"21", -973_932_308),
    (b"foobar", -790_332_482),
    (b"a-little-bit-long-string", -985_981_536),
    (b"a-little-bit-longer-string", -1_486_304_829),
    (
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        -58_897_971,
    ),
    (b"abc", 479_470_107),
];

fn key(len: usize) -> Vec<u8> {
    if len == 36 {
        return b"123e4567-e89b-12d3-a456-426614174000".to_vec();
    }
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

fn other_crate(data: &[u8]) -> i32 {
    ::murmur2::murmur2(data, ::murmur2::KAFKA_SEED).cast_signed()
}

fn check_other_crate_matches_kafka() {
    for (key, expected) in JAVA_VECTORS {
        assert_eq!(murmur2(key), expected);
        assert_eq!(
            other_crate(key),
            expected,
            "the murmur2 crate differs from Kafka on {key:?}"
        );
    }
    for len in 0..=300 {
        let k = key(len);
        assert_eq!(
            other_crate(&k),
            murmur2(&k),
            "the murmur2 crate differs at length {len}"
        );
    }
}

fn bench(c: &mut Criterion) {
    check_other_crate_matches_kafka();

    let mut group = c.benchmark_group("murmur2");
    for len in LENGTHS {
        let k = key(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("embedded-kafka", len), &k, |b, k| {
            b.iter(|| murmur2(black_box(k)))
        });
        group.bench_with_input(BenchmarkId::new("murmur2-crate", len), &k, |b, k| {
            b.iter(|| other_crate(black_box(k)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("partition_for_key");
    for len in LENGTHS {
        let k = key(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("100-partitions", len), &k, |b, k| {
            b.iter(|| partition_for_key(black_box(k), black_box(100)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
