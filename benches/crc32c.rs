//! CRC-32C throughput: this crate's backends against the crates.io alternatives.
//!
//! Run with `cargo bench --bench crc32c --features std`; `std` makes the default path use
//! runtime SSE4.2 detection (see BENCHMARKS-crc32c.md for figures).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedded_kafka::record::{crc32c, crc32c_backends};

const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (16 * 1024, "16KiB"),
    (100 * 1024, "100KiB"),
];

const ISCSI_TABLE1: crc::Crc<u32, crc::Table<1>> =
    crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISCSI);
const ISCSI_TABLE16: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// Deterministic pseudo-random bytes (xorshift64).
fn noise(len: usize) -> Vec<u8> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s.to_le_bytes()[5]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = noise(SIZES[SIZES.len() - 1].0);
    println!(
        "embedded-kafka crc32c backend: {}",
        crc32c_backends::selected()
    );

    // Every CRC-32C under test must agree before any of them is timed.
    for (len, _) in SIZES {
        let d = &data[..len];
        let expected = crc32c(d);
        assert_eq!(crc32c_backends::bytewise(d), expected);
        assert_eq!(crc32c_backends::slice8(d), expected);
        assert_eq!(ISCSI_TABLE1.checksum(d), expected);
        assert_eq!(ISCSI_TABLE16.checksum(d), expected);
        assert_eq!(crc32c::crc32c(d), expected);
        assert_eq!(crc_fast::crc32_iscsi(d), expected);
    }

    let mut group = c.benchmark_group("crc32c");
    for (len, label) in SIZES {
        let d = &data[..len];
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("embedded-kafka", label), d, |b, d| {
            b.iter(|| crc32c(black_box(d)))
        });
        group.bench_with_input(
            BenchmarkId::new("embedded-kafka/slice8", label),
            d,
            |b, d| b.iter(|| crc32c_backends::slice8(black_box(d))),
        );
        group.bench_with_input(
            BenchmarkId::new("embedded-kafka/bytewise", label),
            d,
            |b, d| b.iter(|| crc32c_backends::bytewise(black_box(d))),
        );
        group.bench_with_input(BenchmarkId::new("crc/Table1", label), d, |b, d| {
            b.iter(|| ISCSI_TABLE1.checksum(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("crc/Table16", label), d, |b, d| {
            b.iter(|| ISCSI_TABLE16.checksum(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("crc32c", label), d, |b, d| {
            b.iter(|| crc32c::crc32c(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("crc-fast", label), d, |b, d| {
            b.iter(|| crc_fast::crc32_iscsi(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("crc32fast-IEEE", label), d, |b, d| {
            b.iter(|| crc32fast::hash(black_box(d)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
