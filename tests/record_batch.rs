//! Record batch builder and reader: round trips over arbitrary records, in-place writing,
//! size prediction, and the reader's behaviour on short, corrupt and concatenated input.

use embedded_kafka::record::{
    Attributes, BatchHeader, Compression, ControlRecord, ControlType, Header, InPlace, RecordBatch,
    RecordBatchBuilder, RecordBatches, TimestampType, crc32c,
};
use embedded_kafka::wire::{DecodeError, EncodeError, Status, WithError};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Rec {
    ts: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        prop_oneof![Just(0i64), -1_000_000i64..1_000_000, any::<i64>()],
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(
            (
                "[a-z\\u{e9}\\u{1F600}]{0,8}",
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            ),
            0..4,
        ),
    )
        .prop_map(|(ts, key, value, headers)| Rec {
            ts: 1_700_000_000_000i64.wrapping_add(ts),
            key,
            value,
            headers,
        })
}

fn header() -> impl Strategy<Value = BatchHeader> {
    (
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        any::<i16>(),
        any::<i32>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(base_offset, ple, pid, epoch, seq, lat, transactional, control)| BatchHeader {
                base_offset,
                partition_leader_epoch: ple,
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: seq,
                timestamp_type: if lat {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                transactional,
                control,
            },
        )
}

fn headers_of(r: &Rec) -> Vec<Header<'_>> {
    r.headers
        .iter()
        .map(|(k, v)| Header {
            key: k,
            value: v.as_deref(),
        })
        .collect()
}

/// Builds a batch from `recs` with slices; returns its bytes.
fn build(h: BatchHeader, recs: &[Rec]) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut b = RecordBatchBuilder::new(&mut buf, h).unwrap();
    for r in recs {
        let hs = headers_of(r);
        let before = b.len();
        let predicted = b.record_len(
            r.ts,
            r.key.as_ref().map(Vec::len),
            r.value.as_ref().map(Vec::len),
            &hs,
        );
        b.append(r.ts, r.key.as_deref(), r.value.as_deref(), &hs)
            .unwrap();
        assert_eq!(b.len() - before, predicted, "record_len must be exact");
    }
    b.finish().unwrap().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(h in header(), recs in proptest::collection::vec(rec(), 1..12)) {
        let bytes = build(h, &recs);
        let Status::Complete { value: batch, consumed } = RecordBatch::parse(&bytes).unwrap() else { panic!("incomplete") };
        prop_assert_eq!(consumed, bytes.len());
        prop_assert_eq!(batch.base_offset(), h.base_offset);
        prop_assert_eq!(batch.batch_length() as usize, bytes.len() - 12);
        prop_assert_eq!(batch.partition_leader_epoch(), h.partition_leader_epoch);
        prop_assert_eq!(batch.magic(), 2);
        prop_assert_eq!(batch.crc(), crc32c(&bytes[21..]));
        prop_assert_eq!(batch.producer_id(), h.producer_id);
        prop_assert_eq!(batch.producer_epoch(), h.producer_epoch);
        prop_assert_eq!(batch.base_sequence(), h.base_sequence);
        prop_assert_eq!(batch.record_count() as usize, recs.len());
        prop_assert_eq!(batch.last_offset_delta() as usize, recs.len() - 1);
        prop_assert_eq!(batch.base_timestamp(), recs[0].ts);
        prop_assert_eq!(batch.max_timestamp(), recs.iter().map(|r| r.ts).max().unwrap());
        let a = batch.attributes();
        prop_assert_eq!(a.compression(), Compression::None);
        prop_assert_eq!(a.timestamp_type(), h.timestamp_type);
        prop_assert_eq!(a.is_transactional(), h.transactional);
        prop_assert_eq!(a.is_control(), h.control);

        let mut n = 0;
        for (i, (got, want)) in batch.records().unwrap().zip(&recs).enumerate() {
            let got = got.unwrap();
            prop_assert_eq!(got.offset_delta as usize, i);
            prop_assert_eq!(got.offset, h.base_offset.wrapping_add(i as i64));
            let ts = if h.timestamp_type == TimestampType::LogAppendTime { batch.max_timestamp() } else { want.ts };
            prop_assert_eq!(got.timestamp, ts);
            prop_assert_eq!(got.key, want.key.as_deref());
            prop_assert_eq!(got.value, want.value.as_deref());
            prop_assert_eq!(got.headers.len(), want.headers.len());
            prop_assert_eq!(got.headers.iter().collect::<Vec<_>>(), headers_of(want));
            n += 1;
        }
        prop_assert_eq!(n, recs.len());

        // Every proper prefix asks for more; never an error, never a wrong value.
        for cut in 0..bytes.len() {
            match RecordBatch::parse(&bytes[..cut]) {
                Ok(Status::Incomplete { needed }) => {
                    if cut >= 17 { prop_assert_eq!(needed, bytes.len() - cut); }
                }
                other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
            }
        }
    }

    /// Values (and keys) written by closures straight into the buffer give the very same bytes
    /// as values passed as slices.
    #[test]
    fn in_place_equals_slices(recs in proptest::collection::vec(rec(), 1..8), which in 0u8..3) {
        let slices = build(BatchHeader::default(), &recs);
        let mut buf = vec![0u8; 64 * 1024];
        let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
        for r in &recs {
            let hs = headers_of(r);
            let writer = |data: &Option<Vec<u8>>| {
                let data = data.clone();
                data.map(|d| InPlace(move |out: &mut [u8]| -> Result<usize, &'static str> {
                    out.get_mut(..d.len()).ok_or("full")?.copy_from_slice(&d);
                    Ok(d.len())
                }))
            };
            match which {
                0 => b.append_with(r.ts, r.key.as_deref(), writer(&r.value), &hs).unwrap(),
                1 => b.append_with(r.ts, writer(&r.key), r.value.as_deref(), &hs).unwrap(),
                _ => b.append_with(r.ts, writer(&r.key), writer(&r.value), &hs).unwrap(),
            }
        }
        prop_assert_eq!(b.finish().unwrap().to_vec(), slices);
    }

    /// Flipping any bit covered by the CRC is caught (by the CRC, or, for the sign bit of the
    /// record count, by the count check that runs first).
    #[test]
    fn corruption_is_detected(recs in proptest::collection::vec(rec(), 1..4), pos: prop::sample::Index, bit in 0u8..8) {
        let mut bytes = build(BatchHeader::default(), &recs);
        let i = 21 + pos.index(bytes.len() - 21);
        bytes[i] ^= 1 << bit;
        let crc_caught = matches!(
            RecordBatch::parse(&bytes),
            Err(DecodeError::CrcMismatch { .. })
        );
        prop_assert!(crc_caught);
    }

    /// No input makes the reader panic.
    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200), fix_header: bool) {
        if fix_header && bytes.len() >= 61 {
            bytes[16] = 2;
            let len = (bytes.len() - 12) as i32;
            bytes[8..12].copy_from_slice(&len.to_be_bytes());
        }
        for batch in RecordBatches::new_unverified(&bytes).flatten() {
            if let Ok(records) = batch.records() {
                for r in records.flatten() {
                    let _ = r.headers.iter().count();
                }
            }
        }
    }
}

#[test]
fn a_record_that_does_not_fit_is_rejected_whole() {
    let mut buf = [0u8; 100];
    let mut b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
    b.append(5, None, Some(b"0123456789"), &[]).unwrap();
    let len = b.len();
    let big = [7u8; 64];
    let need = b.record_len(5, None, Some(big.len()), &[]);
    assert_eq!(
        b.append(5, None, Some(&big), &[]),
        Err(EncodeError::BufferTooSmall {
            needed: len + need,
            available: 100
        })
    );
    assert_eq!(b.len(), len, "nothing of the failed record is kept");
    // A closure that runs out of room reports its own error; the batch is still intact.
    let r = b.append_with(
        6,
        None::<&[u8]>,
        InPlace(|out: &mut [u8]| -> Result<usize, usize> { Err(out.len()) }),
        &[],
    );
    assert!(matches!(r, Err(WithError::Closure(room)) if room < 100 - len));
    assert_eq!(b.len(), len);
    assert_eq!(b.record_count(), 1);
    let bytes = b.finish().unwrap();
    let batch = RecordBatch::parse(bytes).unwrap().complete().unwrap();
    assert_eq!(batch.record_count(), 1);

    let mut tiny = [0u8; 60];
    assert_eq!(
        RecordBatchBuilder::new(&mut tiny, BatchHeader::default()).unwrap_err(),
        EncodeError::BufferTooSmall {
            needed: 61,
            available: 60
        }
    );
}

#[test]
fn an_empty_batch_has_nothing_to_send() {
    let mut buf = [0u8; 100];
    let b = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).unwrap();
    assert!(b.finish().unwrap().is_empty());
}

#[test]
fn reader_rejects_what_is_not_a_v2_batch() {
    let bytes = build(
        BatchHeader::default(),
        &[Rec {
            ts: 1,
            key: None,
            value: Some(b"v".to_vec()),
            headers: vec![],
        }],
    );
    let mut v1 = bytes.clone();
    v1[16] = 1;
    assert_eq!(
        RecordBatch::parse(&v1),
        Err(DecodeError::BadMagic {
            expected: 2,
            found: 1
        })
    );
    let mut short = bytes.clone();
    short[8..12].copy_from_slice(&48i32.to_be_bytes());
    assert_eq!(
        RecordBatch::parse(&short),
        Err(DecodeError::InvalidLength {
            what: "record batch",
            found: 48
        })
    );
    let mut negative = bytes.clone();
    negative[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(
        RecordBatch::parse_unverified(&negative),
        Err(DecodeError::InvalidValue {
            what: "record count",
            found: -1
        })
    );

    // Count says two records, one is there: truncated. Count says zero: trailing bytes.
    for (count, expect) in [
        (
            2i32,
            DecodeError::Truncated {
                what: "record",
                needed: 1,
            },
        ),
        (
            0,
            DecodeError::TrailingBytes {
                what: "record batch",
                count: bytes.len() - 61,
            },
        ),
    ] {
        let mut b = bytes.clone();
        b[57..61].copy_from_slice(&count.to_be_bytes());
        let batch = RecordBatch::parse_unverified(&b)
            .unwrap()
            .complete()
            .unwrap();
        let errs: Vec<_> = batch.records().unwrap().filter_map(Result::err).collect();
        assert_eq!(errs, vec![expect]);
    }

    // Compressed batches are recognised, their records are not walked.
    let mut gz = bytes.clone();
    gz[22] |= 1;
    let batch = RecordBatch::parse_unverified(&gz)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(batch.attributes().compression(), Compression::Gzip);
    assert_eq!(
        batch.records().unwrap_err(),
        DecodeError::Compressed { codec: 1 }
    );
}

#[test]
fn control_batches_are_exposed() {
    let h = BatchHeader {
        producer_id: 9,
        producer_epoch: 1,
        transactional: true,
        control: true,
        ..BatchHeader::default()
    };
    let mut buf = [0u8; 128];
    let mut b = RecordBatchBuilder::new(&mut buf, h).unwrap();
    b.append(10, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 0]), &[])
        .unwrap();
    let bytes = b.finish().unwrap();
    let batch = RecordBatch::parse(bytes).unwrap().complete().unwrap();
    assert!(batch.attributes().is_control() && batch.attributes().is_transactional());
    let rec = batch.records().unwrap().next().unwrap().unwrap();
    assert_eq!(
        ControlRecord::parse(rec.key.unwrap()).unwrap(),
        ControlRecord {
            version: 0,
            kind: ControlType::Commit
        }
    );
    assert_eq!(Attributes(0x0033).compression(), Compression::Lz4);
}

#[test]
fn concatenated_batches_and_a_partial_tail() {
    let one = build(
        BatchHeader::default(),
        &[Rec {
            ts: 1,
            key: None,
            value: Some(b"a".to_vec()),
            headers: vec![],
        }],
    );
    let two = build(
        BatchHeader {
            base_offset: 1,
            ..BatchHeader::default()
        },
        &[Rec {
            ts: 2,
            key: Some(b"k".to_vec()),
            value: None,
            headers: vec![],
        }],
    );
    let mut wire = [one.clone(), two.clone()].concat();
    let offsets: Vec<i64> = RecordBatches::new(&wire)
        .map(|b| b.unwrap().base_offset())
        .collect();
    assert_eq!(offsets, [0, 1]);
    for cut in 1..two.len() {
        wire.truncate(one.len() + cut);
        let mut it = RecordBatches::new(&wire);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().is_none(), "a partial batch is not an error");
        let (have, need) = it.partial().unwrap();
        assert_eq!(have, cut);
        if cut >= 17 {
            assert_eq!(need, two.len() - cut);
        }
        wire = [one.clone(), two.clone()].concat();
    }
    // A corrupt batch stops the walk with an error, and nothing after it is read.
    let mut bad = [one.clone(), two.clone()].concat();
    bad[30] ^= 0xff;
    let got: Vec<_> = RecordBatches::new(&bad).collect();
    assert!(matches!(
        got.as_slice(),
        [Err(DecodeError::CrcMismatch { .. })]
    ));
}

/// A corrupted record count is reported as corruption (CRC), not as a bad count: the CRC is
/// checked before the fields it covers are interpreted.
#[test]
fn corrupted_count_is_a_crc_error() {
    let mut bytes = build(
        BatchHeader::default(),
        &[Rec {
            ts: 1,
            key: None,
            value: Some(b"v".to_vec()),
            headers: vec![],
        }],
    );
    bytes[57] ^= 0x80;
    assert!(matches!(
        RecordBatch::parse(&bytes),
        Err(DecodeError::CrcMismatch { .. })
    ));
    assert_eq!(
        RecordBatch::parse_unverified(&bytes),
        Err(DecodeError::InvalidValue {
            what: "record count",
            found: i64::from(i32::from_be_bytes([
                bytes[57], bytes[58], bytes[59], bytes[60]
            ]))
        })
    );
}
