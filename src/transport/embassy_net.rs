//! The producer on embassy-net (feature `embassy-net`): `no_std`, no heap.
//!
//! embassy-net 0.9 implements the same `embedded-nal-async` 0.9 traits the producer is generic
//! over, so its [`TcpClient`] *is* the connector; this module re-exports it and adds what
//! embassy-net does not provide: a [`Clock`] and a [`Delay`] on embassy-time, and
//! [`EmbassyDns`], a resolver over the stack's DNS client that cannot panic (embassy-net's
//! own `DnsSocket` answers reverse lookups with `todo!()`).
//!
//! ```ignore
//! use embedded_kafka::transport::embassy_net::{EmbassyClock, EmbassyDelay, EmbassyDns, TcpClient, TcpClientState};
//!
//! // One connection of 1 KiB each way (see "Sizes" below). The pool is not `Sync`: a
//! // `StaticCell` (or a local of a task that never ends) holds it.
//! static TCP: StaticCell<TcpClientState<1, 1024, 1024>> = StaticCell::new();
//! let client = TcpClient::new(stack, TCP.init(TcpClientState::new()));
//! let mut producer = Producer::new(&client, EmbassyClock::new(), EmbassyDelay, partitioner, config, &mut buffers)?
//!     .with_dns(EmbassyDns::new(stack));
//! ```
//!
//! # Sizes
//!
//! [`TcpClientState<N, TX, RX>`](TcpClientState) is a pool of `N` sockets, each with a `TX`
//! and an `RX` byte buffer: `N × (TX + RX)` bytes of RAM, on top of the producer's
//! [`Buffers`](crate::producer::Buffers) (those hold requests and batches before they are
//! written, and a response after it is read; the socket buffers hold bytes in flight).
//!
//! - `N`: the connections the producer holds at once. Today that is **one**: it closes its
//!   connection before it opens another (to a different leader, or after an error). Add one for
//!   each other user of the same `TcpClient`. A connect when the pool is empty fails with
//!   embassy-net's `Error::ConnectionReset`, the same error as a refused connection, so an
//!   undersized pool looks like an unreachable broker.
//! - `TX`: how much of a Produce request can be on the way, unacknowledged, before a write
//!   waits for the broker's ACKs. A `TX` of at least `batch.size` plus a few hundred bytes of
//!   request header lets a one-batch request leave without a stall; less works, more slowly.
//! - `RX`: the TCP receive window. Responses are small (a Produce response is a few dozen
//!   bytes a partition, Metadata a few hundred a topic) and the producer reads them out at
//!   once into its own `RX` buffer, so 512 B to 1 KiB is plenty.
//!
//! The stack's `StackResources<S>` needs a socket for each of the `N` connections plus one for
//! DNS, which embassy-net's `dns` feature (turned on here) always takes, whether or not
//! [`EmbassyDns`] is used; and one for DHCP if the application uses it. Too few, and
//! smoltcp panics when a connection's socket is added.
//!
//! Leave [`TcpClient::set_timeout`] unset (or longer than `linger.ms` and the time between
//! sends): it closes a socket on which nothing arrives for that long, and a producer's
//! connection is idle between requests. The producer's own `request.timeout.ms` bounds each
//! request.
//!
//! # Features of embassy-net
//!
//! This crate turns on the least embassy-net compiles with plus DNS: `tcp`, `dns`,
//! `proto-ipv4`, `medium-ethernet`. An application that needs more (IPv6, `medium-ip`, DHCP,
//! `defmt`) turns it on in its own embassy-net dependency; Cargo unifies the features. Ours
//! does not forward `defmt` or `log` to embassy-net because with both on (as under
//! `--all-features`) embassy-net refuses to build, where this crate lets `log` win. So with
//! this crate's `defmt`, turn on embassy-net's `defmt` too: the producer's
//! `Error<'_, TcpError>` is `defmt::Format` only if [`TcpError`] is.
//!
//! embassy-time needs a time driver (the chip's HAL, or its `std` feature on a host) in the
//! final binary; [`EmbassyClock`] and [`EmbassyDelay`] use it.

use core::net::IpAddr;

use embassy_net::Stack;
use embassy_net::dns::DnsSocket;
use embassy_time::{Instant, Timer};
use embedded_nal_async::{AddrType, Dns};

use crate::producer::{Clock, Delay};

/// embassy-net's errors: [`TcpError`] for connections, [`DnsError`] for lookups.
pub use embassy_net::dns::Error as DnsError;
pub use embassy_net::tcp::Error as TcpError;
/// The connector (`embedded_nal_async::TcpConnect`), its pool and its connections (which are
/// `embedded_io_async::{Read, Write}`).
pub use embassy_net::tcp::client::{TcpClient, TcpClientState, TcpConnection};

/// Resolves brokers' host names with the stack's DNS client (the servers from its DHCP lease
/// or static configuration).
///
/// A wrapper rather than embassy-net's `DnsSocket` as is: the producer only resolves names,
/// but `DnsSocket::get_host_by_address` is a `todo!()` (a panic on a board); here it is an
/// error.
#[derive(Clone, Copy)]
pub struct EmbassyDns<'d> {
    stack: Stack<'d>,
}

impl<'d> EmbassyDns<'d> {
    /// A resolver on `stack`.
    pub fn new(stack: Stack<'d>) -> Self {
        Self { stack }
    }
}

impl Dns for EmbassyDns<'_> {
    type Error = DnsError;

    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: AddrType,
    ) -> Result<IpAddr, Self::Error> {
        DnsSocket::new(self.stack)
            .get_host_by_name(host, addr_type)
            .await
    }

    /// Not supported (the producer never asks): always [`DnsError::Failed`].
    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        Err(DnsError::Failed)
    }
}

/// embassy-time's monotonic clock (time since boot) for linger and timeouts, and, if the
/// application knows the date, a wall clock for record timestamps.
///
/// The wall clock is the monotonic one shifted by a fixed offset, set when the clock is made
/// ([`with_unix_ms`](Self::with_unix_ms)); the producer owns its clock, so learn the time (SNTP,
/// RTC, GNSS) before building the producer. Without it, records carry no timestamp (-1) unless
/// the caller gives one.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock {
    /// Unix milliseconds at embassy-time's zero (boot), if known.
    unix_ms_at_boot: Option<i64>,
}

impl EmbassyClock {
    /// A monotonic clock only: records sent without a timestamp carry none.
    pub const fn new() -> Self {
        Self {
            unix_ms_at_boot: None,
        }
    }

    /// A clock that also knows the date: `unix_ms_now` is the Unix time in milliseconds at
    /// this moment.
    pub fn with_unix_ms(unix_ms_now: i64) -> Self {
        let since_boot = i64::try_from(Instant::now().as_millis()).unwrap_or(i64::MAX);
        Self {
            unix_ms_at_boot: Some(unix_ms_now.saturating_sub(since_boot)),
        }
    }
}

impl Clock for EmbassyClock {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    fn wall_ms(&self) -> Option<i64> {
        let since_boot = i64::try_from(Instant::now().as_millis()).ok()?;
        self.unix_ms_at_boot?.checked_add(since_boot)
    }
}

/// embassy-time's [`Timer`]. Cancel-safe, as the producer needs: dropping a timer before it
/// fires just forgets it.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyDelay;

impl Delay for EmbassyDelay {
    async fn delay_ms(&mut self, ms: u32) {
        Timer::after_millis(u64::from(ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // These run on the host with embassy-time's `std` driver (a dev-dependency feature).

    #[test]
    fn wall_clock_follows_the_monotonic_one() {
        let clock = EmbassyClock::with_unix_ms(1_700_000_000_000);
        let wall = clock.wall_ms().expect("a wall clock was given");
        assert!(wall >= 1_700_000_000_000);
        assert_eq!(EmbassyClock::new().wall_ms(), None);
        let (a, b) = (clock.now_ms(), clock.now_ms());
        assert!(b >= a);
    }
}
