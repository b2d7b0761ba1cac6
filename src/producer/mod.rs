//! An async, allocation-free Kafka producer, generic over the transport
//! (`embedded-nal-async`'s [`TcpConnect`](embedded_nal_async::TcpConnect), whose connections are
//! `embedded-io-async` streams), a monotonic [`Clock`] and a [`Delay`], so that the same code
//! runs on embassy-net on a board and on Tokio on a server ([`crate::transport`]).
//!
//! ```text
//! send(topic, record) -> metadata (fetched on first use of a topic) -> partition
//!                     -> append to the partition's batch, in place in a batch buffer
//! batch full / no buffer free / linger.ms passed (poll) / flush() / wait()
//!                     -> one Produce request per leader, on that leader's connection:
//!                        prefix from TX, batches from their buffers, one frame
//!                     -> acks=0: done (stray answers drained and counted)
//!                     -> else: in flight (up to max.in.flight per connection), batches
//!                        kept sealed; answers read in order into RX when the window is
//!                        full, a buffer is needed, or on poll / flush / wait
//!                     -> each batch delivered, sent again, or failed; outcome kept for
//!                        delivery(ticket) and take_reports
//! ```
//!
//! All memory is the caller's ([`Buffers`]) or sized by const generics: the RAM a
//! configuration takes is `size_of::<Producer<…>>() + size_of::<Buffers<…>>()` (1 topic,
//! 1 connection, 2 partition batches of 1 KiB, 8 outcomes: 1912 B of producer state on Tokio,
//! each further connection about 232 B; `tests/producer_tansu.rs` keeps it under 2 KiB).
//!
//! Pipelining: up to `max.in.flight.requests.per.connection` (1 to 5) Produce requests are
//! written to a connection before its first answer is read. Batches go in the order they were
//! filled, at most one per partition per request, and never past an older batch of the same
//! partition waiting to be sent again.
//!
//! Connections: `L` at once (1 by default; [`Producer::with_connections`]), one per partition
//! leader in use; with fewer than there are leaders, an idle one is closed for another.
//! A partition with no leader (an election: leader -1, LEADER_NOT_AVAILABLE) is not sent to:
//! its batches wait, a back-off and a metadata refresh at a time, spending no retry, until it
//! has one or `delivery.timeout.ms` passes (then they fail `NotSent`), as the Java client's
//! accumulator does not drain a partition without a leader. NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, a lost connection or a timeout send the
//! batch again after a metadata refresh, so it follows its partition's new leader; metadata
//! older than `metadata.max.age.ms` is fetched again on the next send to its topic.
//!
//! Retries: a batch that failed with a retriable error (or whose request got no answer) stays
//! in its buffer; after a back-off (`retry.backoff.ms` doubling up to `retry.backoff.max.ms`,
//! times a random factor in [0.8, 1.2): KIP-580) and a refresh of its topic's metadata the
//! same bytes are sent again, up to `retries` times and within `delivery.timeout.ms`. A
//! Produce response that does not decode (well framed, broken body) counts as a lost
//! connection: it is dropped and its batches are sent again within their retries. A
//! throttled broker (`throttle_time_ms` in a Produce response) is not sent to before the
//! throttle time has passed (KIP-219). Every wait for a broker (connect, each write, and the
//! answer to ApiVersions, Metadata, InitProducerId and Produce, counted from when the request
//! was written) is bounded by `request.timeout.ms`.
//!
//! Partitioning: a record's partition is chosen once (KAFKA-9965); a sticky partitioner that
//! moved on when the batch closed under the record is asked again
//! ([`Partitioner::on_batch_closed`](crate::partition::Partitioner::on_batch_closed)).
//!
//! Outcomes: when [`Producer::flush`] returns, every batch sealed before or during it has its
//! outcome, also when it returns an error (a batch never written then fails
//! [`DeliveryError::NotSent`]). [`Producer::close`] flushes, reads the answers a broker sends
//! even to `acks=0` requests (Tansu does; Kafka does not: a short wait, then none), and closes
//! the connections cleanly. [`Producer::wait_timeout`] is `wait` bounded in time (the Java
//! `future.get(timeout)`): past the deadline it only stops waiting ([`Error::WaitTimeout`]),
//! the record still pending; it checks the deadline between the producer's steps and cuts
//! short only waits that lose nothing (an answer, a back-off), never a request half written.
//!
//! Authentication (`security.protocol` SASL_PLAINTEXT or SASL_SSL, the TLS of the latter being the
//! connector's; feature `sasl`, on with `tokio`): every new connection, right after ApiVersions,
//! sends SaslHandshake v1 naming `sasl.mechanism`, then one SaslAuthenticate (v0 to v2) per step:
//! PLAIN, or SCRAM-SHA-256/512 (feature `scram`; nonces from the caller's RNG,
//! [`Producer::with_sasl_rng`]) with the server's signature checked. A refused login is a final
//! [`Error`] naming the broker and what it said.
//!
//! Idempotence (`enable.idempotence`; feature `idempotence`, on with `tokio`): a producer id from
//! InitProducerId, each partition's records numbered; a batch sent again keeps its sequence, and
//! DUPLICATE_SEQUENCE_NUMBER counts as delivered. Each partition's order holds with up to 5
//! requests in flight: a batch refused with OUT_OF_ORDER_SEQUENCE_NUMBER behind a failed one is
//! sent again after it. As in the Java client, OUT_OF_ORDER_SEQUENCE_NUMBER with no such
//! predecessor, UNKNOWN_PRODUCER_ID, a batch refused for good before its retries ran out, or one
//! never written that fails, bump the epoch (KIP-360: InitProducerId v3+ with the current id and
//! epoch, after every answer in flight is in): that partition's undelivered batches are numbered
//! from 0 again; other partitions keep the sequences of what they had sealed, and start at 0 in the
//! new epoch after that. A batch that fails for good after being written (it may be stored) bumps
//! nothing, as in the Java client (`Sender.completeBatch`): renumbering would store again those of
//! its partition's unacknowledged batches that were stored; the broker's answer to the partition's
//! next batch (OUT_OF_ORDER_SEQUENCE_NUMBER if it was not stored) decides. (The Java client bumps
//! an idempotent producer's epoch locally, without a request; the broker accepts either.) A broker
//! that refuses the bump (one restarted without its producer states) is asked for a new producer
//! id; while no bump can be made, the batches waiting for it back off within `retries`, then fail.
//! UNKNOWN_PRODUCER_ID whose answer has no log start offset (-1) is retried without a bump, as in
//! the Java client.
//!
//! Compression (`compression.type`: gzip, snappy, lz4, zstd, each behind its feature): a
//! batch is built uncompressed in its buffer and compressed when it is sealed, into one
//! scratch buffer for the whole producer ([`Producer::with_compression_scratch`], a batch
//! buffer's size: the only RAM it adds, besides LZ4's 8 KiB table on the stack while it
//! compresses) and copied back; the buffer then holds the compressed batch, sent and sent
//! again as it is, and an epoch bump rewrites its header and CRC as any other's (a batch its
//! codec does not make smaller, such as one short record, goes as it was built). A batch
//! stops taking records where the codec's worst case would no longer fit its buffer (LZ4:
//! about 10 % less), so compression makes what is sent smaller, never a batch fuller.
//!
//! Features, and what a firmware pays for: SASL and idempotence are Cargo features (`sasl`,
//! `scram` for SCRAM, `idempotence`), because both are chosen at run time from the [`Config`]
//! and a run-time choice links all of its code (each `await` of a path is a state of the
//! caller's future, kept whether or not the path is taken). Without them a [`Config`] asking
//! for them is refused ([`ConfigError::SaslUnavailable`],
//! [`ConfigError::IdempotenceUnavailable`]); `tokio` turns both on, so host users lose
//! nothing. Compression codecs were features already; [`Producer::send_with`]'s in-place
//! writer is linked only if it is called. The requests the producer sends (ApiVersions,
//! Metadata, Produce) are written by hand and the answers it reads are read in one pass
//! taking only what it uses (`answers`), rather than through the generated codec, which
//! handles every field of every version; the tests hold both to the generated codec's bytes
//! and answers. `scripts/footprint` measures the result (BENCHMARKS.md, "Footprint").
//!
//! Not yet here: transactions; TLS (a connector's job: wrap the transport);
//! SASL mechanisms other than PLAIN and SCRAM (GSSAPI, OAUTHBEARER) and re-authentication
//! (KIP-368: the session lifetime the broker gives is ignored, so a broker that enforces
//! `connections.max.reauth.ms` closes the connection when it ends, and the producer opens
//! and authenticates a new one); the Java client's `sequenceHasBeenReset` exemption (a bump
//! here waits for every answer in flight, so a renumbered batch is never answered for its old
//! numbers).
#![allow(async_fn_in_trait)]

mod answers;
#[cfg(feature = "sasl")]
mod auth;
mod backoff;
mod bootstrap;
mod buffers;
mod close;
mod compress;
mod config;
mod connection;
mod conns;
mod delivery;
#[cfg(feature = "idempotence")]
mod epoch;
mod error;
mod flush;
mod ip;
mod metadata;
mod produce;
#[allow(clippy::module_inception)]
mod producer;
mod records;
mod requests;
mod retry;
mod send;
mod slot;

pub use buffers::Buffers;
pub use close::{CLOSE_FIRST_ANSWER_MS, CLOSE_QUIET_MS};
pub use config::{
    Acks, Config, ConfigError, MAX_CLIENT_ID_LEN, MAX_IN_FLIGHT_SUPPORTED, SecurityProtocol,
};
pub use connection::MAX_IN_FLIGHT;
pub use delivery::{BatchReport, Delivery, DeliveryStatus, FlushSummary};
pub use error::{BrokerText, DeliveryError, Error, Io};
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

    /// [`wall_ms`](Self::wall_ms) at the moment `now_ms` was read from
    /// [`now_ms`](Self::now_ms), just before. The producer reads the monotonic clock once
    /// per `send` and asks for the record's timestamp with it, so a clock that can derive
    /// wall time from monotonic time (an offset kept in sync) saves a second clock read per
    /// record. The default reads [`wall_ms`](Self::wall_ms).
    fn wall_ms_at(&self, now_ms: u64) -> Option<i64> {
        let _ = now_ms;
        self.wall_ms()
    }
}

/// Waiting: for request timeouts and back-off. The future must be cancel-safe (it is dropped
/// when what it races against finishes first).
pub trait Delay {
    /// Completes after `ms` milliseconds.
    async fn delay_ms(&mut self, ms: u32);
}
