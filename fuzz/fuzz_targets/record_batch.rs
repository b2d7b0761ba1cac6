//! The record batch reader on arbitrary bytes: it must never panic or hang, and whatever it
//! accepts must rebuild to the same records (decode → encode → decode is stable).
//!
//! The CRC is not checked under `cfg(fuzzing)` (see `RecordBatch::parse`), so the fuzzer
//! reaches the record decoder instead of stopping at the checksum.
#![no_main]

use embedded_kafka::record::{BatchHeader, Header, RecordBatch, RecordBatchBuilder, RecordBatches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for batch in RecordBatches::new(data).flatten() {
        let _ = batch.verify_crc();
        check_rebuild(&batch);
    }
});

fn check_rebuild(batch: &RecordBatch<'_>) {
    let Ok(records) = batch.records() else { return };
    let header = BatchHeader {
        base_offset: batch.base_offset(),
        partition_leader_epoch: batch.partition_leader_epoch(),
        producer_id: batch.producer_id(),
        producer_epoch: batch.producer_epoch(),
        base_sequence: batch.base_sequence(),
        timestamp_type: batch.attributes().timestamp_type(),
        transactional: batch.attributes().is_transactional(),
        control: batch.attributes().is_control(),
    };
    let mut buf = vec![0u8; batch.as_bytes().len() * 2 + 64];
    let mut builder = RecordBatchBuilder::new(&mut buf, header).expect("header fits");
    let mut originals = Vec::new();
    for r in records {
        let Ok(r) = r else { return };
        let headers: Vec<Header<'_>> = r.headers.iter().collect();
        builder
            .append(
                r.timestamp_delta.wrapping_add(batch.base_timestamp()),
                r.key,
                r.value,
                &headers,
            )
            .expect("a record that was read fits twice its batch size");
        originals.push((r.key, r.value, headers));
    }
    let rebuilt = builder.finish().expect("finish");
    if originals.is_empty() {
        assert!(rebuilt.is_empty());
        return;
    }
    let again = RecordBatch::parse(rebuilt)
        .expect("rebuilt batch parses")
        .complete()
        .expect("complete");
    assert_eq!(again.verify_crc(), Ok(()));
    assert_eq!(again.record_count() as usize, originals.len());
    for (r, (key, value, headers)) in again.records().expect("uncompressed").zip(&originals) {
        let r = r.expect("rebuilt record parses");
        assert_eq!((r.key, r.value), (*key, *value));
        assert_eq!(r.headers.iter().collect::<Vec<_>>(), *headers);
    }
}
