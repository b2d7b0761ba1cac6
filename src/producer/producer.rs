//! [`Producer`]: records in, batches per partition, Produce requests out, delivery outcomes
//! back.

use embedded_nal_async::{Dns, TcpConnect};

use super::buffers::Buffers;
use super::connection::Connection;
use super::delivery::Outcome;
use super::metadata::MetadataCache;
use super::slot::{Region, Slot};
use super::{Clock, Config, ConfigError, Delay, Error, NoDns};
use crate::partition::Partitioner;
use crate::protocol::{CorrelationIds, FrameReader, NegotiatedVersions};

/// An async Kafka producer over any `embedded-nal-async` connector `C`, with a monotonic
/// [`Clock`] `K`, a [`Delay`] `D` and a [`Partitioner`] `P`. Sizes: `T` topics, `B` batch
/// buffers (partitions with records waiting at once), `R` batch outcomes remembered.
///
/// The flow: [`send`](Self::send) finds the topic's metadata (fetched on first use), picks the
/// partition, and appends the record to that partition's batch, built in place in one of the
/// caller's batch buffers (the record is copied once, from the caller into the batch). When a
/// batch is full, no buffer is free, `linger.ms` has passed or [`flush`](Self::flush) is
/// called, the batches are sent: one Produce request per leader, written to the connection
/// as the request prefix from the `TX` buffer interleaved with the batches straight from their
/// buffers (no second copy). With `acks` ≠ 0 the response is read into the `RX` buffer and
/// matched by correlation id; each batch's outcome is kept for [`delivery`](Self::delivery).
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
> {
    pub(super) connector: &'a C,
    pub(super) dns: N,
    pub(super) clock: K,
    pub(super) delay: D,
    pub(super) partitioner: P,
    pub(super) config: Config<'a>,
    pub(super) batch_size: usize,
    pub(super) conn: Option<Connection<'a, C>>,
    pub(super) reader: FrameReader<'a>,
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
}

pub(super) type Res<'a, T, C> = Result<T, Error<'a, <C as TcpConnect>::Error>>;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize>
    Producer<'a, C, K, D, P, T, B, R, NoDns>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
{
    /// A producer that will connect through `connector` (nothing is sent until the first
    /// [`send`](Self::send)). Fails if `config` is unusable, or `batch.size` exceeds `BATCH`.
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
        });
        Ok(Self {
            connector,
            dns: NoDns,
            clock,
            delay,
            partitioner,
            batch_size: config.batch_size,
            config,
            conn: None,
            reader: FrameReader::new(&mut rx[..]),
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
        })
    }
}

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N>
    Producer<'a, C, K, D, P, T, B, R, N>
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
    pub fn with_dns<N2: Dns>(self, dns: N2) -> Producer<'a, C, K, D, P, T, B, R, N2> {
        Producer {
            connector: self.connector,
            dns,
            clock: self.clock,
            delay: self.delay,
            partitioner: self.partitioner,
            config: self.config,
            batch_size: self.batch_size,
            conn: self.conn,
            reader: self.reader,
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
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config<'a> {
        &self.config
    }

    /// The metadata cache.
    pub fn metadata(&self) -> &MetadataCache<'a, T> {
        &self.metadata
    }

    /// The versions negotiated on the current connection, if one is open.
    pub fn versions(&self) -> Option<&NegotiatedVersions> {
        self.conn.as_ref().and_then(|c| c.versions.as_ref())
    }

    /// Responses to `acks=0` Produce requests (which Kafka never sends, and Tansu does) that
    /// were drained and dropped, over all connections so far.
    pub fn stray_responses(&self) -> u32 {
        self.strays
            .wrapping_add(self.conn.as_ref().map_or(0, |c| c.strays))
    }

    /// Produce requests written so far, by every flush (explicit or not).
    pub fn produce_requests(&self) -> u32 {
        self.produce_requests
    }

    /// With idempotence: the producer id and epoch in use.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.producer_id
    }

    /// Closes the connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.strays = self.strays.wrapping_add(conn.strays);
        }
        self.reader.reset();
    }
}
