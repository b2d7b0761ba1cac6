//! The four codecs side by side on what a sensor node sends: a batch of 1000 JSON readings
//! (`{"sensor":"node-3","seq":123,"temp_c":21.57,"humidity":48.2}`, keyed by node). For each
//! codec: the compression ratio (printed once; the records section before and after), and the
//! speed of `compress_batch` (finished plain batch → compressed batch) and of
//! `RecordBatch::decompress_into`, both as MB/s of uncompressed records.
//!
//! ```text
//! cargo bench --bench compression --features lz4,gzip,snappy,zstd
//! ```

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedded_kafka::record::{
    BatchHeader, Compression, RecordBatch, RecordBatchBuilder, compress_batch,
    compressed_batch_bound,
};
use std::hint::black_box;

const RECORDS: usize = 1000;
const HEADER: usize = 61;

const CODECS: [(Compression, &str); 4] = [
    (Compression::Lz4, "lz4"),
    (Compression::Snappy, "snappy"),
    (Compression::Gzip, "gzip"),
    (Compression::Zstd, "zstd"),
];

/// A plain batch of sensor readings with a deterministic wobble, as a node would batch them.
fn plain_batch() -> Vec<u8> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
    let mut x = 0x2545_f491u32;
    for seq in 0..RECORDS {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let node = seq % 8;
        let value = format!(
            "{{\"sensor\":\"node-{node}\",\"seq\":{seq},\"temp_c\":{}.{:02},\"humidity\":{}.{}}}",
            18 + x % 8,
            x / 8 % 100,
            40 + x / 800 % 20,
            x / 16_000 % 10
        );
        let key = format!("node-{node}");
        b.append(
            1_764_000_000_000 + seq as i64 * 1000,
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &[],
        )
        .unwrap();
    }
    b.finish().unwrap().to_vec()
}

fn compression(c: &mut Criterion) {
    let plain = plain_batch();
    let records = plain.len() - HEADER;
    let mut g = c.benchmark_group("sensor_json_1000");
    g.throughput(Throughput::Bytes(records as u64));
    eprintln!("records section: {records} bytes uncompressed");
    for (codec, name) in CODECS {
        let bound = compressed_batch_bound(codec, plain.len()).unwrap();
        let mut out = vec![0u8; bound];
        let n = compress_batch(&plain, codec, &mut out).unwrap();
        eprintln!(
            "{name:>6}: {} bytes compressed, ratio {:.2} (bound {} bytes)",
            n - HEADER,
            records as f64 / (n - HEADER) as f64,
            bound - HEADER
        );
        g.bench_function(BenchmarkId::new("compress", name), |b| {
            b.iter(|| black_box(compress_batch(black_box(&plain), codec, &mut out).unwrap()))
        });
        let compressed = out[..n].to_vec();
        let batch = RecordBatch::parse(&compressed).unwrap().complete().unwrap();
        let mut scratch = vec![0u8; records];
        g.bench_function(BenchmarkId::new("decompress", name), |b| {
            b.iter(|| black_box(batch.decompress_into(&mut scratch).unwrap()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = compression
}
criterion_main!(benches);
