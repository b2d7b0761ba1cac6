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
use std::time::{SystemTime, UNIX_EPOCH};

use ::tokio::net::TcpStream;
use ::tokio::time::Instant;
use embedded_io_adapters::tokio_1::FromTokio;
use embedded_nal_async::{AddrType, Dns, TcpConnect};

use crate::producer::{Clock, Delay};

/// Opens Tokio TCP connections (with `TCP_NODELAY`: a Produce request is written in several
/// pieces, and Nagle's algorithm would hold the last ones back for an ACK).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTcp;

impl TcpConnect for TokioTcp {
    type Error = std::io::Error;
    type Connection<'a>
        = FromTokio<TcpStream>
    where
        Self: 'a;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let stream = TcpStream::connect(remote).await?;
        stream.set_nodelay(true)?;
        Ok(FromTokio::new(stream))
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
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: Instant,
}

impl TokioClock {
    /// A clock whose `now_ms` counts from now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
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
