//! Building and finishing a batch of 1000 × 100-byte records, against the floor: copying the
//! same payload bytes once and computing one CRC-32C over them. Also reading the batch back.
//!
//! ```text
//! cargo bench --bench record_batch --features std
//! ```

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedded_kafka::record::{BatchHeader, RecordBatch, RecordBatchBuilder, crc32c};
use std::hint::black_box;

const RECORDS: usize = 1000;
const VALUE: usize = 100;

fn payloads() -> Vec<[u8; VALUE]> {
    (0..RECORDS)
        .map(|i| {
            let mut v = [0u8; VALUE];
            for (j, b) in v.iter_mut().enumerate() {
                *b = (i * 31 + j) as u8;
            }
            v
        })
        .collect()
}

fn build(c: &mut Criterion) {
    let values = payloads();
    let mut buf = vec![0u8; 128 * 1024];
    let mut g = c.benchmark_group("batch_1000x100B");
    g.throughput(Throughput::Bytes((RECORDS * VALUE) as u64));

    g.bench_function(BenchmarkId::new("build+finish", "embedded-kafka"), |b| {
        b.iter(|| {
            let mut batch = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
            let ts = 1_764_000_000_000i64;
            for (i, v) in values.iter().enumerate() {
                batch.append(ts + i as i64, None, Some(v), &[]).unwrap();
            }
            black_box(batch.finish().unwrap().len())
        })
    });

    g.bench_function(BenchmarkId::new("floor", "copy+crc32c"), |b| {
        b.iter(|| {
            let mut at = 0;
            for v in &values {
                buf[at..at + VALUE].copy_from_slice(v);
                at += VALUE;
            }
            black_box(crc32c(&buf[..at]))
        })
    });

    let mut owned = vec![0u8; 128 * 1024];
    let mut batch = RecordBatchBuilder::new(&mut owned, BatchHeader::default()).unwrap();
    for v in &values {
        batch.append(1, None, Some(v), &[]).unwrap();
    }
    let bytes = batch.finish().unwrap().to_vec();
    g.bench_function(
        BenchmarkId::new("parse+verify+iterate", "embedded-kafka"),
        |b| {
            b.iter(|| {
                let batch = RecordBatch::parse(black_box(&bytes))
                    .unwrap()
                    .complete()
                    .unwrap();
                let mut n = 0usize;
                for r in batch.records().unwrap() {
                    n += r.unwrap().value.map_or(0, <[u8]>::len);
                }
                black_box(n)
            })
        },
    );
    g.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
