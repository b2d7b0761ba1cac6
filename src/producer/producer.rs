//! [`Producer`]: records in, batches per partition, Produce requests out, delivery outcomes
//! back.

use embedded_nal_async::{Dns, TcpConnect};

use super::buffers::Buffers;
use super::compress::Compressor;
use super::connection::Connection;
use super::delivery::{FlushSummary, Outcome};
use super::metadata::MetadataCache;
use super::slot::{Region, Slot};
use super::{Clock, Config, ConfigError, Delay, Error, NoDns};
use crate::partition::Partitioner;
use crate::protocol::{CorrelationIds, FrameReader, NegotiatedVersions};

/// An async Kafka producer over any `embedded-nal-async` connector `C`, with a monotonic
/// [`Clock`] `K`, a [`Delay`] `D` and a [`Partitioner`] `P`. Sizes: `T` topics, `B` batch
/// buffers (partitions with records waiting at once), `R` batch outcomes remembered, `L`
/// broker connections open at once (one per partition leader in use; 1 by default, see
/// [`with_connections`](Self::with_connections)).
///
/// The flow: [`send`](Self::send) finds the topic's metadata (fetched on first use), picks the
/// partition, and appends the record to that partition's batch, built in place in one of the
/// caller's batch buffers (the record is copied once, from the caller into the batch). When a
/// batch is full, no buffer is free, `linger.ms` has passed or [`flush`](Self::flush) is
/// called, the batches are sent: one Produce request per leader, on that leader's connection,
/// written as the request prefix from the `TX` buffer interleaved with the batches straight
/// from their buffers (no second copy).
///
/// Up to `max.in.flight.requests.per.connection` requests are written to a connection before
/// its first answer is read: a batch sent stays sealed in its buffer, tied to its request's
/// correlation id, until the answer comes. Answers are read (in order, per connection) when
/// the window is full, when a buffer is needed, and by [`poll`](Self::poll) (what has
/// arrived), [`flush`](Self::flush) and [`wait`](Self::wait) (until done). Each batch's
/// outcome is then kept for [`delivery`](Self::delivery) and
/// [`take_reports`](Self::take_reports).
///
/// Order within a partition: batches are sent in the order they were filled, one per
/// partition per request, and a batch is never sent while an older one of its partition
/// waits to be sent again. With idempotence that keeps each partition's records in order
/// with up to 5 requests in flight (the broker refuses a successor of a failed batch with
/// OUT_OF_ORDER_SEQUENCE_NUMBER, and it is sent again after its predecessor). Without
/// idempotence, as in Kafka, `retries` > 0 with more than one request in flight may reorder a
/// partition's records: a batch that fails and is sent again lands after the ones that were
/// in flight behind it. Set `max_in_flight` to 1 (or enable idempotence) to keep order.
pub struct Producer<
    'a,
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    const T: usize,
    const B: usize,
    const R: usize,
    N: Dns = NoDns,
    const L: usize = 1,
> {
    pub(super) connector: &'a C,
    pub(super) dns: N,
    pub(super) clock: K,
    pub(super) delay: D,
    pub(super) partitioner: P,
    pub(super) config: Config<'a>,
    pub(super) batch_size: usize,
    /// The open connections; a slot's batch in flight names its connection by index here.
    pub(super) conns: [Option<Connection<'a, C>>; L],
    pub(super) reader: FrameReader<'a>,
    /// The connection whose partly received frame is in `reader` (read without waiting by
    /// [`poll`](Self::poll)): it must be read to its end before another connection is read.
    pub(super) partial: Option<u8>,
    pub(super) tx: &'a mut [u8],
    pub(super) ids: CorrelationIds,
    pub(super) metadata: MetadataCache<'a, T>,
    pub(super) slots: [Slot<'a>; B],
    pub(super) outcomes: [Option<Outcome<'a>>; R],
    pub(super) next_outcome: usize,
    pub(super) next_batch: u32,
    pub(super) strays: u32,
    pub(super) produce_requests: u32,
    pub(super) reports_dropped: u32,
    /// With idempotence: the producer id and epoch from InitProducerId.
    pub(super) producer_id: Option<(i64, i16)>,
    /// With idempotence: a partition's sequence broke (OUT_OF_ORDER_SEQUENCE_NUMBER,
    /// UNKNOWN_PRODUCER_ID, a batch failed for good): bump the epoch and number every
    /// partition from 0 again before the next Produce request.
    pub(super) bump_epoch: bool,
    /// The partitions whose sequence broke, a bit each (the cache tracks at most 32 per
    /// topic), per topic slot of the metadata cache.
    pub(super) bump_partitions: [u32; T],
    /// The state of the back-off jitter's generator (KIP-580).
    pub(super) rng: u32,
    /// What the current [`flush`](Self::flush) did (also counted outside one).
    pub(super) tally: FlushSummary,
    /// When (monotonic clock) the batches marked to be sent again may go.
    pub(super) retry_due_ms: u64,
    /// The partitioner moved on when a batch closed
    /// ([`on_batch_closed`](crate::partition::Partitioner::on_batch_closed) returned `true`):
    /// the record being sent, if keyless, asks it again.
    pub(super) repick: bool,
    /// The random source of SCRAM nonces ([`with_sasl_rng`](Self::with_sasl_rng)).
    pub(super) sasl_rng: Option<&'a mut (dyn rand_core::RngCore + Send)>,
    /// `compression.type`'s codec and scratch buffer ([`super::compress`]).
    pub(super) compress: Compressor<'a>,
}

pub(super) type Res<'a, T, C> = Result<T, Error<'a, <C as TcpConnect>::Error>>;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize>
    Producer<'a, C, K, D, P, T, B, R, NoDns, 1>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
{
    /// A producer that will connect through `connector` (nothing is sent until the first
    /// [`send`](Self::send)), with one broker connection
    /// ([`with_connections`](Self::with_connections) for more). Fails if `config` is
    /// unusable, or `batch.size` exceeds `BATCH`.
    pub fn new<const RX: usize, const TX: usize, const BATCH: usize>(
        connector: &'a C,
        clock: K,
        delay: D,
        partitioner: P,
        config: Config<'a>,
        buffers: &'a mut Buffers<RX, TX, BATCH, B>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        if config.batch_size > BATCH {
            return Err(ConfigError::BatchSizeTooLarge {
                batch_size: config.batch_size,
                buffer: BATCH,
            });
        }
        // With compression a batch stops where its worst-case compressed form would no longer
        // fit its buffer (it is compressed in place when sealed).
        let compress = Compressor::new(config.compression, BATCH);
        let Buffers { rx, tx, batches } = buffers;
        let slots = batches.each_mut().map(|b| Slot {
            region: Region::Idle(&mut b[..]),
            topic: 0,
            partition: 0,
            batch: 0,
            records: 0,
            opened_ms: 0,
            attempts: 0,
            retrying: false,
            leader_waits: 0,
            sent: None,
            written: false,
        });
        // Seeded from the clock: producers started at different times jitter differently.
        let rng = super::backoff::seed(clock.now_ms());
        Ok(Self {
            connector,
            dns: NoDns,
            clock,
            delay,
            partitioner,
            batch_size: config.batch_size.min(compress.plain_cap),
            config,
            conns: [const { None }; 1],
            reader: FrameReader::new(&mut rx[..]),
            partial: None,
            tx: &mut tx[..],
            ids: CorrelationIds::new(),
            metadata: MetadataCache::new(),
            slots,
            outcomes: [None; R],
            next_outcome: 0,
            next_batch: 0,
            strays: 0,
            produce_requests: 0,
            reports_dropped: 0,
            producer_id: None,
            bump_epoch: false,
            bump_partitions: [0; T],
            rng,
            tally: FlushSummary::default(),
            retry_due_ms: 0,
            repick: false,
            sasl_rng: None,
            compress,
        })
    }
}

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// The same producer, resolving brokers' host names (from Metadata responses) with `dns`.
    /// Without one, a leader known only by name cannot be reached
    /// ([`Error::UnresolvedLeader`]).
    pub fn with_dns<N2: Dns>(self, dns: N2) -> Producer<'a, C, K, D, P, T, B, R, N2, L> {
        Producer {
            connector: self.connector,
            dns,
            clock: self.clock,
            delay: self.delay,
            partitioner: self.partitioner,
            config: self.config,
            batch_size: self.batch_size,
            conns: self.conns,
            reader: self.reader,
            partial: self.partial,
            tx: self.tx,
            ids: self.ids,
            metadata: self.metadata,
            slots: self.slots,
            outcomes: self.outcomes,
            next_outcome: self.next_outcome,
            next_batch: self.next_batch,
            strays: self.strays,
            produce_requests: self.produce_requests,
            reports_dropped: self.reports_dropped,
            producer_id: self.producer_id,
            bump_epoch: self.bump_epoch,
            bump_partitions: self.bump_partitions,
            rng: self.rng,
            tally: self.tally,
            retry_due_ms: self.retry_due_ms,
            repick: self.repick,
            sasl_rng: self.sasl_rng,
            compress: self.compress,
        }
    }

    /// The same producer with room for `L2` broker connections at once: one per partition
    /// leader in use, so that each leader's batches go straight to it. With fewer than there
    /// are leaders, a connection with nothing in flight is closed to open another. Call it
    /// before the first [`send`](Self::send): open connections are closed (their batches in
    /// flight are sent again).
    pub fn with_connections<const L2: usize>(mut self) -> Producer<'a, C, K, D, P, T, B, R, N, L2> {
        self.disconnect();
        Producer {
            connector: self.connector,
            dns: self.dns,
            clock: self.clock,
            delay: self.delay,
            partitioner: self.partitioner,
            config: self.config,
            batch_size: self.batch_size,
            conns: [const { None }; L2],
            reader: self.reader,
            partial: None,
            tx: self.tx,
            ids: self.ids,
            metadata: self.metadata,
            slots: self.slots,
            outcomes: self.outcomes,
            next_outcome: self.next_outcome,
            next_batch: self.next_batch,
            strays: self.strays,
            produce_requests: self.produce_requests,
            reports_dropped: self.reports_dropped,
            producer_id: self.producer_id,
            bump_epoch: self.bump_epoch,
            bump_partitions: self.bump_partitions,
            rng: self.rng,
            tally: self.tally,
            retry_due_ms: self.retry_due_ms,
            repick: self.repick,
            sasl_rng: self.sasl_rng,
            compress: self.compress,
        }
    }

    /// The same producer, drawing the nonces of SCRAM authentication (`sasl.mechanism`
    /// SCRAM-SHA-256 or SCRAM-SHA-512) from `rng`: 18 bytes per new connection, which must be
    /// unpredictable to whoever could listen in (a replayed exchange is refused only because
    /// its nonce is not ours). On a board, the chip's hardware RNG (most HALs implement
    /// `rand_core::RngCore` for it); on a host, the operating system's (`rand::rngs::OsRng`,
    /// or `getrandom` behind a small `RngCore`). Borrowed, not owned: the caller keeps it,
    /// and no heap is needed. `Send`, so that the producer stays `Send` (a task of a
    /// multi-threaded runtime). PLAIN needs none.
    #[must_use]
    pub fn with_sasl_rng(mut self, rng: &'a mut (dyn rand_core::RngCore + Send)) -> Self {
        self.sasl_rng = Some(rng);
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config<'a> {
        &self.config
    }

    /// The metadata cache.
    pub fn metadata(&self) -> &MetadataCache<'a, T> {
        &self.metadata
    }

    /// The versions negotiated on the first open connection, if one is open.
    pub fn versions(&self) -> Option<&NegotiatedVersions> {
        self.conns
            .iter()
            .flatten()
            .find_map(|c| c.versions.as_ref())
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.conns.iter().flatten().count()
    }

    /// Requests written and not yet answered, over all connections.
    pub fn in_flight(&self) -> usize {
        self.conns.iter().flatten().map(|c| c.in_flight.len()).sum()
    }

    /// Responses to `acks=0` Produce requests (which Kafka never sends, and Tansu does) that
    /// were drained and dropped, over all connections so far.
    pub fn stray_responses(&self) -> u32 {
        self.conns
            .iter()
            .flatten()
            .fold(self.strays, |n, c| n.wrapping_add(c.strays))
    }

    /// Produce requests written so far, by every flush (explicit or not).
    pub fn produce_requests(&self) -> u32 {
        self.produce_requests
    }

    /// With idempotence: the producer id and epoch in use.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.producer_id
    }

    /// Closes every connection (the next request opens new ones). Batches in flight on them
    /// are sent again if they have retries left (an attempt each; with idempotence a copy the
    /// broker stored comes back DUPLICATE_SEQUENCE_NUMBER and counts as delivered), else
    /// fail ([`DeliveryError::NoResponse`](super::DeliveryError::NoResponse)).
    pub fn disconnect(&mut self) {
        for ci in 0..L {
            self.release(super::retry::Release::Conn(ci), true);
            self.drop_conn(ci);
        }
    }

    /// Whether this producer is idempotent: `enable.idempotence`, in a build with the
    /// `idempotence` feature. Without the feature it is a constant `false`, and every path of
    /// idempotence (InitProducerId, sequences, epoch bumps) is left out of the binary.
    #[inline(always)]
    pub(super) fn idempotent(&self) -> bool {
        cfg!(feature = "idempotence") && self.config.enable_idempotence
    }

    /// The producer id and epoch in use ([`idempotent`](Self::idempotent) producers only):
    /// a constant `None` without the `idempotence` feature, for the same reason.
    #[inline(always)]
    pub(super) fn pid(&self) -> Option<(i64, i16)> {
        if cfg!(feature = "idempotence") {
            self.producer_id
        } else {
            None
        }
    }

    /// Whether an epoch bump is due: a constant `false` without the `idempotence` feature.
    #[inline(always)]
    pub(super) fn bump_due(&self) -> bool {
        cfg!(feature = "idempotence") && self.bump_epoch
    }

    /// Whether new connections authenticate (`security.protocol` SASL_*), in a build with the
    /// `sasl` feature; a constant `false` without it, which leaves SASL out of the binary.
    #[cfg(feature = "sasl")]
    #[inline(always)]
    pub(super) fn authenticates(&self) -> bool {
        cfg!(feature = "sasl") && self.config.security_protocol.uses_sasl()
    }

    /// Closes connection `ci` without touching the batches in flight on it (the caller
    /// decides their fate).
    pub(super) fn drop_conn(&mut self, ci: usize) {
        if let Some(conn) = self.conns.get_mut(ci).and_then(Option::take) {
            self.strays = self.strays.wrapping_add(conn.strays);
        }
        if self.partial.is_none_or(|p| usize::from(p) == ci) {
            self.reader.reset();
            self.partial = None;
        }
    }
}
