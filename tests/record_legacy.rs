//! Legacy message sets (magic 0 and 1, `src/record/legacy.rs`) against kafka-python's own
//! implementation (`kafka.record.legacy_records`, through `tests/python/legacy_records.py`), in
//! both directions:
//!
//! - message sets built by kafka-python's `LegacyRecordBatchBuilder` (magic 0 and 1, plain and
//!   compressed) are read here, CRC-checked, to the fields that were put in;
//! - message sets laid out here by hand from the format (KIP-32's v1, the v0 before it), with
//!   this crate's CRC-32, are read by kafka-python with its CRC check on, to the same fields.
//!
//! Then `RecordSets` over a records field mixing legacy messages and v2 batches, cut at every
//! byte (a broker cuts the last entry at its byte limit), and corrupted entries. Expectations
//! come from the specs (the record lists), never from either implementation's output. Needs
//! `scripts/setup-python` (fails, does not skip, without it).

mod common;

use common::{XorShift64, hex, run_python, unhex};
use embedded_kafka::record::{
    BatchHeader, Compression, LegacyMessage, LegacyMessages, RecordBatchBuilder, RecordSet,
    RecordSets, TimestampType, crc32,
};
use embedded_kafka::wire::{DecodeError, Status};
use rand_core::RngCore;

const SETS: usize = 200;

#[derive(Debug, Clone)]
struct Msg {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct Set {
    magic: i8,
    records: Vec<Msg>,
}

fn bytes(rng: &mut XorShift64, max: u32) -> Option<Vec<u8>> {
    if rng.next_u32().is_multiple_of(6) {
        return None;
    }
    let mut v = vec![0u8; (rng.next_u32() % max) as usize];
    rng.fill_bytes(&mut v);
    Some(v)
}

fn set(rng: &mut XorShift64, magic: i8) -> Set {
    let first = i64::from(rng.next_u32() % 1000);
    let records = (0..1 + rng.next_u32() % 8)
        .map(|i| Msg {
            offset: first + i64::from(i),
            timestamp: if rng.next_u32().is_multiple_of(5) {
                -1
            } else {
                1_764_000_000_000 + i64::from(rng.next_u32() % 1_000_000)
            },
            key: bytes(rng, 30),
            value: bytes(rng, 300),
        })
        .collect();
    Set { magic, records }
}

fn opt_hex(b: &Option<Vec<u8>>) -> String {
    b.as_deref().map_or_else(|| "null".into(), hex)
}

fn json_opt_hex(b: &Option<Vec<u8>>) -> String {
    b.as_deref()
        .map_or_else(|| "null".into(), |b| format!("\"{}\"", hex(b)))
}

fn to_json(s: &Set, compression: u8) -> String {
    let records: Vec<String> = s
        .records
        .iter()
        .map(|r| {
            format!(
                r#"{{"offset":{},"timestamp":{},"key":{},"value":{}}}"#,
                r.offset,
                r.timestamp,
                json_opt_hex(&r.key),
                json_opt_hex(&r.value)
            )
        })
        .collect();
    format!(
        r#"{{"magic":{},"compression":{compression},"records":[{}]}}"#,
        s.magic,
        records.join(",")
    )
}

/// What both sides must say about an uncompressed message set (see legacy_records.py).
fn describe(s: &Set) -> String {
    s.records
        .iter()
        .map(|r| {
            let ts = if s.magic == 0 {
                "none".to_string()
            } else {
                r.timestamp.to_string()
            };
            format!(
                "message offset={} magic={} crc_ok=True attributes=0 timestamp={ts} key={} value={}",
                r.offset,
                s.magic,
                opt_hex(&r.key),
                opt_hex(&r.value)
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Our reading of a message set in the same words.
fn describe_ours(data: &[u8]) -> String {
    let mut iter = LegacyMessages::new(data);
    let out: Vec<String> = iter
        .by_ref()
        .map(|m| {
            let m = m.unwrap_or_else(|e| panic!("{e}"));
            let ts = m
                .timestamp()
                .map_or_else(|| "none".into(), |t| t.to_string());
            format!(
                "message offset={} magic={} crc_ok={} attributes={} timestamp={ts} key={} value={}",
                m.offset(),
                m.magic(),
                if m.verify_crc().is_ok() {
                    "True"
                } else {
                    "False"
                },
                m.attributes(),
                opt_hex(&m.key().map(<[u8]>::to_vec)),
                opt_hex(&m.value().map(<[u8]>::to_vec))
            )
        })
        .collect();
    assert_eq!(iter.partial(), None);
    assert!(iter.remainder().is_empty());
    out.join(" | ")
}

/// A message set laid out by hand from the format, with this crate's CRC-32: what a broker
/// with old data stores.
fn build_here(s: &Set) -> Vec<u8> {
    let mut out = Vec::new();
    for r in &s.records {
        let mut body = vec![s.magic as u8, 0]; // magic, attributes
        if s.magic == 1 {
            body.extend_from_slice(&r.timestamp.to_be_bytes());
        }
        for field in [&r.key, &r.value] {
            match field {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(b) => {
                    body.extend_from_slice(&(b.len() as i32).to_be_bytes());
                    body.extend_from_slice(b);
                }
            }
        }
        out.extend_from_slice(&r.offset.to_be_bytes());
        out.extend_from_slice(&(4 + body.len() as i32).to_be_bytes());
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out.extend_from_slice(&body);
    }
    out
}

#[test]
fn crc32_is_ieee() {
    let mut rng = XorShift64::new(0x0043_5243_3332);
    for len in 0..300 {
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        assert_eq!(crc32(&data), crc32fast::hash(&data), "len {len}");
    }
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926); // the CRC catalogue's check value
}

#[test]
fn message_sets_built_by_kafka_python_read_here() {
    let mut rng = XorShift64::new(0x6c65_6761_6379);
    let sets: Vec<Set> = (0..SETS).map(|i| set(&mut rng, (i % 2) as i8)).collect();
    let input: String = sets
        .iter()
        .map(|s| format!("build {}\n", to_json(s, 0)))
        .collect();
    let out = String::from_utf8(run_python("legacy_records.py", input.as_bytes())).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), sets.len());
    for (i, (s, line)) in sets.iter().zip(lines).enumerate() {
        let theirs = unhex(line);
        assert_eq!(describe_ours(&theirs), describe(s), "set {i}");
        let mut n = 0;
        for (m, want) in LegacyMessages::new(&theirs).zip(&s.records) {
            let m = m.unwrap();
            assert_eq!(m.compression(), Compression::None);
            assert!(!m.is_compressed());
            let expected_type = (s.magic == 1).then_some(TimestampType::CreateTime);
            assert_eq!(m.timestamp_type(), expected_type, "set {i}");
            assert_eq!(
                (m.key(), m.value()),
                (want.key.as_deref(), want.value.as_deref())
            );
            n += 1;
        }
        assert_eq!(n, s.records.len());
        // The same records laid out here: the same bytes, CRCs included.
        assert_eq!(hex(&build_here(s)), line, "set {i}: bytes differ");
    }
}

#[test]
fn kafka_python_reads_message_sets_laid_out_here() {
    let mut rng = XorShift64::new(0x6f75_7273);
    let sets: Vec<Set> = (0..SETS).map(|i| set(&mut rng, (i % 2) as i8)).collect();
    let input: String = sets
        .iter()
        .map(|s| format!("read {}\n", hex(&build_here(s))))
        .collect();
    let out = String::from_utf8(run_python("legacy_records.py", input.as_bytes())).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), sets.len());
    for (i, (s, got)) in sets.iter().zip(lines).enumerate() {
        assert_eq!(
            got,
            describe(s),
            "set {i}: kafka-python read something else"
        );
    }
}

/// Compressed wrappers (gzip and snappy in magic 0 and 1, lz4 in 1) are recognised, CRC-checked and
/// reported with their codec, their value being the compressed inner set.
#[test]
fn compressed_wrappers_are_recognised() {
    let mut rng = XorShift64::new(0x7772_6170);
    let mut cases = Vec::new();
    // lz4 under magic 0 is Kafka 0.8's broken framing, which kafka-python writes only with
    // xxhash installed: gzip and snappy there.
    for (magic, codecs) in [(0, &[1u8, 2][..]), (1, &[1, 2, 3][..])] {
        for &codec in codecs {
            cases.push((set(&mut rng, magic), codec));
        }
    }
    let input: String = cases
        .iter()
        .map(|(s, codec)| format!("build {}\n", to_json(s, *codec)))
        .collect();
    let out = String::from_utf8(run_python("legacy_records.py", input.as_bytes())).unwrap();
    for ((s, codec), line) in cases.iter().zip(out.lines()) {
        let theirs = unhex(line);
        let all: Vec<_> = RecordSets::new(&theirs).collect();
        assert_eq!(all.len(), 1, "one wrapper");
        let Ok(RecordSet::Legacy(m)) = all[0] else {
            panic!("{:?}", all[0])
        };
        assert_eq!(m.magic(), s.magic);
        assert_eq!(m.compression(), Compression::from_code(*codec));
        assert!(m.is_compressed());
        assert!(m.value().is_some_and(|v| !v.is_empty()));
        m.verify_crc().unwrap();
    }
}

/// A records field holding legacy messages of both formats and then v2 batches, as a broker
/// returns for a partition whose log was upgraded: read in order, and cut at every byte, the
/// whole entries before the cut then a partial one.
#[test]
fn record_sets_mix_formats_and_stop_at_a_partial_entry() {
    let mut rng = XorShift64::new(0x006d_6978);
    let v0 = build_here(&set(&mut rng, 0));
    let v1 = build_here(&set(&mut rng, 1));
    let mut buf = [0u8; 256];
    let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
    b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
    let batch = b.finish().unwrap().to_vec();
    let wire = [v0.clone(), v1.clone(), batch.clone(), batch].concat();

    let mut ends = Vec::new();
    let mut magics = Vec::new();
    let mut at = 0;
    for entry in RecordSets::new(&wire) {
        let entry = entry.unwrap();
        let len = match entry {
            RecordSet::Batch(b) => b.as_bytes().len(),
            RecordSet::Legacy(m) => m.as_bytes().len(),
        };
        at += len;
        ends.push(at);
        magics.push(entry.magic());
    }
    assert_eq!(at, wire.len());
    let legacy = LegacyMessages::new(&v0).count() + LegacyMessages::new(&v1).count();
    assert_eq!(magics.len(), legacy + 2);
    assert_eq!(magics.iter().filter(|&&m| m == 2).count(), 2);

    for cut in 0..=wire.len() {
        let mut iter = RecordSets::new(&wire[..cut]);
        let whole = iter
            .by_ref()
            .map(|e| e.map(|_| ()))
            .collect::<Result<Vec<_>, _>>();
        let whole = whole.unwrap_or_else(|e| panic!("cut at {cut}: {e}")).len();
        assert_eq!(
            whole,
            ends.iter().filter(|&&e| e <= cut).count(),
            "cut {cut}"
        );
        let start = whole.checked_sub(1).map_or(0, |i| ends[i]);
        match iter.partial() {
            None => assert_eq!(cut, start, "cut {cut}"),
            Some((have, needed)) => {
                assert_eq!(have, cut - start, "cut {cut}");
                assert!(needed > 0);
            }
        }
    }

    // A legacy-only reader refuses the batches after the legacy messages.
    let mut only = LegacyMessages::new(&wire);
    assert_eq!(
        only.by_ref().take(legacy).filter(Result::is_ok).count(),
        legacy
    );
    assert_eq!(
        only.next(),
        Some(Err(DecodeError::BadMagic {
            expected: 1,
            found: 2
        }))
    );
    assert_eq!(only.next(), None);
}

#[test]
fn corrupt_messages_are_errors() {
    let s = Set {
        magic: 1,
        records: vec![Msg {
            offset: 7,
            timestamp: 1_700_000_000_000,
            key: Some(b"key".to_vec()),
            value: Some(b"value".to_vec()),
        }],
    };
    let good = build_here(&s);
    let parsed = LegacyMessage::parse(&good).unwrap();
    assert!(matches!(parsed, Status::Complete { consumed, .. } if consumed == good.len()));

    // Any flipped bit from the magic on is caught by the CRC (or, for the magic, refused).
    for i in 16..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        let r = LegacyMessage::parse(&bad);
        assert!(
            matches!(
                r,
                Err(DecodeError::CrcMismatch { .. } | DecodeError::BadMagic { .. })
            ),
            "byte {i}: {r:?}"
        );
    }
    // A key length past the message's end, with a CRC that matches.
    let mut long_key = good.clone();
    long_key[26..30].copy_from_slice(&100i32.to_be_bytes());
    let crc = crc32(&long_key[16..]);
    long_key[12..16].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        LegacyMessage::parse(&long_key),
        Err(DecodeError::Truncated {
            what: "legacy message key",
            needed: 100 - (good.len() - 30)
        })
    );
    // A size below the smallest message.
    let mut small = good.clone();
    small[8..12].copy_from_slice(&13i32.to_be_bytes());
    assert_eq!(
        LegacyMessage::parse(&small),
        Err(DecodeError::InvalidLength {
            what: "legacy message",
            found: 13
        })
    );
    // Another magic.
    let mut magic3 = good.clone();
    magic3[16] = 3;
    assert!(matches!(
        RecordSets::new(&magic3).next(),
        Some(Err(DecodeError::BadMagic { found: 3, .. }))
    ));
    // Unverified parsing skips only the CRC.
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(LegacyMessage::parse_unverified(&flipped).is_ok());
    assert_eq!(RecordSets::new_unverified(&flipped).count(), 1);
}

/// What a consumer sees when an old broker answers a Fetch from unconverted data: the
/// partition's records field holds message sets built by kafka-python (magic 0, then magic 1),
/// then a v2 batch; `PartitionData::record_sets` reads them all through the Fetch response,
/// `batches()` stops at the first legacy message with `BadMagic`.
#[test]
fn a_fetch_response_carrying_legacy_message_sets() {
    use embedded_kafka::protocol::{
        Array, FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData, Request,
        Response, ResponseHeader,
    };
    let mut rng = XorShift64::new(0x0066_6574_6368);
    let sets = [set(&mut rng, 0), set(&mut rng, 1)];
    let input: String = sets
        .iter()
        .map(|s| format!("build {}\n", to_json(s, 0)))
        .collect();
    let out = String::from_utf8(run_python("legacy_records.py", input.as_bytes())).unwrap();
    let mut records: Vec<u8> = out.lines().flat_map(unhex).collect();
    let mut buf = [0u8; 256];
    let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
    b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
    records.extend_from_slice(b.finish().unwrap());

    let partitions = [PartitionData {
        high_watermark: 100,
        records: Some(&records),
        ..Default::default()
    }];
    let topics = [FetchableTopicResponse {
        topic: "old",
        partitions: Array::from(&partitions),
        ..Default::default()
    }];
    let response = FetchResponse {
        responses: Array::from(&topics),
        ..Default::default()
    };
    for version in [4, 12, 17] {
        let mut frame = vec![0u8; 8192];
        let n = response
            .encode_response(&ResponseHeader::new(1), &mut frame, version)
            .unwrap();
        let (_, decoded) = FetchRequest::decode_response(&frame[4..n], version).unwrap();
        let p = decoded.responses.get(0).unwrap().partition(0).unwrap();
        let entries: Vec<_> = p.record_sets().map(Result::unwrap).collect();
        let legacy = sets.iter().map(|s| s.records.len()).sum::<usize>();
        assert_eq!(entries.len(), legacy + 1, "v{version}");
        let mut expected = sets
            .iter()
            .flat_map(|s| s.records.iter().map(move |r| (s.magic, r)));
        for entry in &entries[..legacy] {
            let RecordSet::Legacy(m) = entry else {
                panic!("v{version}: {entry:?}")
            };
            let (magic, r) = expected.next().unwrap();
            assert_eq!((m.magic(), m.offset()), (magic, r.offset));
            assert_eq!((m.key(), m.value()), (r.key.as_deref(), r.value.as_deref()));
        }
        assert!(matches!(entries[legacy], RecordSet::Batch(_)));
        assert!(matches!(
            p.batches().next(),
            Some(Err(DecodeError::BadMagic {
                expected: 2,
                found: 0
            }))
        ));
    }
}
