//! Exercises the record builder and reader, crc32c, murmur2 and the protocol (a Produce request
//! streamed in place, a Metadata response decoded lazily) without `std` or `alloc`, then
//! exits with 0 if every result is what it must be (the exit code is the failing check's number
//! otherwise). Linked with `-C link-arg=-nostartfiles`: `_start` below is the entry point.
#![no_std]
#![no_main]

use core::panic::PanicInfo;
use embedded_kafka::partition::{murmur2, partition_for_key};
use embedded_kafka::protocol::{
    Array, Decode, Encode, MetadataResponse, MetadataResponsePartition, MetadataResponseTopic,
    ProduceRequest, ProduceRequestWriter, Request, RequestHeader,
};
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
        Some(Ok(r)) if r.key == Some(b"sensor-1") && r.value == Some(b"21.5") => {}
        _ => return 8,
    }
    protocol()
}

fn protocol() -> u8 {
    let mut frame = [0u8; 256];
    let header = RequestHeader::new(1, Some("node"));
    let Ok(mut req) = ProduceRequestWriter::begin(&mut frame, 11, &header, None, -1, 1000) else {
        return 9;
    };
    let Ok(mut topic) = req.topic("t") else { return 10 };
    let Ok(mut p) = topic.partition(0, BatchHeader::default()) else { return 11 };
    if p.append(1, None, Some(b"v"), &[]).is_err() || p.finish().is_err() {
        return 12;
    }
    if topic.finish().is_err() {
        return 13;
    }
    let Ok(frame) = req.finish() else { return 14 };
    match ProduceRequest::decode_request(frame.get(4..).unwrap_or_default()) {
        Ok((_, body)) if body.topic_data.len() == 1 => {}
        _ => return 15,
    }
    let replicas = [1, 2, 3];
    let partitions = [MetadataResponsePartition {
        replica_nodes: Array::from(&replicas),
        ..MetadataResponsePartition::default()
    }; 4];
    let topics = [MetadataResponseTopic {
        partitions: Array::from(&partitions),
        ..MetadataResponseTopic::default()
    }];
    let response = MetadataResponse { topics: Array::from(&topics), ..MetadataResponse::default() };
    let mut buf = [0u8; 256];
    let Ok(n) = response.encode_to_slice(&mut buf, 12) else { return 16 };
    match MetadataResponse::decode_exact(buf.get(..n).unwrap_or_default(), 12) {
        Ok(decoded)
            if decoded == response
                && decoded.topics.iter().flat_map(|t| t.partitions).count() == 4 =>
        {
            0
        }
        _ => 17,
    }
}

/// The embassy-net transport's clock on embassy-time, without `std`: the monotonic and the
/// wall clock agree and move forward.
/// An LZ4-compressed batch written and read back with no heap: checks 30-39.
#[cfg(feature = "lz4")]
fn lz4() -> u8 {
    use embedded_kafka::record::{Compression, compress_batch, compressed_batch_bound};
    let mut scratch = [0u8; 2048];
    let Ok(mut batch) = RecordBatchBuilder::new(&mut scratch, BatchHeader::default()) else {
        return 30;
    };
    for seq in 0..20 {
        let value = b"{\"sensor\":\"node-3\",\"temp_c\":21.57,\"humidity\":48.2}";
        if batch.append(1_700_000_000_000 + seq, None, Some(value), &[]).is_err() {
            return 31;
        }
    }
    let Ok(plain) = batch.finish() else { return 32 };
    let mut frame = [0u8; 2048];
    match compressed_batch_bound(Compression::Lz4, plain.len()) {
        Ok(n) if n <= frame.len() => {}
        _ => return 33,
    }
    let Ok(n) = compress_batch(plain, Compression::Lz4, &mut frame) else { return 34 };
    if n >= plain.len() / 2 {
        return 35;
    }
    let Some(bytes) = frame.get(..n) else { return 36 };
    let Ok(Status::Complete { value, .. }) = RecordBatch::parse(bytes) else {
        return 37;
    };
    let mut out = [0u8; 2048];
    let Ok(records) = value.records_in(&mut out) else { return 38 };
    if records.filter(|r| r.is_ok()).count() != 20 {
        return 39;
    }
    0
}

#[cfg(feature = "embassy-net")]
fn embassy() -> u8 {
    use embedded_kafka::producer::Clock;
    use embedded_kafka::transport::embassy_net::EmbassyClock;
    let clock = EmbassyClock::with_unix_ms(1_700_000_000_000);
    let (a, b) = (clock.now_ms(), clock.now_ms());
    if b <= a {
        return 18;
    }
    match (EmbassyClock::new().wall_ms(), clock.wall_ms()) {
        (None, Some(wall)) if wall > 1_700_000_000_000 => 0,
        _ => 19,
    }
}

/// The embedded-tls connector without `std` or `alloc`: a handshake over a socket that takes
/// what is written (the ClientHello: a fresh P-256 key share, the record layer) and then reads
/// end of stream, which must come back as the TLS error it is, with the buffers and RNG the
/// caller owns.
#[cfg(feature = "tls")]
mod tls {
    use core::future::Future;
    use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use core::pin::pin;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use core::task::{Context, Poll, Waker};
    use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
    use embedded_kafka::tls::{
        RECORD_READ_SIZE, RECORD_WRITE_SIZE, RecordBuffers, ServerNames, TlsConnector, TlsError,
        TlsOptions,
    };
    use embedded_nal_async::TcpConnect;

    /// Bytes the handshake wrote.
    static WRITTEN: AtomicUsize = AtomicUsize::new(0);

    /// Counts the bytes written; reads end of stream.
    struct Socket;

    #[derive(Debug)]
    struct NoError;

    impl core::fmt::Display for NoError {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("no error")
        }
    }

    impl core::error::Error for NoError {}

    impl embedded_io_async::Error for NoError {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    impl ErrorType for Socket {
        type Error = NoError;
    }

    impl Read for Socket {
        async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, NoError> {
            Ok(0)
        }
    }

    impl Write for Socket {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, NoError> {
            WRITTEN.fetch_add(buf.len(), Ordering::Relaxed);
            Ok(buf.len())
        }

        async fn flush(&mut self) -> Result<(), NoError> {
            Ok(())
        }
    }

    struct Connector;

    impl TcpConnect for Connector {
        type Error = NoError;
        type Connection<'a> = Socket;

        async fn connect<'a>(&'a self, _remote: SocketAddr) -> Result<Socket, NoError> {
            Ok(Socket)
        }
    }

    /// Not random: enough to run the handshake's code here, never for a real session.
    struct Counter(u64);

    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = (self.next_u64() >> 56) as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl rand_core::CryptoRng for Counter {}

    pub fn run() -> u8 {
        let mut read = [0u8; RECORD_READ_SIZE];
        let mut write = [0u8; RECORD_WRITE_SIZE];
        let slots = [RecordBuffers::new(&mut read, &mut write)];
        let options = TlsOptions { ca: &[0x30], names: ServerNames::all("kafka"), client: None };
        let Ok(connector) = TlsConnector::<_, _>::new(
            Connector,
            options,
            &slots,
            Counter(7),
        ) else {
            return 20;
        };
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9093));
        let mut cx = Context::from_waker(Waker::noop());
        let result = match pin!(connector.connect(addr)).poll(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return 21,
        };
        match result {
            // A ClientHello is ~150 bytes; end of stream is embedded-tls's IoError.
            Err(TlsError::Tls(_))
                if connector.buffers_left() == 0 && WRITTEN.load(Ordering::Relaxed) > 100 =>
            {
                0
            }
            _ => 22,
        }
    }
}

/// A stand-in for a chip's time driver, which embassy-time needs in a binary: every reading
/// of the time is a millisecond later than the one before (1 MHz ticks, embassy-time's
/// default rate). Nothing here waits, so `schedule_wake` has nothing to do.
#[cfg(feature = "embassy-net")]
mod time_driver {
    use core::sync::atomic::{AtomicU64, Ordering};

    struct Ticks(AtomicU64);

    impl embassy_time_driver::Driver for Ticks {
        fn now(&self) -> u64 {
            self.0.fetch_add(1_000, Ordering::Relaxed)
        }

        fn schedule_wake(&self, _at: u64, _waker: &core::task::Waker) {}
    }

    embassy_time_driver::time_driver_impl!(static DRIVER: Ticks = Ticks(AtomicU64::new(0)));
}

/// The entry point. The kernel enters `_start` with the stack 16-byte aligned and no return
/// address pushed, while compiled functions expect it 8 bytes off that (as after a `call`), so
/// `_start` cannot be an ordinary function: SSE moves to the stack would fault on misaligned
/// addresses. It realigns the stack and calls `main`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    core::arch::naked_asm!("xor ebp, ebp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

extern "C" fn main() -> ! {
    let code = run();
    #[cfg(feature = "lz4")]
    let code = if code == 0 { lz4() } else { code };
    #[cfg(feature = "embassy-net")]
    let code = if code == 0 { embassy() } else { code };
    #[cfg(feature = "tls")]
    let code = if code == 0 { tls::run() } else { code };
    exit(code)
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
