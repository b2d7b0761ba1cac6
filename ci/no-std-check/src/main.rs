//! Exercises the record builder and reader, crc32c and murmur2 without `std` or `alloc`, then
//! exits with 0 if every result is what it must be (the exit code is the failing check's number
//! otherwise). Linked with `-C link-arg=-nostartfiles`: `_start` below is the entry point.
#![no_std]
#![no_main]

use core::panic::PanicInfo;
use embedded_kafka::partition::{murmur2, partition_for_key};
use embedded_kafka::record::{BatchHeader, Header, RecordBatch, RecordBatchBuilder, crc32c};
use embedded_kafka::wire::Status;

fn run() -> u8 {
    if crc32c(b"123456789") != 0xE306_9283 {
        return 1;
    }
    // Kafka's UtilsTest.testMurmur2 vector.
    if murmur2(b"21") != -973_932_308 || partition_for_key(b"21", 3) != 0 {
        return 2;
    }
    let mut buf = [0u8; 256];
    let Ok(mut batch) = RecordBatchBuilder::new(&mut buf, BatchHeader::default()) else {
        return 3;
    };
    if batch
        .append(1_700_000_000_000, Some(b"sensor-1"), Some(b"21.5"), &[Header::new("unit", b"C")])
        .is_err()
    {
        return 4;
    }
    let Ok(bytes) = batch.finish() else { return 5 };
    let Ok(Status::Complete { value, .. }) = RecordBatch::parse(bytes) else {
        return 6;
    };
    let Ok(mut records) = value.records() else { return 7 };
    match records.next() {
        Some(Ok(r)) if r.key == Some(b"sensor-1") && r.value == Some(b"21.5") => 0,
        _ => 8,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    exit(run())
}

fn exit(code: u8) -> ! {
    // SAFETY: the Linux x86_64 `exit_group` system call; it does not return.
    unsafe {
        core::arch::asm!("syscall", in("rax") 231, in("rdi") code as usize, options(noreturn));
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    exit(101)
}
