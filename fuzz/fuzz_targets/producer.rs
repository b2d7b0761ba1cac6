//! The producer's response handling fed a fuzzed broker: every byte the producer reads, on
//! every connection it opens, comes from the input (in reads of 1 to 64 bytes, so frames arrive
//! split anywhere). The producer bootstraps, fetches metadata, sends three records, waits for
//! them, flushes and closes, with short timeouts on a clock that advances with every look at
//! it. It must never panic, and it must finish: a run that is still going after a million
//! polls is a hang, reported as a crash.
//!
//! Input: byte 0 picks the configuration (acks, idempotence, in-flight limit, connections);
//! the rest is the broker's byte stream. Seeds (`fuzz/seeds/producer/`) are Tansu's own answers
//! from `tests/fixtures/` with the correlation ids the producer will use.
#![no_main]

use core::cell::Cell;
use core::future::Future;
use core::net::SocketAddr;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::cell::RefCell;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_kafka::partition::{Murmur2, RoundRobin};
use embedded_kafka::producer::{Acks, Buffers, Clock, Config, Delay, Producer, Record};
use embedded_nal_async::TcpConnect;
use libfuzzer_sys::fuzz_target;

/// The broker's whole byte stream, shared by every connection in turn. Like a real broker it
/// answers only what it was asked: each request the producer sends (each flush) lets one more
/// frame of the stream through (a frame as its size prefix says; a size that makes no sense
/// lets the rest of the stream through as one "frame").
struct Broker<'d> {
    stream: RefCell<&'d [u8]>,
    /// Read sizes come from here (cycling), so frames are split at varied places.
    step: Cell<usize>,
    /// Frames the producer has asked for and not yet received.
    credits: Cell<usize>,
    /// Bytes left of the frame being delivered.
    frame_left: Cell<Option<usize>>,
}

struct Conn<'b, 'd>(&'b Broker<'d>);

impl ErrorType for Conn<'_, '_> {
    type Error = ErrorKind;
}

impl Read for Conn<'_, '_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let broker = self.0;
        core::future::poll_fn(|_| {
            if broker.credits.get() > 0 || broker.stream.borrow().is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let mut stream = broker.stream.borrow_mut();
        if stream.is_empty() {
            // The broker closed the connection.
            return Ok(0);
        }
        let frame_left = broker.frame_left.get().unwrap_or_else(|| {
            match stream
                .get(..4)
                .map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            {
                Some(size) if size >= 0 && (size as usize) + 4 <= stream.len() => size as usize + 4,
                _ => stream.len(),
            }
        });
        let step = broker.step.get();
        broker.step.set(step.wrapping_add(1));
        let chunk = 1 + (step * 37 + stream.len()) % 64;
        let n = chunk.min(buf.len()).min(frame_left);
        let (now, rest) = stream.split_at(n);
        buf[..n].copy_from_slice(now);
        *stream = rest;
        if frame_left == n {
            broker.frame_left.set(None);
            broker.credits.set(broker.credits.get() - 1);
        } else {
            broker.frame_left.set(Some(frame_left - n));
        }
        Ok(n)
    }
}

impl Write for Conn<'_, '_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.credits.set(self.0.credits.get() + 1);
        Ok(())
    }
}

impl<'d> TcpConnect for Broker<'d> {
    type Error = ErrorKind;
    type Connection<'a>
        = Conn<'a, 'd>
    where
        Self: 'a;

    async fn connect<'a>(&'a self, _remote: SocketAddr) -> Result<Conn<'a, 'd>, ErrorKind> {
        // Once the stream is spent, nobody answers any more.
        if self.stream.borrow().is_empty() {
            Err(ErrorKind::ConnectionRefused)
        } else {
            Ok(Conn(self))
        }
    }
}

/// A clock that moves 1 ms each time it is read: timeouts and back-offs end by themselves.
#[derive(Default)]
struct Ticking(Cell<u64>);

impl Clock for Ticking {
    fn now_ms(&self) -> u64 {
        let t = self.0.get() + 1;
        self.0.set(t);
        t
    }

    fn wall_ms(&self) -> Option<i64> {
        Some(1_700_000_000_000 + self.0.get() as i64)
    }
}

/// Waiting takes one poll per millisecond.
struct Polls;

impl Delay for Polls {
    async fn delay_ms(&mut self, ms: u32) {
        let mut left = ms.min(1000);
        core::future::poll_fn(|_| {
            if left == 0 {
                Poll::Ready(())
            } else {
                left -= 1;
                Poll::Pending
            }
        })
        .await;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config_byte, stream)) = data.split_first() else {
        return;
    };
    let broker = Broker {
        stream: RefCell::new(stream),
        step: Cell::new(0),
        credits: Cell::new(0),
        frame_left: Cell::new(None),
    };
    // The leader in the seeds' Metadata answer (Tansu as captured): one connection does it all.
    let servers = [SocketAddr::from(([127, 0, 0, 1], 33515))];
    let acks = [Acks::None, Acks::Leader, Acks::All][usize::from(config_byte % 3)];
    let idempotent = acks == Acks::All && config_byte & 0x04 != 0;
    let config = Config::new(&servers)
        .acks(acks)
        .enable_idempotence(idempotent)
        .max_in_flight(1 + (config_byte >> 3) % 5)
        .request_timeout_ms(50)
        .delivery_timeout_ms(400)
        .retries(2)
        .retry_backoff_ms(1, 4)
        .linger_ms(0)
        .batch_size(512);
    let mut buffers = Buffers::<2048, 256, 512, 2>::new();
    let producer = match Producer::<_, _, _, _, 1, 2, 8>::new(
        &broker,
        Ticking::default(),
        Polls,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    ) {
        Ok(p) => p,
        Err(e) => {
            if std::env::var_os("PRODUCER_FUZZ_DEBUG").is_some() {
                eprintln!("config: {e}");
            }
            return;
        }
    };
    let mut producer = producer.with_connections::<2>();
    let run = async {
        let mut tickets = Vec::new();
        for i in 0..3u8 {
            let key = [b'k', i];
            let record = Record::new(b"value").key(&key).partition(u32::from(i % 2));
            match producer.send("fixtures", record).await {
                Ok(t) => tickets.push(t),
                Err(e) => {
                    if std::env::var_os("PRODUCER_FUZZ_DEBUG").is_some() {
                        eprintln!("send: {e}");
                    }
                    break;
                }
            }
        }
        for t in &tickets {
            let r = producer.wait(t).await;
            if std::env::var_os("PRODUCER_FUZZ_DEBUG").is_some() {
                eprintln!("wait: {r:?}");
            }
        }
        let _ = producer.flush().await;
        let _ = producer.close().await;
        let mut reports = 0;
        producer.take_reports(|_| reports += 1);
        reports
    };
    let mut run = pin!(run);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(_) = run.as_mut().poll(&mut cx) {
            return;
        }
    }
    panic!("the producer did not finish within a million polls: a hang");
});
