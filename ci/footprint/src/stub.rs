//! A network with one broker that answers from a script: Tansu's own answers, captured by
//! `scripts/capture-fixtures`, with the correlation id of the request patched in. Every call
//! completes at once, so a single poll loop can drive the producer.

use core::net::SocketAddr;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::TcpConnect;

const API_VERSIONS: &[u8] =
    include_bytes!("../../../tests/fixtures/api_versions/v04-basic.response.bin");
/// Topic `fixtures`, 3 partitions, leader node 0.
const METADATA: &[u8] = include_bytes!("../../../tests/fixtures/metadata/v12-topic.response.bin");
/// `fixtures`/0 acknowledged at offset [`PRODUCE_BASE_OFFSET`]. A v9 body, which reads the same
/// as v10 and v11: those versions add only tagged fields.
const PRODUCE: &[u8] = include_bytes!("../../../tests/fixtures/produce/v09-acks1.response.bin");
/// The base offset in [`PRODUCE`].
#[cfg_attr(feature = "baseline", allow(dead_code))]
pub const PRODUCE_BASE_OFFSET: i64 = 19;

/// The connector: every connection reaches the scripted broker.
#[cfg_attr(feature = "baseline", allow(dead_code))]
pub struct Network;

#[cfg_attr(feature = "baseline", allow(dead_code))]
impl Network {
    pub const fn new() -> Self {
        Self
    }
}

/// One connection: the request being received and the answer being sent back.
pub struct Conn {
    request: [u8; 16],
    received: usize,
    /// Bytes of the current request still to come after the first 16.
    skip: usize,
    answer: &'static [u8],
    correlation_id: [u8; 4],
    sent: usize,
}

impl ErrorType for Conn {
    type Error = ErrorKind;
}

impl Write for Conn {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        for &b in buf {
            if self.skip > 0 {
                self.skip -= 1;
                continue;
            }
            let Some(slot) = self.request.get_mut(self.received) else {
                return Err(ErrorKind::InvalidData);
            };
            *slot = b;
            self.received += 1;
            if self.received == 12 {
                self.frame_header_complete()?;
            }
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl Conn {
    /// Size, API key, version and correlation id are in: choose the answer, skip the rest.
    fn frame_header_complete(&mut self) -> Result<(), ErrorKind> {
        let [s0, s1, s2, s3, k0, k1, _, _, c0, c1, c2, c3, ..] = self.request;
        let size = u32::from_be_bytes([s0, s1, s2, s3]) as usize;
        self.answer = match i16::from_be_bytes([k0, k1]) {
            0 => PRODUCE,
            3 => METADATA,
            18 => API_VERSIONS,
            _ => return Err(ErrorKind::Unsupported),
        };
        self.correlation_id = [c0, c1, c2, c3];
        self.sent = 0;
        self.received = 0;
        self.skip = size.checked_sub(8).ok_or(ErrorKind::InvalidData)?;
        Ok(())
    }
}

impl Read for Conn {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        // Nothing to say yet: wait, as a socket would, until the request is in.
        core::future::poll_fn(|_| match self.answer.len() > self.sent || buf.is_empty() {
            true => core::task::Poll::Ready(()),
            false => core::task::Poll::Pending,
        })
        .await;
        let mut n = 0;
        for out in buf.iter_mut() {
            let Some(&b) = self.answer.get(self.sent) else {
                break;
            };
            // Bytes 4..8 of the answer are its correlation id.
            *out = match self.sent.checked_sub(4) {
                Some(i @ 0..4) => self.correlation_id.get(i).copied().unwrap_or(b),
                _ => b,
            };
            self.sent += 1;
            n += 1;
        }
        Ok(n)
    }
}

impl TcpConnect for Network {
    type Error = ErrorKind;
    type Connection<'a> = Conn;

    async fn connect(&self, _remote: SocketAddr) -> Result<Conn, ErrorKind> {
        Ok(Conn {
            request: [0; 16],
            received: 0,
            skip: 0,
            answer: &[],
            correlation_id: [0; 4],
            sent: 0,
        })
    }
}

/// A monotonic clock that advances one millisecond per reading; no wall clock (records go out
/// with no timestamp, as on a board without an RTC).
#[derive(Default)]
#[cfg_attr(feature = "baseline", allow(dead_code))]
pub struct Clock(core::cell::Cell<u64>);

impl embedded_kafka::producer::Clock for Clock {
    fn now_ms(&self) -> u64 {
        let now = self.0.get() + 1;
        self.0.set(now);
        now
    }
}

/// Waiting takes a few polls per millisecond: long enough for anything the stub answers to
/// win a race against a timeout.
#[cfg_attr(feature = "baseline", allow(dead_code))]
pub struct Delay;

impl embedded_kafka::producer::Delay for Delay {
    async fn delay_ms(&mut self, ms: u32) {
        let mut polls = u64::from(ms).saturating_mul(4);
        core::future::poll_fn(|_| match polls.checked_sub(1) {
            Some(left) => {
                polls = left;
                core::task::Poll::Pending
            }
            None => core::task::Poll::Ready(()),
        })
        .await;
    }
}

/// For the baseline build: one ApiVersions exchange by hand, so the stub is linked in both
/// builds and cancels out of the difference.
#[cfg(feature = "baseline")]
pub fn exercise() -> u8 {
    let request = [0, 0, 0, 8, 0, 18, 0, 4, 0, 0, 0, 7];
    let exchange = async {
        let mut conn = Network
            .connect(SocketAddr::from(([10, 42, 0, 1], 9092)))
            .await?;
        conn.write_all(&request).await?;
        let mut answer = [0u8; 8];
        conn.read_exact(&mut answer)
            .await
            .map_err(|_| ErrorKind::InvalidData)?;
        Ok::<_, ErrorKind>(answer)
    };
    match super::block_on(exchange) {
        Some(Ok([_, _, _, _, 0, 0, 0, 7])) => 0,
        _ => 1,
    }
}
