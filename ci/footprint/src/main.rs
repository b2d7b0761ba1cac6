//! What the producer costs a board: connect, negotiate versions, fetch metadata, publish one
//! keyed record with acks=1 and await its delivery, through [`Producer`] over a stub network
//! whose answers are Tansu's own (captured in `tests/fixtures/`). Exit code 0 if the record was
//! delivered at the offset the canned answer gives, the failing step's number otherwise.
//!
//! Built like firmware (see Cargo.toml) for the host target, linked with
//! `-C link-arg=-nostartfiles` (`_start` below is the entry point). With the `baseline`
//! feature the producer is left out and everything else stays: the difference between the two
//! builds is the crate's share of flash (`.text` + `.rodata`) and RAM (`.data` + `.bss`; the
//! producer and its buffers live on the stack here, their size is printed by a test).
#![no_std]
#![no_main]

mod stub;

use core::future::Future;
use core::panic::PanicInfo;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

/// Drives a future whose every await completes at once (the stub network never waits).
fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // A future that is still pending after this many polls is waiting for something the stub
    // will never do.
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

#[cfg(not(feature = "baseline"))]
fn run() -> u8 {
    use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use embedded_kafka::partition::{Murmur2, RoundRobin};
    use embedded_kafka::producer::{Acks, Buffers, Config, Producer, Record};

    let servers = [SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(10, 42, 0, 1),
        9092,
    ))];
    let config = Config::new(&servers)
        .client_id("footprint")
        .acks(Acks::Leader)
        .batch_size(1024);
    // 1 KiB to receive, 256 B for request headers, 2 batches of 1 KiB.
    let mut buffers = Buffers::<1024, 256, 1024, 2>::new();
    let network = stub::Network::new();
    let Ok(producer) = Producer::<_, _, _, _, 1, 2, 4>::new(
        &network,
        stub::Clock::default(),
        stub::Delay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    ) else {
        return 1;
    };
    let mut producer = producer;
    let outcome = block_on(async {
        // The canned Produce answer acknowledges partition 0 of topic `fixtures`.
        let record = Record::new(b"21.5").key(b"sensor-1").partition(0);
        let ticket = producer
            .send("fixtures", record)
            .await
            .map_err(|e| report(3, e))?;
        match producer.wait(&ticket).await {
            Ok(Ok(delivery)) => Ok(delivery.offset),
            Ok(Err(e)) => Err(report(4, e)),
            Err(e) => Err(report(4, e)),
        }
    });
    match outcome {
        None => 2,
        Some(Err(step)) => step,
        Some(Ok(Some(offset))) if offset == stub::PRODUCE_BASE_OFFSET => 0,
        Some(Ok(_)) => 5,
    }
}

/// With the `explain` feature, writes why `step` failed to standard error (the measured build
/// leaves it out: formatting errors as text is the harness's cost, not the producer's; firmware
/// would log with `defmt`). Returns `step`.
#[cfg(not(feature = "baseline"))]
fn report(step: u8, why: impl core::fmt::Display) -> u8 {
    #[cfg(feature = "explain")]
    {
        use core::fmt::Write;
        let _ = writeln!(Stderr, "footprint: step {step}: {why}");
    }
    let _ = why;
    step
}

/// Standard error, through the `write` system call.
#[cfg(feature = "explain")]
struct Stderr;

#[cfg(feature = "explain")]
impl core::fmt::Write for Stderr {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: the Linux x86_64 `write` system call on fd 2 with a valid buffer.
        unsafe {
            core::arch::asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 2usize,
                in("rsi") s.as_ptr(), in("rdx") s.len(), lateout("rcx") _, lateout("r11") _,
                options(nostack));
        }
        Ok(())
    }
}

/// Everything but the producer: the stub network is driven by hand so that it is linked in.
#[cfg(feature = "baseline")]
fn run() -> u8 {
    stub::exercise()
}

/// The entry point. The kernel enters `_start` with the stack 16-byte aligned and no return
/// address pushed, while compiled functions expect it 8 bytes off that (as after a `call`), so
/// `_start` realigns the stack and calls `main`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    core::arch::naked_asm!("xor ebp, ebp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

extern "C" fn main() -> ! {
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
