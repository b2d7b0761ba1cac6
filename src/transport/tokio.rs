//! The producer on Tokio: [`TokioTcp`] implements `TcpConnect` with Tokio sockets (through
//! `embedded-io-adapters`' `FromTokio`, which gives `embedded-io-async` streams), [`TokioDns`]
//! implements `Dns` with the system resolver, [`TokioClock`] is a monotonic and a wall clock,
//! [`TokioDelay`] sleeps.
//!
//! Tokio rather than blocking `std::net` sockets: a blocking socket inside an `async fn` would
//! stall every other task on the executor for a whole request timeout, and the stray-response
//! drain (a read polled once) would block instead of returning at once. Tokio's reads are
//! cancel-safe, which the producer's timeouts and drain rely on.

use core::net::{IpAddr, SocketAddr};
use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use ::tokio::net::TcpStream;
use ::tokio::time::Instant;
use embedded_io_adapters::tokio_1::FromTokio;
use embedded_nal_async::{AddrType, Dns, TcpConnect};

use crate::producer::{Clock, Delay};

/// Opens Tokio TCP connections ([`TokioStream`]: `TCP_NODELAY`, and writes gathered until
/// `flush`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTcp;

impl TcpConnect for TokioTcp {
    type Error = std::io::Error;
    type Connection<'a>
        = TokioStream
    where
        Self: 'a;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let stream = TcpStream::connect(remote).await?;
        stream.set_nodelay(true)?;
        Ok(TokioStream {
            inner: FromTokio::new(stream),
            pending: Vec::with_capacity(GATHER),
            written: 0,
        })
    }
}

/// Bytes gathered before they are written out even without a `flush`.
const GATHER: usize = 64 * 1024;

/// A Tokio TCP connection whose writes are gathered until `flush` (or 64 KiB): the
/// producer writes a Produce request in pieces (the request prefix, then each batch straight
/// from its buffer) and flushes once per request, so a request leaves in one system call and,
/// with `TCP_NODELAY`, in as few segments as its size allows, instead of one small segment
/// per piece that the broker must wake up for. Reads go straight to the socket (cancel-safe,
/// as the producer's timeouts and stray-answer drain need).
pub struct TokioStream {
    inner: FromTokio<TcpStream>,
    /// Written by the producer, not yet by the socket.
    pending: Vec<u8>,
    /// How much of `pending` the socket has taken (a flush cancelled half-way resumes here).
    written: usize,
}

impl core::fmt::Debug for TokioStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokioStream")
            .field("peer", &self.inner.inner().peer_addr().ok())
            .field("pending", &(self.pending.len() - self.written))
            .finish()
    }
}

impl TokioStream {
    async fn write_out(&mut self) -> Result<(), std::io::Error> {
        use embedded_io_async::Write as _;
        while let Some(rest) = self.pending.get(self.written..).filter(|r| !r.is_empty()) {
            let n = self.inner.write(rest).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Ok(())
    }
}

impl embedded_io_async::ErrorType for TokioStream {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for TokioStream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.inner.read(buf).await
    }
}

impl embedded_io_async::Write for TokioStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.pending.len() + buf.len() > GATHER {
            self.write_out().await?;
            if buf.len() >= GATHER {
                // Large pieces (a big batch) go out as they are, without a copy.
                return self.inner.write(buf).await;
            }
        }
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.write_out().await?;
        self.inner.flush().await
    }
}

/// Resolves names with the system resolver (`tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioDns;

impl Dns for TokioDns {
    type Error = std::io::Error;

    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: AddrType,
    ) -> Result<IpAddr, Self::Error> {
        let found = ::tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .find(|ip| match addr_type {
                AddrType::IPv4 => ip.is_ipv4(),
                AddrType::IPv6 => ip.is_ipv6(),
                AddrType::Either => true,
            });
        found.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address of that type")
        })
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "reverse lookups are not supported",
        ))
    }
}

/// Tokio's monotonic clock, and the system's wall clock for record timestamps.
///
/// Record timestamps come from [`Clock::wall_ms_at`]: the monotonic time the producer just
/// read plus the wall clock's offset from it, read again from the system at most once a
/// second (so a step of the system clock shows within a second). That saves one clock read
/// per record, which on a virtual machine's clock source was a tenth of the CLI's CPU time.
#[derive(Debug, Clone)]
pub struct TokioClock {
    start: Instant,
    /// `(monotonic ms, wall ms − monotonic ms)` when the wall clock was last read.
    offset: Cell<Option<(u64, i64)>>,
}

/// How long a wall-clock offset is trusted before the system's wall clock is read again.
const WALL_RESYNC_MS: u64 = 1000;

impl TokioClock {
    /// A clock whose `now_ms` counts from now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            offset: Cell::new(None),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn wall_ms(&self) -> Option<i64> {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        i64::try_from(since.as_millis()).ok()
    }

    fn wall_ms_at(&self, now_ms: u64) -> Option<i64> {
        if let Some((synced, offset)) = self.offset.get()
            && now_ms.wrapping_sub(synced) < WALL_RESYNC_MS
        {
            return i64::try_from(now_ms).ok()?.checked_add(offset);
        }
        // Read the wall clock between two monotonic reads' worth of time: `now_ms` was read
        // just before, so the offset is exact to the millisecond.
        let wall = self.wall_ms()?;
        let offset = wall.checked_sub(i64::try_from(now_ms).ok()?)?;
        self.offset.set(Some((now_ms, offset)));
        Some(wall)
    }
}

/// `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioDelay;

impl Delay for TokioDelay {
    async fn delay_ms(&mut self, ms: u32) {
        ::tokio::time::sleep(std::time::Duration::from_millis(u64::from(ms))).await;
    }
}

#[cfg(feature = "tls-rustls")]
#[path = "tokio_tls.rs"]
mod tls;
#[cfg(feature = "tls-rustls")]
pub use tls::{TlsSetupError, TokioTls};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_derived_from_the_monotonic_clock_matches_the_system_clock() {
        let clock = TokioClock::new();
        for _ in 0..3 {
            let now = clock.now_ms();
            let derived = clock.wall_ms_at(now).unwrap();
            let system = clock.wall_ms().unwrap();
            assert!(
                (0..=5).contains(&(system - derived)),
                "derived {derived}, system {system}"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // Past the resync interval the wall clock is read again: a stale offset is replaced.
        clock.offset.set(Some((0, 0)));
        let later = WALL_RESYNC_MS + 1;
        let derived = clock.wall_ms_at(later).unwrap();
        assert!(derived > 1_600_000_000_000, "resynced: {derived}");
        // Within the interval the (deliberately wrong) offset is used as is.
        clock.offset.set(Some((later, 7)));
        assert_eq!(
            clock.wall_ms_at(later + 10),
            Some(i64::try_from(later).unwrap() + 17)
        );
    }
}
