//! An async, allocation-free Kafka producer, generic over the transport
//! (`embedded-nal-async`'s [`TcpConnect`](embedded_nal_async::TcpConnect), whose connections are
//! `embedded-io-async` streams), a monotonic [`Clock`] and a [`Delay`], so that the same code
//! runs on embassy-net on a board and on Tokio on a server ([`crate::transport`]).
//!
//! ```text
//! send(topic, record) -> metadata (fetched on first use of a topic) -> partition
//!                     -> append to the partition's batch, in place in a batch buffer
//! flush() / batch full / no buffer free / linger.ms passed
//!                     -> one Produce request per leader: prefix from TX, batches from
//!                        their buffers, written in sequence as one frame
//!                     -> acks=0: done (stray answers drained and counted)
//!                     -> else: response read into RX, matched by correlation id,
//!                        each batch's outcome kept for delivery(ticket)
//! ```
//!
//! All memory is the caller's ([`Buffers`]) or sized by const generics: the RAM a
//! configuration takes is `size_of::<Producer<…>>() + size_of::<Buffers<…>>()`.
//!
//! Retries: a batch that failed with a retriable error (or whose request got no answer) stays
//! in its buffer; after a back-off and a refresh of its topic's metadata the same bytes are sent
//! again, up to `retries` times.
//!
//! Idempotence (`enable.idempotence`): a producer id from InitProducerId, each partition's
//! records numbered; a batch sent again keeps its sequence, and DUPLICATE_SEQUENCE_NUMBER
//! counts as delivered.
//!
//! Not yet here (see issue #5): pipelining (more than 1 request in flight), connections to
//! several leaders at once, the epoch bump on OUT_OF_ORDER_SEQUENCE_NUMBER /
//! UNKNOWN_PRODUCER_ID (KIP-360), back-off jitter.
#![allow(async_fn_in_trait)]

mod backoff;
mod bootstrap;
mod buffers;
mod config;
mod connection;
mod delivery;
mod error;
mod flush;
mod metadata;
mod produce;
#[allow(clippy::module_inception)]
mod producer;
mod records;
mod send;
mod slot;

pub use buffers::Buffers;
pub use config::{Acks, Config, ConfigError, MAX_CLIENT_ID_LEN, MAX_IN_FLIGHT_SUPPORTED};
pub use connection::MAX_IN_FLIGHT;
pub use delivery::{BatchReport, Delivery, DeliveryStatus, FlushSummary};
pub use error::{DeliveryError, Error, Io};
pub use metadata::{BrokerAddr, MAX_BROKERS, MAX_PARTITIONS, MetadataCache, TopicMetadata};
pub use producer::Producer;
pub use records::{Record, Ticket, ValueError};

/// The resolver of a producer without one: every lookup fails. Brokers must then be given,
/// and advertise themselves, by IP address.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDns;

/// [`NoDns`]'s only answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoResolver;

impl embedded_nal_async::Dns for NoDns {
    type Error = NoResolver;

    async fn get_host_by_name(
        &self,
        _host: &str,
        _addr_type: embedded_nal_async::AddrType,
    ) -> Result<core::net::IpAddr, NoResolver> {
        Err(NoResolver)
    }

    async fn get_host_by_address(
        &self,
        _addr: core::net::IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, NoResolver> {
        Err(NoResolver)
    }
}

/// Time for linger and timeouts, and optionally for record timestamps.
pub trait Clock {
    /// Milliseconds on a monotonic clock (any origin; it must never go back).
    fn now_ms(&self) -> u64;

    /// Milliseconds since the Unix epoch, if the device knows the time (RTC, NTP, GNSS).
    ///
    /// Used as the timestamp of records sent without one. A board without a wall clock
    /// returns `None` (the default): such records carry no timestamp (-1, Kafka's
    /// `NO_TIMESTAMP`), and a consumer sees -1 unless the topic uses `LogAppendTime`, in which
    /// case the broker stamps them.
    fn wall_ms(&self) -> Option<i64> {
        None
    }
}

/// Waiting: for request timeouts and back-off. The future must be cancel-safe (it is dropped
/// when what it races against finishes first).
pub trait Delay {
    /// Completes after `ms` milliseconds.
    async fn delay_ms(&mut self, ms: u32);
}
