//! Differential tests of record batches against kafka-python's own implementation
//! (`kafka.record.default_records`), in both directions:
//!
//! - batches built here are parsed by kafka-python with its CRC-32C check on, and every field
//!   it reads back must be what was put in;
//! - batches built by kafka-python are parsed here to the same fields, and building the same
//!   records here gives the very same bytes.
//!
//! Expectations are derived from the generated specs, never from either implementation's
//! output. Needs `scripts/setup-python` (the test fails, it does not skip, without it).

mod common;

use common::{XorShift64, hex, run_python, unhex};
use embedded_kafka::record::{BatchHeader, Header, RecordBatch, RecordBatchBuilder};
use rand_core::RngCore;

const BATCHES: usize = 400;

#[derive(Debug, Clone)]
struct Rec {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

#[derive(Debug, Clone)]
struct Spec {
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    records: Vec<Rec>,
}

fn bytes(rng: &mut XorShift64, max: u32) -> Option<Vec<u8>> {
    if rng.next_u32().is_multiple_of(8) {
        return None;
    }
    let len = match rng.next_u32() % 10 {
        0 => 0,
        1 => 64 + rng.next_u32() % 300, // lengths whose varint takes two bytes
        _ => rng.next_u32() % max,
    };
    let mut v = vec![0u8; len as usize];
    rng.fill_bytes(&mut v);
    Some(v)
}

fn header_key(rng: &mut XorShift64) -> String {
    const CHARS: &[char] = &['a', 'z', '-', '_', '0', 'é', 'ß', '中', '😀'];
    (0..rng.next_u32() % 10)
        .map(|_| CHARS[rng.next_u32() as usize % CHARS.len()])
        .collect()
}

fn spec(rng: &mut XorShift64) -> Spec {
    let idempotent = rng.next_u32().is_multiple_of(2);
    let base = 1_764_000_000_000i64 + i64::from(rng.next_u32() % 1_000_000);
    let n = 1 + rng.next_u32() % 20;
    let records = (0..n)
        .map(|_| Rec {
            timestamp: match rng.next_u32() % 6 {
                0 => base - i64::from(rng.next_u32() % 100_000), // earlier than the first
                1 => base + i64::from(rng.next_u32()),           // delta needing a long varlong
                _ => base + i64::from(rng.next_u32() % 5_000),
            },
            key: bytes(rng, 40),
            value: bytes(rng, 200),
            headers: (0..rng.next_u32() % 4)
                .map(|_| (header_key(rng), bytes(rng, 20)))
                .collect(),
        })
        .collect();
    Spec {
        producer_id: if idempotent {
            i64::from(rng.next_u32())
        } else {
            -1
        },
        producer_epoch: if idempotent {
            (rng.next_u32() % 100) as i16
        } else {
            -1
        },
        base_sequence: if idempotent {
            (rng.next_u32() % (i32::MAX as u32)) as i32
        } else {
            -1
        },
        transactional: idempotent && rng.next_u32().is_multiple_of(3),
        records,
    }
}

fn opt_hex(b: &Option<Vec<u8>>) -> String {
    b.as_deref().map_or_else(|| "null".to_owned(), hex)
}

/// The batch header a spec asks for; kafka-python always writes leader epoch 0.
fn header(s: &Spec, leader_epoch: i32) -> BatchHeader {
    BatchHeader {
        partition_leader_epoch: leader_epoch,
        producer_id: s.producer_id,
        producer_epoch: s.producer_epoch,
        base_sequence: s.base_sequence,
        transactional: s.transactional,
        ..BatchHeader::default()
    }
}

fn headers(r: &Rec) -> Vec<Header<'_>> {
    r.headers
        .iter()
        .map(|(k, v)| Header {
            key: k,
            value: v.as_deref(),
        })
        .collect()
}

fn build_here(s: &Spec, leader_epoch: i32) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 20];
    let mut b = RecordBatchBuilder::new(&mut buf, header(s, leader_epoch)).unwrap();
    for r in &s.records {
        b.append(
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &headers(r),
        )
        .unwrap();
    }
    b.finish().unwrap().to_vec()
}

/// Kafka's sequence arithmetic: sequences wrap from i32::MAX to 0.
fn last_sequence(base: i32, delta: i32) -> i32 {
    if base < 0 {
        return -1;
    }
    let last = i64::from(base) + i64::from(delta);
    if last > i64::from(i32::MAX) {
        (last - i64::from(i32::MAX) - 1) as i32
    } else {
        last as i32
    }
}

/// The canonical description (the format `tests/python/record_batches.py` prints) of the batch
/// a spec must produce.
fn describe(s: &Spec, leader_epoch: i32) -> String {
    let n = s.records.len() as i32;
    let first = s.records[0].timestamp;
    let max = s.records.iter().map(|r| r.timestamp).max().unwrap();
    let attributes = if s.transactional { 16 } else { 0 };
    let mut lines = vec![format!(
        "batch base_offset=0 leader_epoch={leader_epoch} magic=2 crc_ok=True attributes={attributes} \
         compression=0 timestamp_type=0 transactional={} control=False last_offset_delta={} \
         first_timestamp={first} max_timestamp={max} producer_id={} producer_epoch={} \
         base_sequence={} last_sequence={} count={n}",
        if s.transactional { "True" } else { "False" },
        n - 1,
        s.producer_id,
        s.producer_epoch,
        s.base_sequence,
        last_sequence(s.base_sequence, n - 1),
    )];
    for (i, r) in s.records.iter().enumerate() {
        let hs: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{}:{}", hex(k.as_bytes()), opt_hex(v)))
            .collect();
        lines.push(format!(
            "record offset={i} timestamp={} key={} value={} headers=[{}]",
            r.timestamp,
            opt_hex(&r.key),
            opt_hex(&r.value),
            hs.join(",")
        ));
    }
    lines.join(" | ")
}

fn json_opt_hex(b: &Option<Vec<u8>>) -> String {
    b.as_deref()
        .map_or_else(|| "null".to_owned(), |b| format!("\"{}\"", hex(b)))
}

fn to_json(s: &Spec) -> String {
    let records: Vec<String> = s
        .records
        .iter()
        .map(|r| {
            let hs: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| format!("[\"{}\",{}]", hex(k.as_bytes()), json_opt_hex(v)))
                .collect();
            format!(
                "{{\"timestamp\":{},\"key\":{},\"value\":{},\"headers\":[{}]}}",
                r.timestamp,
                json_opt_hex(&r.key),
                json_opt_hex(&r.value),
                hs.join(",")
            )
        })
        .collect();
    format!(
        "{{\"producer_id\":{},\"producer_epoch\":{},\"base_sequence\":{},\"transactional\":{},\"records\":[{}]}}",
        s.producer_id,
        s.producer_epoch,
        s.base_sequence,
        s.transactional,
        records.join(",")
    )
}

#[test]
fn kafka_python_reads_batches_built_here() {
    let mut rng = XorShift64::new(0x6b61_666b_6132);
    let specs: Vec<Spec> = (0..BATCHES).map(|_| spec(&mut rng)).collect();
    let input: String = specs
        .iter()
        .map(|s| format!("read {}\n", hex(&build_here(s, -1))))
        .collect();
    let out = String::from_utf8(run_python("record_batches.py", input.as_bytes())).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), specs.len());
    for (i, (s, got)) in specs.iter().zip(lines).enumerate() {
        assert_eq!(
            got,
            describe(s, -1),
            "batch {i}: kafka-python read something else"
        );
    }
}

#[test]
fn batches_built_by_kafka_python_parse_here_and_match_byte_for_byte() {
    let mut rng = XorShift64::new(0x7079_7468_6f6e);
    let specs: Vec<Spec> = (0..BATCHES).map(|_| spec(&mut rng)).collect();
    let input: String = specs
        .iter()
        .map(|s| format!("build {}\n", to_json(s)))
        .collect();
    let out = String::from_utf8(run_python("record_batches.py", input.as_bytes())).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), specs.len());
    for (i, (s, line)) in specs.iter().zip(lines).enumerate() {
        let theirs = unhex(line);
        let batch = RecordBatch::parse(&theirs)
            .unwrap_or_else(|e| panic!("batch {i}: {e}"))
            .complete()
            .unwrap_or_else(|| panic!("batch {i}: incomplete"));
        assert_eq!(batch.as_bytes().len(), theirs.len());
        assert_eq!(batch.partition_leader_epoch(), 0);
        assert_eq!(batch.producer_id(), s.producer_id);
        assert_eq!(batch.producer_epoch(), s.producer_epoch);
        assert_eq!(batch.base_sequence(), s.base_sequence);
        assert_eq!(batch.attributes().is_transactional(), s.transactional);
        assert_eq!(batch.record_count() as usize, s.records.len());
        assert_eq!(batch.base_timestamp(), s.records[0].timestamp);
        assert_eq!(
            batch.max_timestamp(),
            s.records.iter().map(|r| r.timestamp).max().unwrap()
        );
        let mut n = 0;
        for (j, (got, want)) in batch.records().unwrap().zip(&s.records).enumerate() {
            let got = got.unwrap_or_else(|e| panic!("batch {i} record {j}: {e}"));
            assert_eq!(got.offset, j as i64);
            assert_eq!(got.timestamp, want.timestamp);
            assert_eq!(got.key, want.key.as_deref());
            assert_eq!(got.value, want.value.as_deref());
            assert_eq!(got.headers.iter().collect::<Vec<_>>(), headers(want));
            n += 1;
        }
        assert_eq!(n, s.records.len());
        // Same records, same header: the same bytes, CRC included.
        assert_eq!(
            hex(&build_here(s, 0)),
            line,
            "batch {i}: bytes differ from kafka-python's"
        );
    }
}
