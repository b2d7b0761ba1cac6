//! Builds a record batch of sensor readings the way a producer would, then reads it back and
//! prints every header field and record: a human-readable dump of what goes on the wire.
//!
//! ```text
//! cargo run --example batch_dump
//! ```

use embedded_kafka::record::{
    BatchHeader, Header, InPlace, RecordBatch, RecordBatchBuilder, TimestampType,
};
use embedded_kafka::wire::Status;
use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut buf = [0u8; 1024];
    let header = BatchHeader {
        producer_id: 4242,
        producer_epoch: 0,
        base_sequence: 0,
        ..BatchHeader::default()
    };
    let mut batch = RecordBatchBuilder::new(&mut buf, header)?;
    let start = 1_764_000_000_000i64;
    for (i, celsius) in [21.5f32, 21.7, 22.0].into_iter().enumerate() {
        let ts = start + 1000 * i as i64;
        // The value is formatted straight into the batch: no intermediate buffer.
        batch.append_with(
            ts,
            Some(b"sensor-7"),
            InPlace(|out: &mut [u8]| {
                let mut w = SliceWriter { out, len: 0 };
                write!(w, "{{\"celsius\":{celsius},\"seq\":{i}}}").map(|_| w.len)
            }),
            &[Header::new("unit", b"C")],
        )?;
    }
    let bytes = batch.finish()?;

    let Status::Complete { value: b, .. } = RecordBatch::parse(bytes)? else {
        return Err("incomplete batch".into());
    };
    println!(
        "record batch v{}, {} bytes, CRC-32C {:#010x} (verified)",
        b.magic(),
        bytes.len(),
        b.crc()
    );
    println!("  base offset            {}", b.base_offset());
    println!("  batch length           {}", b.batch_length());
    println!("  partition leader epoch {}", b.partition_leader_epoch());
    let a = b.attributes();
    println!(
        "  attributes             {:#06x} (compression {:?}, {}, transactional {}, control {})",
        a.0,
        a.compression(),
        match a.timestamp_type() {
            TimestampType::CreateTime => "create time",
            TimestampType::LogAppendTime => "log append time",
        },
        a.is_transactional(),
        a.is_control()
    );
    println!("  last offset delta      {}", b.last_offset_delta());
    println!(
        "  base / max timestamp   {} / {}",
        b.base_timestamp(),
        b.max_timestamp()
    );
    println!(
        "  producer id / epoch    {} / {}",
        b.producer_id(),
        b.producer_epoch()
    );
    println!(
        "  base / last sequence   {} / {}",
        b.base_sequence(),
        b.last_sequence()
    );
    println!("  records                {}", b.record_count());
    for r in b.records()? {
        let r = r?;
        print!(
            "    offset {} ts {} (+{} ms) key {:?} value {:?}",
            r.offset,
            r.timestamp,
            r.timestamp_delta,
            r.key.map(String::from_utf8_lossy),
            r.value.map(String::from_utf8_lossy)
        );
        for h in r.headers {
            print!(
                " header {}={:?}",
                h.key,
                h.value.map(String::from_utf8_lossy)
            );
        }
        println!();
    }
    println!("hex:");
    for (i, row) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        println!("  {:04x}  {}", i * 16, hex.join(" "));
    }
    Ok(())
}

/// `core::fmt::Write` over a byte slice, so `write!` can serialise into the batch in place.
struct SliceWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl std::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.out.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
