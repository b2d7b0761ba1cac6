//! Decompression of hostile bytes, all four codecs: never a panic, a hang, a write past the
//! caller's buffer or an allocation sized by what the bytes claim; whatever compresses
//! decompresses back to itself.
//!
//! Input: a selector byte (low three bits: the codec; the rest: the output buffer's size, in
//! KiB, mod 32, plus 0-63 bytes from the second byte), then the compressed records section.
#![no_main]

use embedded_kafka::record::{
    BATCH_HEADER_LEN, BatchHeader, Compression, RecordBatch, RecordBatchBuilder, compress_batch,
    compressed_batch_bound,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [sel, extra, body @ ..] = data else {
        return;
    };
    let codec = Compression::from_code(*sel);
    let out_len = usize::from(sel >> 3) * 1024 + usize::from(extra % 64);
    hostile(codec, body, out_len);
    round_trip(codec, body);
});

/// `body` as the records section of a batch claiming `codec`.
fn hostile(codec: Compression, body: &[u8], out_len: usize) {
    let mut batch = vec![0u8; BATCH_HEADER_LEN + body.len()];
    batch[8..12].copy_from_slice(&((BATCH_HEADER_LEN - 12 + body.len()) as i32).to_be_bytes());
    batch[16] = 2;
    batch[22] = codec.code();
    batch[57..61].copy_from_slice(&3i32.to_be_bytes());
    batch[BATCH_HEADER_LEN..].copy_from_slice(body);
    let parsed = RecordBatch::parse_unverified(&batch)
        .expect("a valid header")
        .complete()
        .expect("complete");
    let _ = parsed.decompressed_len();
    let mut out = vec![0xa5u8; out_len + 16];
    let (window, guard) = out.split_at_mut(out_len);
    match parsed.decompress_into(window) {
        Ok(n) => assert!(n <= out_len),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    assert!(guard.iter().all(|&b| b == 0xa5), "wrote past the buffer");
    if let Ok(records) = parsed.records_in(window) {
        for r in records {
            if r.is_err() {
                break;
            }
        }
    }
}

/// `body` as record values: compressing the batch and reading it back gives the same records.
fn round_trip(codec: Compression, body: &[u8]) {
    if codec == Compression::None || matches!(codec, Compression::Unknown(_)) {
        return;
    }
    let mut plain = vec![0u8; body.len() * 2 + 256];
    let mut b = RecordBatchBuilder::new(&mut plain, BatchHeader::default()).expect("fits");
    let values: Vec<&[u8]> = body.chunks(1 + body.len() / 3).collect();
    for (i, v) in values.iter().enumerate() {
        b.append(i as i64, None, Some(v), &[]).expect("fits");
    }
    let plain = b.finish().expect("finish");
    if plain.is_empty() {
        return;
    }
    let bound = compressed_batch_bound(codec, plain.len()).expect("codec built in");
    let mut out = vec![0u8; bound];
    let n = compress_batch(plain, codec, &mut out).expect("the bound is enough");
    let batch = RecordBatch::parse(&out[..n])
        .expect("parses")
        .complete()
        .expect("complete");
    assert_eq!(batch.verify_crc(), Ok(()));
    let mut scratch = vec![0u8; batch.decompressed_len().expect("recorded")];
    let got: Vec<_> = batch
        .records_in(&mut scratch)
        .expect("decompresses")
        .map(|r| r.expect("record").value.expect("value"))
        .collect();
    assert_eq!(got, values);
}
