//! [`Producer`]: records in, batches per partition, Produce requests out, delivery outcomes
//! back.

use core::net::SocketAddr;

use embedded_nal_async::{AddrType, Dns, TcpConnect};

use super::connection::{Connection, with_timeout};
use super::metadata::{MetadataCache, UpdateError};
use super::{Acks, Clock, Config, ConfigError, Delay, DeliveryError, Error, NoDns};
use crate::partition::{Partitioner, choose_partition};
use crate::protocol::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, Array, CorrelationIds, ErrorCode, FrameReader,
    InFlightRequest, InitProducerIdRequest, MetadataRequest, MetadataRequestTopic,
    NegotiatedVersions, ProduceRequest, Request, RequestHeader, codec,
};
use crate::record::{BatchHeader, Header, InPlace, RecordBatchBuilder};
use crate::wire::{EncodeError, WithError, Writer};

/// The APIs a producer without idempotence cannot do without.
const REQUIRED: [ApiKey; 3] = [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce];

/// How often a topic's metadata is asked for again while the broker says it is not ready yet
/// (LEADER_NOT_AVAILABLE right after auto-creation), and how long to wait in between.
const METADATA_ATTEMPTS: u32 = 10;
const METADATA_BACKOFF_MS: u32 = 100;

/// The memory a producer works in, sized at compile time: `RX` bytes for a response, `TX` for
/// requests other than the batches (ApiVersions, Metadata, Produce headers), and `B` batch
/// buffers of `BATCH` bytes, one per partition with records waiting.
///
/// `core::mem::size_of::<Buffers<RX, TX, BATCH, B>>()` is their RAM. Metadata responses are
/// the largest a producer reads: a few hundred bytes per topic and broker; `RX` = 1 KiB serves
/// a topic of a few dozen partitions on a small cluster.
#[derive(Debug)]
pub struct Buffers<const RX: usize, const TX: usize, const BATCH: usize, const B: usize> {
    rx: [u8; RX],
    tx: [u8; TX],
    batches: [[u8; BATCH]; B],
}

impl<const RX: usize, const TX: usize, const BATCH: usize, const B: usize> Default
    for Buffers<RX, TX, BATCH, B>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const TX: usize, const BATCH: usize, const B: usize>
    Buffers<RX, TX, BATCH, B>
{
    /// Zeroed buffers (`const`, so they can live in a `static`).
    pub const fn new() -> Self {
        Self {
            rx: [0; RX],
            tx: [0; TX],
            batches: [[0; BATCH]; B],
        }
    }
}

/// A record to send: key and value (`None` is null), headers, and optionally the partition
/// (else the partitioner chooses) and the timestamp (else the wall clock's time, else none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record<'r> {
    /// The key; keyed records go to the partition murmur2 names (with the default
    /// partitioner).
    pub key: Option<&'r [u8]>,
    /// The value; `None` is a null value (a tombstone on a compacted topic).
    pub value: Option<&'r [u8]>,
    /// The headers.
    pub headers: &'r [Header<'r>],
    /// The partition, if the caller chooses it.
    pub partition: Option<u32>,
    /// Milliseconds since the Unix epoch, if the caller sets it.
    pub timestamp: Option<i64>,
}

impl<'r> Record<'r> {
    /// A record with this value and nothing else.
    pub const fn new(value: &'r [u8]) -> Self {
        Self {
            key: None,
            value: Some(value),
            headers: &[],
            partition: None,
            timestamp: None,
        }
    }

    /// With a key.
    #[must_use]
    pub const fn key(mut self, key: &'r [u8]) -> Self {
        self.key = Some(key);
        self
    }

    /// With headers.
    #[must_use]
    pub const fn headers(mut self, headers: &'r [Header<'r>]) -> Self {
        self.headers = headers;
        self
    }

    /// To this partition.
    #[must_use]
    pub const fn partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// With this timestamp (milliseconds since the Unix epoch).
    #[must_use]
    pub const fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// What [`Producer::send`] hands back: where the record went, to look up its outcome with
/// [`Producer::delivery`] once its batch has been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket<'t> {
    /// The topic.
    pub topic: &'t str,
    /// The partition chosen.
    pub partition: u32,
    /// The record's timestamp (-1: none; the broker may set it).
    pub timestamp: i64,
    batch: u32,
    index: u32,
}

/// A delivered record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'t> {
    /// The topic.
    pub topic: &'t str,
    /// The partition.
    pub partition: u32,
    /// Its offset in the partition; `None` with `acks=0` (sent, not acknowledged).
    pub offset: Option<i64>,
    /// Its timestamp: the broker's append time if the topic uses `LogAppendTime`, else the
    /// record's (-1: none).
    pub timestamp: i64,
}

/// Where a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus<'t> {
    /// Its batch is still waiting to be sent (call [`Producer::flush`]).
    Pending,
    /// Delivered (or, with `acks=0`, sent).
    Delivered(Delivery<'t>),
    /// Not delivered.
    Failed(DeliveryError),
    /// Its batch's outcome was pushed out of the `R` most recent ones.
    Forgotten,
}

/// What one [`Producer::flush`] sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    /// Produce requests written.
    pub requests: u32,
    /// Batches in them.
    pub batches: u32,
    /// Records in them.
    pub records: u32,
    /// Batches that failed for good (their records are [`DeliveryStatus::Failed`]).
    pub failed_batches: u32,
    /// Times a batch was marked to be sent again after a retriable error.
    pub retries: u32,
}

/// Why a value writer of [`Producer::send_with`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ValueError {
    /// The room given is too small: the producer tries again with an empty batch.
    DoesNotFit,
    /// The value could not be produced (the writer keeps why): [`Error::Value`].
    Failed,
}

/// Where a record's value comes from.
enum Value<'v, 'f> {
    Bytes(Option<&'v [u8]>),
    Writer(&'f mut dyn FnMut(&mut [u8]) -> Result<usize, ValueError>),
}

/// The open batch has no room for the record (`needed` bytes of batch).
struct Full {
    needed: usize,
}

/// One batch buffer and what is in it.
enum Region<'a> {
    Idle(&'a mut [u8]),
    Open(RecordBatchBuilder<'a>),
    /// A finished batch of this many bytes at the start of the buffer.
    Sealed(&'a mut [u8], usize),
    /// Only while changing state.
    Gone,
}

struct Slot<'a> {
    region: Region<'a>,
    topic: usize,
    partition: u32,
    batch: u32,
    records: u32,
    opened_ms: u64,
    /// Times the batch was sent and failed with a retriable error.
    attempts: u32,
    /// Whether it is sealed and waiting to be sent again.
    retrying: bool,
}

#[derive(Debug, Clone, Copy)]
struct Outcome<'t> {
    batch: u32,
    topic: &'t str,
    partition: u32,
    records: u32,
    /// `(base offset, log append time)`, `None` for acks=0.
    result: Result<Option<(i64, i64)>, DeliveryError>,
    /// Whether [`Producer::take_reports`] has handed it out.
    reported: bool,
}

/// The outcome of one batch, for the report style of delivery
/// ([`Producer::take_reports`]): its records are `base_offset`, `base_offset + 1`, … in the
/// order they were sent to this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchReport<'t> {
    /// The topic.
    pub topic: &'t str,
    /// The partition.
    pub partition: u32,
    /// Records in the batch.
    pub records: u32,
    /// The first record's offset (`None` with acks=0), or why the batch was not delivered.
    pub result: Result<Option<i64>, DeliveryError>,
    /// The broker's append time if the topic uses `LogAppendTime`, else -1.
    pub log_append_time_ms: i64,
}

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
    connector: &'a C,
    dns: N,
    clock: K,
    delay: D,
    partitioner: P,
    config: Config<'a>,
    batch_size: usize,
    conn: Option<Connection<'a, C>>,
    reader: FrameReader<'a>,
    tx: &'a mut [u8],
    ids: CorrelationIds,
    metadata: MetadataCache<'a, T>,
    slots: [Slot<'a>; B],
    outcomes: [Option<Outcome<'a>>; R],
    next_outcome: usize,
    next_batch: u32,
    strays: u32,
    produce_requests: u32,
    reports_dropped: u32,
    /// With idempotence: the producer id and epoch from InitProducerId.
    producer_id: Option<(i64, i16)>,
}

type Res<'a, T, C> = Result<T, Error<'a, <C as TcpConnect>::Error>>;

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

    /// Appends a record to its partition's batch and returns its ticket. Sends batches first
    /// if `linger.ms` has passed, and whenever a batch is full or no batch buffer is free.
    pub async fn send(&mut self, topic: &'a str, record: Record<'_>) -> Res<'a, Ticket<'a>, C> {
        self.send_inner(topic, &record, Value::Bytes(record.value))
            .await
    }

    /// [`send`](Self::send) with the value written by `write` straight into the batch (a
    /// serializer writing in place: no intermediate buffer). `record.value` is ignored.
    ///
    /// `write` gets the free room and returns how many bytes it wrote, or
    /// [`ValueError::DoesNotFit`] (the producer then sends the full batch and calls it again
    /// with an empty one), or [`ValueError::Failed`] ([`Error::Value`]; the caller's closure
    /// keeps the details). As the value's length is not known beforehand, `batch.size` is
    /// checked after the record is appended: a batch may exceed it by this one record, never
    /// its buffer.
    pub async fn send_with<F>(
        &mut self,
        topic: &'a str,
        record: Record<'_>,
        mut write: F,
    ) -> Res<'a, Ticket<'a>, C>
    where
        F: FnMut(&mut [u8]) -> Result<usize, ValueError>,
    {
        self.send_inner(topic, &record, Value::Writer(&mut write))
            .await
    }

    async fn send_inner(
        &mut self,
        topic: &'a str,
        record: &Record<'_>,
        mut value: Value<'_, '_>,
    ) -> Res<'a, Ticket<'a>, C> {
        self.poll().await?;
        let ti = self.topic_index(topic).await?;
        let timestamp = record
            .timestamp
            .or_else(|| self.clock.wall_ms())
            .unwrap_or(-1);
        let key_len = record.key.map(<[u8]>::len);
        // At most: the batch is full (seal, send), no buffer is free (send), then it fits.
        for _ in 0..3 {
            let partitions = self.metadata.topic_at(ti).map_or(0, |t| t.partitions);
            let partition = choose_partition(
                record.partition,
                topic,
                record.key,
                partitions,
                &mut self.partitioner,
            )
            .map_err(|error| Error::Partition { topic, error })?;
            let Some(si) = self.slot_for(ti, partition) else {
                self.flush().await?;
                continue;
            };
            let batch_size = self.batch_size;
            let Some(slot) = self.slots.get_mut(si) else {
                continue;
            };
            let Region::Open(builder) = &mut slot.region else {
                continue;
            };
            let was_empty = builder.is_empty();
            let appended = match &mut value {
                Value::Bytes(bytes) => {
                    let value_len = bytes.map(<[u8]>::len);
                    let needed = builder.len()
                        + builder.record_len(timestamp, key_len, value_len, record.headers);
                    if needed > batch_size {
                        Err(Full { needed })
                    } else {
                        builder
                            .append(timestamp, record.key, *bytes, record.headers)
                            .map_err(|error| Error::Encode {
                                api: ApiKey::Produce,
                                error,
                            })?;
                        Ok(())
                    }
                }
                Value::Writer(write) => {
                    let payload = InPlace(|out: &mut [u8]| write(out));
                    match builder.append_with(timestamp, record.key, payload, record.headers) {
                        Ok(()) => Ok(()),
                        Err(WithError::Closure(ValueError::DoesNotFit))
                        | Err(WithError::Encode(EncodeError::BufferTooSmall { .. })) => Err(Full {
                            needed: builder.len() + builder.remaining() + 1,
                        }),
                        Err(WithError::Closure(ValueError::Failed)) => {
                            return Err(Error::Value { topic, partition });
                        }
                        Err(WithError::Encode(error)) => {
                            return Err(Error::Encode {
                                api: ApiKey::Produce,
                                error,
                            });
                        }
                    }
                }
            };
            if let Err(Full { needed }) = appended {
                if was_empty {
                    return Err(Error::RecordTooLarge {
                        topic,
                        partition,
                        needed,
                        available: batch_size,
                    });
                }
                self.seal(si);
                self.flush().await?;
                continue;
            }
            let index = slot.records;
            slot.records += 1;
            let ticket = Ticket {
                topic,
                partition,
                timestamp,
                batch: slot.batch,
                index,
            };
            if builder.len() >= batch_size {
                self.seal(si);
            }
            return Ok(ticket);
        }
        Err(Error::RecordTooLarge {
            topic,
            partition: record.partition.unwrap_or(0),
            needed: self.batch_size.saturating_add(1),
            available: self.batch_size,
        })
    }

    /// Where the record of `ticket` stands.
    pub fn delivery(&self, ticket: &Ticket<'a>) -> DeliveryStatus<'a> {
        let pending = self.slots.iter().any(|s| {
            s.batch == ticket.batch && matches!(s.region, Region::Open(_) | Region::Sealed(..))
        });
        if pending {
            return DeliveryStatus::Pending;
        }
        match self
            .outcomes
            .iter()
            .flatten()
            .find(|o| o.batch == ticket.batch)
        {
            None => DeliveryStatus::Forgotten,
            Some(Outcome { result: Err(e), .. }) => DeliveryStatus::Failed(*e),
            Some(&Outcome { result: Ok(r), .. }) => DeliveryStatus::Delivered(Delivery {
                topic: ticket.topic,
                partition: ticket.partition,
                offset: r
                    .map(|(base, _)| base)
                    .filter(|&base| base >= 0)
                    .map(|base| base + i64::from(ticket.index)),
                timestamp: match r {
                    Some((_, append)) if append >= 0 => append,
                    _ => ticket.timestamp,
                },
            }),
        }
    }

    /// The outcome of `ticket`'s record, sending its batch first if it is still waiting (the
    /// Java client's `future.get()`): `Ok(Ok(delivery))`, `Ok(Err(why))` if the broker did not
    /// take it, `Err` if the flush itself failed. Bounded by `request.timeout.ms` per attempt.
    ///
    /// A ticket whose outcome was pushed out of the `R` most recent reports cannot be
    /// answered: [`DeliveryError::Forgotten`].
    pub async fn wait(
        &mut self,
        ticket: &Ticket<'a>,
    ) -> Res<'a, Result<Delivery<'a>, DeliveryError>, C> {
        if self.delivery(ticket) == DeliveryStatus::Pending {
            self.flush().await?;
        }
        Ok(match self.delivery(ticket) {
            DeliveryStatus::Delivered(d) => Ok(d),
            DeliveryStatus::Failed(e) => Err(e),
            DeliveryStatus::Pending | DeliveryStatus::Forgotten => Err(DeliveryError::Forgotten {
                partition: ticket.partition,
            }),
        })
    }

    /// The report style of delivery (the Java client's callbacks): calls `report` once for
    /// each batch that got its outcome since the last call, oldest first.
    ///
    /// The producer remembers the last `R` outcomes; call this at least every `R` batches
    /// (after each [`flush`](Self::flush), say), or older reports are overwritten unseen
    /// ([`reports_dropped`](Self::reports_dropped) counts them).
    pub fn take_reports(&mut self, mut report: impl FnMut(&BatchReport<'a>)) {
        let start = self.next_outcome;
        for k in 0..R {
            let at = (start + k) % R;
            let Some(Some(o)) = self.outcomes.get_mut(at) else {
                continue;
            };
            if o.reported {
                continue;
            }
            o.reported = true;
            report(&BatchReport {
                topic: o.topic,
                partition: o.partition,
                records: o.records,
                result: o.result.map(|r| r.map(|(base, _)| base)),
                log_append_time_ms: match o.result {
                    Ok(Some((_, t))) => t,
                    _ => -1,
                },
            });
        }
    }

    /// Batch reports overwritten before [`take_reports`](Self::take_reports) handed them out.
    pub fn reports_dropped(&self) -> u32 {
        self.reports_dropped
    }

    /// Sends batches whose `linger.ms` has passed, and drains what the broker sent unasked
    /// (stray `acks=0` answers) without waiting. Call it when idle.
    pub async fn poll(&mut self) -> Res<'a, (), C> {
        // An idle connection the broker closed (or reset) costs nothing: no request is waiting
        // on it. It is dropped, and the next request opens a new one.
        if let Some(conn) = self.conn.as_mut()
            && conn.in_flight.is_empty()
            && conn.drain(&mut self.reader).is_err()
        {
            warn!("an idle connection was closed; the next request opens a new one");
            self.disconnect();
        }
        let now = self.clock.now_ms();
        let linger = u64::from(self.config.linger_ms);
        // A full (sealed) batch goes at once; an open one when it has lingered long enough.
        let due = self.slots.iter().any(|s| match s.region {
            Region::Sealed(..) => !s.retrying,
            Region::Open(_) => now.saturating_sub(s.opened_ms) >= linger,
            _ => false,
        });
        if due {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends every batch and, with `acks` ≠ 0, waits for the answers. Each record's outcome is
    /// then known to [`delivery`](Self::delivery) and [`take_reports`](Self::take_reports).
    ///
    /// Retriable failures (a partition's retriable error code, a lost connection, a timeout)
    /// are retried as `retries`, `retry.backoff.ms` and `delivery.timeout.ms` allow, within
    /// this call. An `Err` means a request failed for good: the batches it carried are reported
    /// failed ([`DeliveryError::NoResponse`]), the connection is closed, and batches for other
    /// leaders not yet sent stay for the next flush.
    pub async fn flush(&mut self) -> Res<'a, FlushSummary, C> {
        for si in 0..B {
            self.seal(si);
        }
        let mut summary = FlushSummary::default();
        loop {
            // Every batch due now, one request per leader.
            loop {
                let first = self.slots.iter().find_map(|s| match s.region {
                    Region::Sealed(..) if !s.retrying => Some((s.topic, s.partition)),
                    _ => None,
                });
                let Some((topic, partition)) = first else {
                    break;
                };
                let leader = self
                    .metadata
                    .topic_at(topic)
                    .and_then(|t| t.leader(partition))
                    .unwrap_or(-1);
                match self.produce_to(leader, &mut summary).await {
                    Ok(()) => {
                        // Every batch the request carried has an outcome or waits for a retry;
                        // should one not (a bug), it fails rather than being sent forever.
                        if let Some(si) = self.slots.iter().position(|s| {
                            !s.retrying
                                && s.topic == topic
                                && s.partition == partition
                                && matches!(s.region, Region::Sealed(..))
                        }) {
                            summary.failed_batches += 1;
                            self.finish_slot(si, Err(DeliveryError::NoResponse { partition }));
                        }
                    }
                    Err(e) => {
                        warn!("a Produce request failed");
                        self.disconnect();
                        let retry = e.is_retriable();
                        if !self.retry_or_fail(leader, retry, &mut summary) {
                            return Err(e);
                        }
                    }
                }
            }
            // Then the batches to send again: back off, refresh their topics' metadata.
            let attempt = self
                .slots
                .iter()
                .filter(|s| s.retrying)
                .map(|s| s.attempts)
                .max();
            let Some(attempt) = attempt else {
                return Ok(summary);
            };
            self.delay.delay_ms(self.config.backoff_ms(attempt)).await;
            for ti in 0..T {
                if !self.slots.iter().any(|s| s.retrying && s.topic == ti) {
                    continue;
                }
                if let Some(name) = self.metadata.topic_at(ti).map(|t| t.name) {
                    // A failed refresh keeps the old metadata: the retry will tell.
                    if self.fetch_metadata(name).await.is_err() {
                        warn!("metadata refresh before a retry failed");
                    }
                }
            }
            for slot in &mut self.slots {
                slot.retrying = false;
            }
        }
    }

    /// After a failed request to `leader`: each batch it carried is marked for another attempt
    /// if the failure is `retriable` and the batch has retries left, else failed ([`DeliveryError::NoResponse`]). Whether any will be
    /// retried.
    fn retry_or_fail(&mut self, leader: i32, retriable: bool, summary: &mut FlushSummary) -> bool {
        let mut any = false;
        for si in 0..B {
            if !self.sealed_for(si, leader) {
                continue;
            }
            let may_retry = self.may_retry(si);
            let Some(slot) = self.slots.get_mut(si) else {
                continue;
            };
            if retriable && may_retry {
                slot.attempts += 1;
                slot.retrying = true;
                summary.retries += 1;
                any = true;
            } else {
                let partition = slot.partition;
                summary.failed_batches += 1;
                self.finish_slot(si, Err(DeliveryError::NoResponse { partition }));
            }
        }
        any
    }

    /// Closes the connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.strays = self.strays.wrapping_add(conn.strays);
        }
        self.reader.reset();
    }

    /// The slot holding `(topic, partition)`'s open batch, opening one in a free buffer if
    /// needed; `None` if every buffer is taken.
    fn slot_for(&mut self, topic: usize, partition: u32) -> Option<usize> {
        let open = self.slots.iter().position(|s| {
            matches!(s.region, Region::Open(_)) && s.topic == topic && s.partition == partition
        });
        if open.is_some() {
            return open;
        }
        let si = self
            .slots
            .iter()
            .position(|s| matches!(s.region, Region::Idle(_)))?;
        let now = self.clock.now_ms();
        let batch = self.next_batch;
        let slot = self.slots.get_mut(si)?;
        let Region::Idle(buf) = core::mem::replace(&mut slot.region, Region::Gone) else {
            return None;
        };
        let w = Writer::new(buf);
        let header = match (self.producer_id, self.metadata.topic_at(topic)) {
            (Some((producer_id, producer_epoch)), Some(t)) => BatchHeader {
                producer_id,
                producer_epoch,
                base_sequence: t
                    .next_sequence
                    .get(partition as usize)
                    .copied()
                    .unwrap_or(0),
                ..BatchHeader::default()
            },
            _ => BatchHeader::default(),
        };
        match RecordBatchBuilder::in_writer(w, header) {
            Ok(builder) => {
                slot.region = Region::Open(builder);
                slot.topic = topic;
                slot.partition = partition;
                slot.batch = batch;
                slot.records = 0;
                slot.opened_ms = now;
                slot.attempts = 0;
                slot.retrying = false;
                self.next_batch = batch.wrapping_add(1);
                Some(si)
            }
            Err((w, _)) => {
                slot.region = Region::Idle(w.into_buf());
                None
            }
        }
    }

    /// Finishes slot `si`'s batch if it is open (an empty one goes back to idle).
    fn seal(&mut self, si: usize) {
        let Some(slot) = self.slots.get_mut(si) else {
            return;
        };
        if !matches!(slot.region, Region::Open(_)) {
            return;
        }
        let Region::Open(builder) = core::mem::replace(&mut slot.region, Region::Gone) else {
            return;
        };
        let (w, len) = builder.finish_in();
        slot.region = match len {
            Ok(len) if len > 0 => Region::Sealed(w.into_buf(), len),
            _ => Region::Idle(w.into_buf()),
        };
        if self.producer_id.is_some()
            && matches!(slot.region, Region::Sealed(..))
            && let Some(seq) = self
                .metadata
                .topic_at_mut(slot.topic)
                .and_then(|t| t.next_sequence.get_mut(slot.partition as usize))
        {
            // Kafka's sequences wrap from i32::MAX to 0.
            let next = i64::from(*seq) + i64::from(slot.records);
            *seq = (next % (i64::from(i32::MAX) + 1)) as i32;
        }
        if let Some(t) = self.metadata.topic_at(slot.topic)
            && let Some(n) = core::num::NonZeroU32::new(t.partitions)
        {
            self.partitioner.on_batch_closed(t.name, slot.partition, n);
        }
    }

    /// Whether slot `si`'s batch may be sent again: retries left (`retries`) and time left
    /// (`delivery.timeout.ms`, counted from its first record, the back-off included).
    fn may_retry(&self, si: usize) -> bool {
        self.slots.get(si).is_some_and(|s| {
            let age = self.clock.now_ms().saturating_sub(s.opened_ms);
            let backoff = u64::from(self.config.backoff_ms(s.attempts + 1));
            s.attempts < self.config.retries
                && age.saturating_add(backoff) < u64::from(self.config.delivery_timeout_ms)
        })
    }

    fn sealed_for(&self, si: usize, leader: i32) -> bool {
        self.slots.get(si).is_some_and(|s| {
            matches!(s.region, Region::Sealed(..))
                && !s.retrying
                && self
                    .metadata
                    .topic_at(s.topic)
                    .and_then(|t| t.leader(s.partition))
                    .unwrap_or(-1)
                    == leader
        })
    }

    /// Records slot `si`'s outcome and frees its buffer.
    fn finish_slot(&mut self, si: usize, result: Result<Option<(i64, i64)>, DeliveryError>) {
        let Some(slot) = self.slots.get_mut(si) else {
            return;
        };
        let region = core::mem::replace(&mut slot.region, Region::Gone);
        slot.region = match region {
            Region::Sealed(buf, _) | Region::Idle(buf) => Region::Idle(buf),
            Region::Open(b) => Region::Idle(b.abandon().into_buf()),
            Region::Gone => Region::Gone,
        };
        if R == 0 {
            return;
        }
        let topic = self.metadata.topic_at(slot.topic).map_or("", |t| t.name);
        let at = self.next_outcome % R;
        if let Some(o) = self.outcomes.get_mut(at) {
            if o.is_some_and(|o| !o.reported) {
                self.reports_dropped = self.reports_dropped.wrapping_add(1);
            }
            *o = Some(Outcome {
                batch: slot.batch,
                topic,
                partition: slot.partition,
                records: slot.records,
                result,
                reported: false,
            });
        }
        self.next_outcome = (at + 1) % R;
    }

    /// Index of `topic` in the metadata cache, fetching its metadata on first use.
    async fn topic_index(&mut self, topic: &'a str) -> Res<'a, usize, C> {
        let cached = self.metadata.topic(topic).map(|(i, t)| (i, t.fetched_ms));
        if let Some((i, fetched)) = cached {
            let age = self.clock.now_ms().saturating_sub(fetched);
            if age < u64::from(self.config.metadata_max_age_ms) {
                return Ok(i);
            }
            // Too old: fetch it again, and carry on with what is known if that fails.
            return match self.fetch_metadata(topic).await {
                Ok(i) => Ok(i),
                Err(e) if e.is_retriable() => {
                    warn!("refreshing a topic's metadata failed; the cached one is used");
                    Ok(i)
                }
                Err(e) => Err(e),
            };
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.fetch_metadata(topic).await {
                Err(Error::Broker { code, .. })
                    if code.is_retriable() && attempt < METADATA_ATTEMPTS =>
                {
                    self.delay.delay_ms(METADATA_BACKOFF_MS).await;
                }
                other => return other,
            }
        }
    }

    async fn fetch_metadata(&mut self, topic: &'a str) -> Res<'a, usize, C> {
        self.connect(None).await?;
        let topics = [MetadataRequestTopic {
            name: Some(topic),
            ..Default::default()
        }];
        let request = MetadataRequest {
            topics: Some(Array::from(&topics)),
            // As the Java producer: a broker that auto-creates topics may create it.
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        let version = self.version(ApiKey::Metadata)?;
        let result = self.round_trip(&request, version).await;
        if let Err(e) = result {
            self.disconnect();
            return Err(e);
        }
        let decoded = self
            .reader
            .frame()
            .map(|frame| MetadataRequest::decode_response(frame, version));
        let updated = match decoded {
            Some(Ok((_, response))) => {
                let updated = self.metadata.update(topic, &response, self.clock.now_ms());
                // Brokers known by name only: resolve them now, while their names are in the
                // receive buffer (the cache keeps addresses, not names).
                for b in response.brokers.iter() {
                    if self.metadata.broker(b.node_id) != Some(None) {
                        continue;
                    }
                    match self.dns.get_host_by_name(b.host, AddrType::Either).await {
                        Ok(ip) => {
                            if let Ok(port) = u16::try_from(b.port) {
                                self.metadata
                                    .set_broker_addr(b.node_id, SocketAddr::new(ip, port));
                            }
                        }
                        Err(_) => warn!("a broker's host name could not be resolved"),
                    }
                }
                Ok(updated)
            }
            Some(Err(error)) => Err(Error::Decode {
                api: ApiKey::Metadata,
                error,
            }),
            None => Err(Error::Decode {
                api: ApiKey::Metadata,
                error: crate::wire::DecodeError::Truncated {
                    what: "response",
                    needed: 1,
                },
            }),
        };
        self.reader.consume();
        match updated {
            Err(e) => {
                self.disconnect();
                Err(e)
            }
            Ok(Ok(i)) => Ok(i),
            Ok(Err(e)) => Err(match e {
                UpdateError::Missing => Error::UnknownTopic { topic },
                UpdateError::Code(code) => Error::Broker {
                    api: ApiKey::Metadata,
                    code,
                    topic: Some(topic),
                    partition: None,
                },
                UpdateError::PartitionCode(p, code) => Error::Broker {
                    api: ApiKey::Metadata,
                    code,
                    topic: Some(topic),
                    partition: Some(p),
                },
                UpdateError::TooManyPartitions(partitions) => Error::TooManyPartitions {
                    topic,
                    partitions,
                    max: super::MAX_PARTITIONS,
                },
                UpdateError::Full => Error::TooManyTopics { topic, max: T },
            }),
        }
    }

    fn version(&self, api: ApiKey) -> Res<'a, i16, C> {
        let versions = self.conn.as_ref().and_then(|c| c.versions.as_ref());
        match versions {
            Some(v) => Ok(v.version(api)?),
            None => Err(crate::protocol::VersionError::NotSupportedByBroker { api }.into()),
        }
    }

    /// Makes sure a connection is open: to `addr` if given (a leader), else to any broker
    /// (the current one, or the bootstrap servers in order). Negotiates versions on a new one.
    async fn connect(&mut self, addr: Option<SocketAddr>) -> Res<'a, (), C> {
        if let Some(conn) = self.conn.as_mut() {
            // One closed while idle (nothing in flight: nothing lost) is replaced below.
            let usable = !conn.in_flight.is_empty() || conn.drain(&mut self.reader).is_ok();
            if usable && addr.is_none_or(|a| a == conn.addr) {
                return Ok(());
            }
            self.disconnect();
        }
        let servers = self.config.bootstrap_servers;
        let one = [addr.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))];
        let candidates: &[SocketAddr] = if addr.is_some() { &one } else { servers };
        let mut last = Error::NoBroker {
            tried: candidates.len(),
        };
        for &candidate in candidates {
            match self.open(candidate).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    warn!("a broker could not be used");
                    self.disconnect();
                    last = e;
                }
            }
        }
        if addr.is_some() {
            return Err(last);
        }
        for &(host, port) in self.config.bootstrap_hosts {
            let ip = match self.dns.get_host_by_name(host, AddrType::Either).await {
                Ok(ip) => ip,
                Err(_) => {
                    last = Error::UnresolvedHost { host };
                    continue;
                }
            };
            match self.open(SocketAddr::new(ip, port)).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    warn!("a broker could not be used");
                    self.disconnect();
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Opens a connection to `addr` and negotiates versions with ApiVersions.
    async fn open(&mut self, addr: SocketAddr) -> Res<'a, (), C> {
        self.reader.reset();
        self.conn = Some(Connection::open(self.connector, addr).await?);
        let version = ApiVersionsRequest::versions().max;
        let request = ApiVersionsRequest {
            client_software_name: "embedded-kafka",
            client_software_version: env!("CARGO_PKG_VERSION"),
            ..Default::default()
        };
        self.round_trip(&request, version).await?;
        let negotiated = match self.reader.frame() {
            Some(frame) => {
                // The response header of ApiVersions is always v0: the 4-byte correlation id.
                let body = frame.get(4..).unwrap_or_default();
                match ApiVersionsResponse::decode_with_fallback(body, version) {
                    Ok((_, response)) => {
                        let code = ErrorCode::from_code(response.error_code);
                        if code.is_error() {
                            Err(Error::Broker {
                                api: ApiKey::ApiVersions,
                                code,
                                topic: None,
                                partition: None,
                            })
                        } else {
                            NegotiatedVersions::from_broker(
                                response
                                    .api_keys
                                    .iter()
                                    .map(|k| (k.api_key, k.min_version, k.max_version)),
                                &REQUIRED,
                            )
                            .map_err(Error::Version)
                        }
                    }
                    Err(error) => Err(Error::Decode {
                        api: ApiKey::ApiVersions,
                        error,
                    }),
                }
            }
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        let negotiated = negotiated?;
        if self.config.enable_idempotence {
            negotiated.version(ApiKey::InitProducerId)?;
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.versions = Some(negotiated);
        }
        if self.config.enable_idempotence && self.producer_id.is_none() {
            self.init_producer_id().await?;
        }
        Ok(())
    }

    /// Asks for a producer id and epoch (idempotence without transactions).
    async fn init_producer_id(&mut self) -> Res<'a, (), C> {
        let version = self.version(ApiKey::InitProducerId)?;
        let request = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: -1,
            ..Default::default()
        };
        self.round_trip(&request, version).await?;
        let result = match self
            .reader
            .frame()
            .map(|frame| InitProducerIdRequest::decode_response(frame, version))
        {
            Some(Ok((_, r))) => {
                let code = ErrorCode::from_code(r.error_code);
                if code.is_error() {
                    Err(Error::Broker {
                        api: ApiKey::InitProducerId,
                        code,
                        topic: None,
                        partition: None,
                    })
                } else {
                    Ok((r.producer_id, r.producer_epoch))
                }
            }
            Some(Err(error)) => Err(Error::Decode {
                api: ApiKey::InitProducerId,
                error,
            }),
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        self.producer_id = Some(result?);
        debug!("got a producer id");
        Ok(())
    }

    /// With idempotence: the producer id and epoch in use.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.producer_id
    }

    /// Writes `request` and waits (up to `request.timeout.ms`) for its response, which is left
    /// complete in the reader.
    async fn round_trip<Q: Request>(&mut self, request: &Q, version: i16) -> Res<'a, (), C> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::NoBroker { tried: 0 });
        };
        conn.drain(&mut self.reader)?;
        let id = self.ids.next_id();
        let header = RequestHeader::new(id, Some(self.config.client_id));
        let n = request
            .encode_request(&header, self.tx, version)
            .map_err(|error| Error::Encode {
                api: Q::API_KEY,
                error,
            })?;
        conn.write(self.tx.get(..n).unwrap_or_default()).await?;
        conn.flush().await?;
        Self::await_response(
            conn,
            &mut self.reader,
            &mut self.delay,
            self.config.request_timeout_ms,
            InFlightRequest {
                correlation_id: id,
                api_key: Q::API_KEY,
                api_version: version,
                token: 0,
            },
        )
        .await
    }

    /// Registers `request` as the one whose answer comes next on `conn`, then reads until
    /// that answer (or the timeout).
    async fn await_response(
        conn: &mut Connection<'a, C>,
        reader: &mut FrameReader<'a>,
        delay: &mut D,
        timeout_ms: u32,
        request: InFlightRequest,
    ) -> Res<'a, (), C> {
        conn.expect(request).map_err(|error| Error::Frame {
            broker: conn.addr,
            error,
        })?;
        let api = conn.oldest_api();
        let broker = conn.addr;
        match with_timeout(delay, timeout_ms, conn.receive(reader)).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Err(Error::Timeout {
                api,
                broker,
                ms: timeout_ms,
            }),
        }
    }

    /// Sends one Produce request with every sealed batch that `leader` leads.
    async fn produce_to(&mut self, leader: i32, summary: &mut FlushSummary) -> Res<'a, (), C> {
        let addr = match self.metadata.broker(leader) {
            Some(Some(addr)) => Some(addr),
            Some(None) => return Err(Error::UnresolvedLeader { node_id: leader }),
            // No known leader: the bootstrap connection (the broker will say if it is wrong).
            None => None,
        };
        self.connect(addr).await?;
        let version = self.version(ApiKey::Produce)?;
        let id = self.ids.next_id();
        // The request prefix and the pieces between batches go to `tx`; `cuts[k] = (at, slot)`:
        // batch `slot` goes on the wire after `tx[..at]`.
        let mut cuts = [(0usize, 0usize); B];
        let mut n_cuts = 0;
        let (used, total) = {
            let mut w = Writer::new(&mut *self.tx);
            let cuts = &mut cuts;
            let slots = &self.slots;
            let metadata = &self.metadata;
            let sealed_for = |si: usize, ti: usize| {
                slots.get(si).is_some_and(|s| {
                    s.topic == ti
                        && !s.retrying
                        && matches!(s.region, Region::Sealed(..))
                        && metadata
                            .topic_at(s.topic)
                            .and_then(|t| t.leader(s.partition))
                            .unwrap_or(-1)
                            == leader
                })
            };
            let encoded: Result<(usize, usize), EncodeError> = (|| {
                let flexible = version >= 9;
                let size = w.reserve::<4>()?;
                let header = RequestHeader {
                    request_api_key: ApiKey::Produce.key(),
                    request_api_version: version,
                    ..RequestHeader::new(id, Some(self.config.client_id))
                };
                crate::protocol::Encode::encode(
                    &header,
                    &mut w,
                    ProduceRequest::request_header_version(version),
                )?;
                codec::put_nullable_string(
                    &mut w,
                    None,
                    flexible,
                    true,
                    "transactional_id",
                    version,
                )?;
                w.put_i16(self.config.acks.wire())?;
                w.put_i32(self.config.request_timeout_ms as i32)?;
                let topics: usize = (0..T)
                    .filter(|&ti| (0..B).any(|si| sealed_for(si, ti)))
                    .count();
                put_len(&mut w, topics, flexible)?;
                let mut batches_len = 0usize;
                for ti in 0..T {
                    let count = (0..B).filter(|&si| sealed_for(si, ti)).count();
                    if count == 0 {
                        continue;
                    }
                    let name = metadata.topic_at(ti).map_or("", |t| t.name);
                    codec::put_string(&mut w, name, flexible)?;
                    put_len(&mut w, count, flexible)?;
                    for si in (0..B).filter(|&si| sealed_for(si, ti)) {
                        let Some(slot) = slots.get(si) else { continue };
                        let Region::Sealed(_, len) = slot.region else {
                            continue;
                        };
                        w.put_i32(slot.partition as i32)?;
                        if flexible {
                            let v = u32::try_from(len).ok().and_then(|l| l.checked_add(1));
                            w.put_uvarint(v.ok_or(EncodeError::TooLong {
                                what: "records",
                                len,
                                max: u32::MAX as usize - 1,
                            })?)?;
                        } else {
                            w.put_i32(len as i32)?;
                        }
                        if let Some(cut) = cuts.get_mut(n_cuts) {
                            *cut = (w.position(), si);
                            n_cuts += 1;
                        }
                        batches_len += len;
                        if flexible {
                            w.put_empty_tagged_fields()?;
                        }
                    }
                    if flexible {
                        w.put_empty_tagged_fields()?;
                    }
                }
                if flexible {
                    w.put_empty_tagged_fields()?;
                }
                let total = w.position() + batches_len;
                let body = total - 4;
                w.patch_i32(
                    size,
                    i32::try_from(body).map_err(|_| EncodeError::TooLong {
                        what: "frame",
                        len: body,
                        max: i32::MAX as usize,
                    })?,
                )?;
                Ok((w.position(), total))
            })();
            encoded.map_err(|error| Error::Encode {
                api: ApiKey::Produce,
                error,
            })?
        };
        let _ = total;
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::NoBroker { tried: 0 });
        };
        conn.drain(&mut self.reader)?;
        // The frame: tx pieces and batches, in order.
        let mut from = 0;
        for &(at, si) in cuts.iter().take(n_cuts) {
            conn.write(self.tx.get(from..at).unwrap_or_default())
                .await?;
            if let Some(Slot {
                region: Region::Sealed(buf, len),
                ..
            }) = self.slots.get(si)
            {
                conn.write(buf.get(..*len).unwrap_or_default()).await?;
            }
            from = at;
        }
        conn.write(self.tx.get(from..used).unwrap_or_default())
            .await?;
        conn.flush().await?;
        summary.requests += 1;
        self.produce_requests = self.produce_requests.wrapping_add(1);
        for &(_, si) in cuts.iter().take(n_cuts) {
            summary.batches += 1;
            summary.records += self.slots.get(si).map_or(0, |s| s.records);
        }

        if self.config.acks == Acks::None {
            conn.sent_unacknowledged(id);
            for &(_, si) in cuts.iter().take(n_cuts) {
                self.finish_slot(si, Ok(None));
            }
            return Ok(());
        }
        Self::await_response(
            conn,
            &mut self.reader,
            &mut self.delay,
            self.config.request_timeout_ms,
            InFlightRequest {
                correlation_id: id,
                api_key: ApiKey::Produce,
                api_version: version,
                token: 0,
            },
        )
        .await?;
        // Outcomes are gathered first (the response borrows the receive buffer), then applied.
        let mut results = [Err(DeliveryError::NoResponse { partition: 0 }); B];
        let decoded = match self.reader.frame() {
            Some(frame) => ProduceRequest::decode_response(frame, version).map(|(_, response)| {
                for (k, &(_, si)) in cuts.iter().take(n_cuts).enumerate() {
                    let Some(slot) = self.slots.get(si) else {
                        continue;
                    };
                    let name = self.metadata.topic_at(slot.topic).map_or("", |t| t.name);
                    let partition = slot.partition;
                    let result = match response.partition(name, partition as i32) {
                        None => Err(DeliveryError::MissingFromResponse { partition }),
                        Some(p) => {
                            let code = ErrorCode::from_code(p.error_code);
                            // A batch sent again whose first copy was stored: delivered (the
                            // offset is the broker's, -1 when it does not say).
                            if code == ErrorCode::DuplicateSequenceNumber {
                                Ok(Some((p.base_offset, p.log_append_time_ms)))
                            } else if code.is_error() {
                                Err(DeliveryError::Broker { code, partition })
                            } else {
                                Ok(Some((p.base_offset, p.log_append_time_ms)))
                            }
                        }
                    };
                    if let Some(r) = results.get_mut(k) {
                        *r = result;
                    }
                }
            }),
            None => Ok(()),
        };
        self.reader.consume();
        decoded.map_err(|error| Error::Decode {
            api: ApiKey::Produce,
            error,
        })?;
        for (k, &(_, si)) in cuts.iter().take(n_cuts).enumerate() {
            let result = results
                .get(k)
                .copied()
                .unwrap_or(Err(DeliveryError::NoResponse { partition: 0 }));
            let may_retry = self.may_retry(si);
            if let Err(DeliveryError::Broker { code, .. }) = result
                && code.is_retriable()
                && may_retry
                && let Some(slot) = self.slots.get_mut(si)
            {
                // Kept sealed, same bytes: sent again after back-off and a metadata refresh.
                slot.attempts += 1;
                slot.retrying = true;
                summary.retries += 1;
                continue;
            }
            if result.is_err() {
                summary.failed_batches += 1;
            }
            self.finish_slot(si, result);
        }
        Ok(())
    }
}

fn put_len(w: &mut Writer<'_>, n: usize, flexible: bool) -> Result<(), EncodeError> {
    if flexible {
        w.put_compact_array_len(n)
    } else {
        w.put_array_len(n)
    }
}
