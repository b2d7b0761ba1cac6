//! Compressed record batches (gzip, snappy, LZ4, zstd) against real peers:
//!
//! - batches compressed here are read back by kafka-python (`tests/python/record_batches.py`:
//!   its own decompression, its CRC-32C check), record for record;
//! - batches kafka-python compresses, and the compressed batches it sent Tansu
//!   (`tests/fixtures/produce/v09-kafka-python-*`), are decompressed and read here;
//! - a Produce request carrying a batch compressed here goes to a real Tansu, and
//!   kafka-python's consumer (`tests/python/consume.py`, CRCs checked) reads the records back.
//!
//! Needs `scripts/setup-python` and `scripts/setup-broker` (fails, does not skip, without them).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::broker::Broker;
use common::{XorShift64, fixtures, hex, run_python, unhex};
use embedded_kafka::protocol::{ProduceRequest, ProduceRequestWriter, Request, RequestHeader};
use embedded_kafka::record::{
    BatchHeader, CompressError, Compression, DecompressError, RecordBatch, RecordBatchBuilder,
    RecordBatches, compress_batch, compressed_batch_bound,
};
use rand_core::RngCore;

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

#[derive(Debug, Clone)]
struct Rec {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

/// Sensor-like JSON values (compressible) mixed with random bytes (not), in batches from one
/// record to past 64 KiB (several LZ4 blocks, several 32 KiB xerial snappy blocks).
fn records(rng: &mut XorShift64, n: u32) -> Vec<Rec> {
    let base = 1_764_000_000_000i64;
    (0..n)
        .map(|i| {
            let value = match rng.next_u32() % 5 {
                0 => None,
                1 => {
                    let mut v = vec![0u8; (rng.next_u32() % 300) as usize];
                    rng.fill_bytes(&mut v);
                    Some(v)
                }
                _ => Some(
                    format!(
                        "{{\"sensor\":\"node-{}\",\"seq\":{i},\"temp_c\":{}.{:02},\"humidity\":{}.{}}}",
                        rng.next_u32() % 8,
                        15 + rng.next_u32() % 15,
                        rng.next_u32() % 100,
                        30 + rng.next_u32() % 40,
                        rng.next_u32() % 10
                    )
                    .into_bytes(),
                ),
            };
            Rec {
                timestamp: base + i64::from(i) * 1000 + i64::from(rng.next_u32() % 50),
                key: (!rng.next_u32().is_multiple_of(3)).then(|| format!("node-{}", i % 8).into_bytes()),
                value,
            }
        })
        .collect()
}

fn batch_sizes(rng: &mut XorShift64) -> Vec<u32> {
    let mut sizes = vec![1, 2, 17, 1000, 2500];
    sizes.extend((0..10).map(|_| 1 + rng.next_u32() % 200));
    sizes
}

fn build_plain(recs: &[Rec]) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 20];
    let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
    for r in recs {
        b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &[])
            .unwrap();
    }
    b.finish().unwrap().to_vec()
}

fn compress(plain: &[u8], codec: Compression) -> Vec<u8> {
    let bound = compressed_batch_bound(codec, plain.len()).unwrap();
    let mut out = vec![0u8; bound];
    // One byte short of the bound is refused up front, naming the bound.
    assert_eq!(
        compress_batch(plain, codec, &mut out[..bound - 1]),
        Err(CompressError::BufferTooSmall {
            needed: bound,
            available: bound - 1
        })
    );
    let n = compress_batch(plain, codec, &mut out).unwrap();
    out.truncate(n);
    out
}

fn opt_hex(b: &Option<Vec<u8>>) -> String {
    b.as_deref().map_or_else(|| "null".to_owned(), hex)
}

/// What `record_batches.py read` prints for these records in a batch built here.
fn describe(recs: &[Rec], codec: Compression) -> String {
    let n = recs.len() as i32;
    let first = recs[0].timestamp;
    let max = recs.iter().map(|r| r.timestamp).max().unwrap();
    let c = codec.code();
    let mut lines = vec![format!(
        "batch base_offset=0 leader_epoch=-1 magic=2 crc_ok=True attributes={c} \
         compression={c} timestamp_type=0 transactional=False control=False last_offset_delta={} \
         first_timestamp={first} max_timestamp={max} producer_id=-1 producer_epoch=-1 \
         base_sequence=-1 last_sequence=-1 count={n}",
        n - 1,
    )];
    for (i, r) in recs.iter().enumerate() {
        lines.push(format!(
            "record offset={i} timestamp={} key={} value={} headers=[]",
            r.timestamp,
            opt_hex(&r.key),
            opt_hex(&r.value),
        ));
    }
    lines.join(" | ")
}

fn check_records(batch: &RecordBatch<'_>, recs: &[Rec], what: &str) {
    let mut scratch = vec![0u8; batch.decompressed_len().expect("size recorded")];
    let got: Vec<_> = batch
        .records_in(&mut scratch)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .map(|r| r.unwrap_or_else(|e| panic!("{what}: {e}")))
        .collect();
    assert_eq!(got.len(), recs.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(recs).enumerate() {
        assert_eq!(g.offset, i as i64, "{what} record {i}");
        assert_eq!(g.timestamp, w.timestamp, "{what} record {i}");
        assert_eq!(g.key, w.key.as_deref(), "{what} record {i}");
        assert_eq!(g.value, w.value.as_deref(), "{what} record {i}");
    }
}

#[test]
fn kafka_python_reads_batches_compressed_here() {
    let mut rng = XorShift64::new(0x636f_6d70_7265);
    let mut cases = Vec::new();
    for codec in CODECS {
        for n in batch_sizes(&mut rng) {
            let recs = records(&mut rng, n);
            let plain = build_plain(&recs);
            let compressed = compress(&plain, codec);
            // Read back here too, before kafka-python does.
            let batch = RecordBatch::parse(&compressed).unwrap().complete().unwrap();
            assert_eq!(batch.attributes().compression(), codec);
            assert_eq!(batch.decompressed_len(), Some(plain.len() - 61));
            check_records(&batch, &recs, &format!("{codec:?} x{n} here"));
            cases.push((codec, recs, compressed));
        }
    }
    let input: String = cases
        .iter()
        .map(|(_, _, c)| format!("read {}\n", hex(c)))
        .collect();
    let out = String::from_utf8(run_python("record_batches.py", input.as_bytes())).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((codec, recs, _), got) in cases.iter().zip(lines) {
        assert_eq!(
            got,
            describe(recs, *codec),
            "{codec:?} x{}: kafka-python read something else",
            recs.len()
        );
    }
}

fn json_opt_hex(b: &Option<Vec<u8>>) -> String {
    b.as_deref()
        .map_or_else(|| "null".to_owned(), |b| format!("\"{}\"", hex(b)))
}

fn to_json(recs: &[Rec], codec: Compression) -> String {
    let records: Vec<String> = recs
        .iter()
        .map(|r| {
            format!(
                "{{\"timestamp\":{},\"key\":{},\"value\":{},\"headers\":[]}}",
                r.timestamp,
                json_opt_hex(&r.key),
                json_opt_hex(&r.value),
            )
        })
        .collect();
    format!(
        "{{\"producer_id\":-1,\"producer_epoch\":-1,\"base_sequence\":-1,\"transactional\":false,\"compression\":{},\"records\":[{}]}}",
        codec.code(),
        records.join(",")
    )
}

#[test]
fn batches_compressed_by_kafka_python_decompress_here() {
    let mut rng = XorShift64::new(0x6b70_7a69_7021);
    let mut cases = Vec::new();
    for codec in CODECS {
        for n in batch_sizes(&mut rng) {
            cases.push((codec, records(&mut rng, n)));
        }
    }
    let input: String = cases
        .iter()
        .map(|(codec, recs)| format!("build {}\n", to_json(recs, *codec)))
        .collect();
    let out = String::from_utf8(run_python("record_batches.py", input.as_bytes())).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((codec, recs), line) in cases.iter().zip(lines) {
        let what = format!("kafka-python {codec:?} x{}", recs.len());
        let theirs = unhex(line);
        let batch = RecordBatch::parse(&theirs)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .complete()
            .unwrap();
        // kafka-python sends a batch uncompressed when compressing would not shrink it.
        let got = batch.attributes().compression();
        assert!(
            got == *codec || (got == Compression::None && recs.len() < 5),
            "{what}: {got:?}"
        );
        let plain_len = build_plain(recs).len() - 61;
        assert_eq!(batch.decompressed_len(), Some(plain_len), "{what}");
        check_records(&batch, recs, &what);
        // Too small a buffer is refused with the size it needs, and nothing panics.
        let mut short = vec![0u8; plain_len - 1];
        assert_eq!(
            batch.decompress_into(&mut short),
            Err(DecompressError::BufferTooSmall {
                needed: Some(plain_len),
                available: plain_len - 1
            }),
            "{what}"
        );
    }
}

/// LZ4 frames as Kafka never writes them but python-lz4 can: dependent blocks (matches reach
/// back into the previous block), block and content checksums, no content size.
#[test]
fn lz4_frames_with_linked_blocks_and_checksums_decompress_here() {
    let mut rng = XorShift64::new(0x6c7a_346c_696e);
    let cases: Vec<Vec<Rec>> = [3, 1000, 2500, 4000]
        .iter()
        .map(|&n| records(&mut rng, n))
        .collect();
    let input: String = cases
        .iter()
        .map(|recs| format!("lz4linked {}\n", to_json(recs, Compression::None)))
        .collect();
    let out = String::from_utf8(run_python("record_batches.py", input.as_bytes())).unwrap();
    for (recs, line) in cases.iter().zip(out.lines()) {
        let what = format!("linked lz4 x{}", recs.len());
        let theirs = unhex(line);
        let batch = RecordBatch::parse(&theirs).unwrap().complete().unwrap();
        assert_eq!(batch.attributes().compression(), Compression::Lz4);
        // No content size: the size cannot be known before decompressing.
        assert_eq!(batch.decompressed_len(), None, "{what}");
        let plain_len = build_plain(recs).len() - 61;
        let mut scratch = vec![0u8; plain_len];
        let got: Vec<_> = batch
            .records_in(&mut scratch)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .map(|r| r.unwrap().value.map(<[u8]>::to_vec))
            .collect();
        let want: Vec<_> = recs.iter().map(|r| r.value.clone()).collect();
        assert_eq!(got, want, "{what}");
        let mut short = vec![0u8; plain_len - 1];
        assert!(
            matches!(
                batch.decompress_into(&mut short),
                Err(DecompressError::BufferTooSmall { needed: None, .. })
            ),
            "{what}"
        );
        // A flipped byte in the compressed data is caught by a checksum or the decoder.
        let mut bad = theirs.clone();
        let at = 61 + (bad.len() - 61) / 2;
        bad[at] ^= 0x40;
        let bad = RecordBatch::parse_unverified(&bad)
            .unwrap()
            .complete()
            .unwrap();
        assert!(bad.decompress_into(&mut scratch).is_err(), "{what}");
    }
}

/// zstd frames as Kafka's Java client streams them: no content size, so the size is not known
/// before decompressing and a short buffer is found out by the decoder itself.
#[test]
fn zstd_frames_without_content_size_decompress_here() {
    let mut rng = XorShift64::new(0x7a73_7464_7374);
    let cases: Vec<Vec<Rec>> = [1, 300, 2500]
        .iter()
        .map(|&n| records(&mut rng, n))
        .collect();
    let input: String = cases
        .iter()
        .map(|recs| format!("zstdstream {}\n", to_json(recs, Compression::None)))
        .collect();
    let out = String::from_utf8(run_python("record_batches.py", input.as_bytes())).unwrap();
    for (recs, line) in cases.iter().zip(out.lines()) {
        let what = format!("zstd stream x{}", recs.len());
        let theirs = unhex(line);
        let batch = RecordBatch::parse(&theirs).unwrap().complete().unwrap();
        assert_eq!(batch.attributes().compression(), Compression::Zstd);
        assert_eq!(batch.decompressed_len(), None, "{what}");
        let plain_len = build_plain(recs).len() - 61;
        let mut scratch = vec![0u8; plain_len];
        let got: Vec<_> = batch
            .records_in(&mut scratch)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .map(|r| r.unwrap().value.map(<[u8]>::to_vec))
            .collect();
        let want: Vec<_> = recs.iter().map(|r| r.value.clone()).collect();
        assert_eq!(got, want, "{what}");
        let mut short = vec![0u8; plain_len - 1];
        assert_eq!(
            batch.decompress_into(&mut short),
            Err(DecompressError::BufferTooSmall {
                needed: None,
                available: plain_len - 1
            }),
            "{what}"
        );
    }
}

#[test]
fn compressed_batches_kafka_python_sent_tansu_decompress_here() {
    let mut seen = 0;
    for f in fixtures::all() {
        let name = f.name();
        if !["-gzip", "-snappy", "-lz4", "-zstd"]
            .iter()
            .any(|c| name.ends_with(c))
        {
            continue;
        }
        let frame = f.request_frame();
        let (_, request) = ProduceRequest::decode_request(&frame[4..]).unwrap();
        for topic in request.topic_data.iter() {
            for partition in topic.partition_data.iter() {
                let Some(records) = partition.records else {
                    continue;
                };
                for batch in RecordBatches::new(records) {
                    let batch = batch.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let codec = batch.attributes().compression();
                    let mut scratch = vec![0u8; 1 << 16];
                    let got: Vec<_> = batch
                        .records_in(&mut scratch)
                        .unwrap_or_else(|e| panic!("{name} ({codec:?}): {e}"))
                        .collect::<Result<_, _>>()
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(got.len() as i32, batch.record_count(), "{name}");
                    assert!(got.iter().all(|r| r.value.is_some()), "{name}");
                    if codec != Compression::None {
                        seen += 1;
                    }
                }
            }
        }
    }
    assert!(seen >= 8, "only {seen} compressed fixture batches found");
}

#[test]
fn compressed_partition_says_what_frame_size_it_needs() {
    let recs = records(&mut XorShift64::new(0x7369_7a65), 300);
    let plain = build_plain(&recs);
    let header = RequestHeader::new(1, Some("node"));
    for codec in CODECS {
        for version in [3, 8, 9, 11] {
            let what = format!("{codec:?} v{version}");
            let needed = {
                let mut small = vec![0u8; 300];
                let mut request =
                    ProduceRequestWriter::begin(&mut small, version, &header, None, -1, 1000)
                        .unwrap();
                let mut t = request.topic("readings").unwrap();
                match t.compressed_partition(0, &plain, codec) {
                    Err(CompressError::BufferTooSmall {
                        needed,
                        available: 300,
                    }) => needed,
                    other => panic!("{what}: {other:?}"),
                }
            };
            // The topic's and the partition's fields, plus the codec's bound for the batch.
            let bound = compressed_batch_bound(codec, plain.len()).unwrap();
            assert!(
                needed > bound && needed < bound + 64,
                "{what}: {needed} vs {bound}"
            );
            let mut frame = vec![0u8; needed - 1];
            let mut request =
                ProduceRequestWriter::begin(&mut frame, version, &header, None, -1, 1000).unwrap();
            let mut t = request.topic("readings").unwrap();
            assert!(
                matches!(
                    t.compressed_partition(0, &plain, codec),
                    Err(CompressError::BufferTooSmall { needed: n, .. }) if n == needed
                ),
                "{what}"
            );
            // Refused whole: the request is still valid and empty of partitions.
            assert_eq!(t.partition_count(), 0);
            drop(t);
            let mut frame = vec![0u8; needed + 16];
            let mut request =
                ProduceRequestWriter::begin(&mut frame, version, &header, None, -1, 1000).unwrap();
            let mut t = request.topic("readings").unwrap();
            t.compressed_partition(0, &plain, codec)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            t.finish().unwrap();
            let frame = request.finish().unwrap();
            let (_, body) = ProduceRequest::decode_request(&frame[4..]).unwrap();
            let records = body
                .topic_data
                .get(0)
                .unwrap()
                .partition_data
                .get(0)
                .unwrap()
                .records
                .unwrap();
            let batch = RecordBatch::parse(records).unwrap().complete().unwrap();
            assert_eq!(batch.attributes().compression(), codec, "{what}");
            check_records(&batch, &recs, &what);
        }
    }
}

/// Sends one request frame and reads one response frame.
fn round_trip(broker: &Broker, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(broker.addr()).expect("connect to the broker");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut frame = size.to_vec();
    frame.resize(4 + u32::from_be_bytes(size) as usize, 0);
    stream.read_exact(&mut frame[4..]).unwrap();
    frame
}

#[test]
fn tansu_stores_batches_compressed_here_and_kafka_python_consumes_them() {
    let broker = Broker::start();
    let mut rng = XorShift64::new(0x7461_6e73_7521);
    for (i, codec) in CODECS.into_iter().enumerate() {
        let topic = format!("compressed-{}", codec.code());
        broker.create_topic(&topic, 1);
        let recs = records(&mut rng, 300);
        let plain = build_plain(&recs);
        let mut frame = vec![0u8; 61 + compressed_batch_bound(codec, plain.len()).unwrap() + 256];
        let header = RequestHeader::new(100 + i as i32, Some("embedded-kafka-test"));
        let version = 9;
        let mut request =
            ProduceRequestWriter::begin(&mut frame, version, &header, None, -1, 30_000).unwrap();
        let mut t = request.topic(&topic).unwrap();
        t.compressed_partition(0, &plain, codec).unwrap();
        t.finish().unwrap();
        let sent = request.finish().unwrap().to_vec();
        assert!(sent.len() < plain.len(), "{codec:?} did not compress");

        let response = round_trip(&broker, &sent);
        let (_, response) = ProduceRequest::decode_response(&response[4..], version).unwrap();
        let codes: Vec<i16> = response
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
            .collect();
        assert_eq!(codes, [0], "{codec:?}");

        let input = format!("{} {topic} {}\n", broker.bootstrap(), recs.len());
        let out = String::from_utf8(run_python("consume.py", input.as_bytes())).unwrap();
        let lines: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(lines.len(), recs.len(), "{codec:?}: records read back");
        let hx = |b: &Option<Vec<u8>>| match b.as_deref() {
            None => "-".to_owned(),
            Some([]) => "~".to_owned(),
            Some(b) => hex(b),
        };
        for (j, (line, r)) in lines.iter().zip(&recs).enumerate() {
            let want = format!("0 {j} {} {} {} -", r.timestamp, hx(&r.key), hx(&r.value));
            assert_eq!(*line, want, "{codec:?} record {j}");
        }
    }
}
