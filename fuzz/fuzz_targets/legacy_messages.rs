//! The legacy message set reader (magic 0 and 1) and `RecordSets`, which tells them from record
//! batches, on arbitrary bytes: no panic, no hang; every message accepted lays out again to its
//! own bytes, and a legacy-only walk agrees with `RecordSets` up to the first batch.
//!
//! The CRC is not checked under `cfg(fuzzing)` (see `LegacyMessage::parse`), so the fuzzer gets
//! past the checksum to the lengths.
#![no_main]

mod common;

use embedded_kafka::record::{LegacyMessages, RecordSet, RecordSets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::walk_record_sets(data);
    let mut legacy = LegacyMessages::new(data);
    for entry in RecordSets::new(data) {
        match entry {
            Ok(RecordSet::Legacy(m)) => {
                assert_eq!(legacy.next(), Some(Ok(m)));
                common::check_legacy(&m);
            }
            Ok(RecordSet::Batch(_)) | Err(_) => break,
        }
    }
    let _ = (legacy.partial(), legacy.remainder());
});
