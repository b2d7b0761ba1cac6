//! The send path: a record appended in place to its partition's open batch.

use embedded_nal_async::{Dns, TcpConnect};

use super::producer::{Producer, Res};
use super::records::{Full, Record, Ticket, ValueError};
use super::slot::Region;
use super::{Clock, Delay, Error};
use crate::partition::{Partitioner, choose_partition};
use crate::protocol::ApiKey;
use crate::record::{InPlace, RecordBatchBuilder};
use crate::wire::{EncodeError, WithError};

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Appends a record to its partition's batch and returns its ticket. Sends batches first
    /// if `linger.ms` has passed, and whenever a batch is full or no batch buffer is free.
    pub async fn send(&mut self, topic: &'a str, record: Record<'_>) -> Res<'a, Ticket<'a>, C> {
        self.send_inner(topic, &record, &mut |builder, timestamp, room| {
            append_bytes(builder, &record, timestamp, room)
        })
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
    /// its buffer (with `compression.type`, never what surely compresses into its buffer: a
    /// record past that is taken back and goes into the next batch).
    pub async fn send_with<F>(
        &mut self,
        topic: &'a str,
        record: Record<'_>,
        mut write: F,
    ) -> Res<'a, Ticket<'a>, C>
    where
        F: FnMut(&mut [u8]) -> Result<usize, ValueError>,
    {
        self.send_inner(topic, &record, &mut |builder, timestamp, room| {
            append_written(builder, &record, timestamp, room, &mut write)
        })
        .await
    }

    /// The send path shared by [`send`](Self::send) and [`send_with`](Self::send_with);
    /// `append` puts the record into the open batch it is given. Behind a `dyn`, so that each
    /// way of appending is linked only where its entry point is called (a firmware that only
    /// calls `send` carries no in-place writer path).
    async fn send_inner(
        &mut self,
        topic: &'a str,
        record: &Record<'_>,
        append: Append<'_>,
    ) -> Res<'a, Ticket<'a>, C> {
        self.compress.check().map_err(Error::Config)?;
        // One clock read per record serves linger, metadata age and the timestamp (taken as
        // the send begins, as the Java client does, before any wait for room).
        let now = self.clock.now_ms();
        self.poll_at(now).await?;
        let ti = self.topic_index(topic, now).await?;
        let timestamp = record
            .timestamp
            .or_else(|| self.clock.wall_ms_at(now))
            .unwrap_or(-1);
        // The partition is chosen once per record (KAFKA-9965): a round-robin or random
        // partitioner asked again after the record's batch closed would skip a partition or
        // draw twice. Only a partitioner that moved on when a batch closed (sticky:
        // `on_batch_closed` returned true) is asked again, as KIP-480 intends; so is any
        // when the partition count changed under the record (a metadata refresh).
        let mut chosen: Option<(u32, u32)> = None;
        // At most: the batch is full (seal, send), no buffer is free (send), then it fits.
        for _ in 0..3 {
            let partitions = self.metadata.topic_at(ti).map_or(0, |t| t.partitions);
            let partition = match chosen {
                Some((partition, n)) if n == partitions && !self.repick => partition,
                _ => {
                    let partition = choose_partition(
                        record.partition,
                        topic,
                        record.key,
                        partitions,
                        &mut self.partitioner,
                    )
                    .map_err(|error| Error::Partition { topic, error })?;
                    chosen = Some((partition, partitions));
                    self.repick = false;
                    partition
                }
            };
            let Some(si) = self.slot_for(ti, partition) else {
                self.make_room().await?;
                continue;
            };
            let batch_size = self.batch_size;
            let plain_cap = self.compress.plain_cap;
            let Some(slot) = self.slots.get_mut(si) else {
                continue;
            };
            let Region::Open(builder) = &mut slot.region else {
                continue;
            };
            let was_empty = builder.is_empty();
            let room = Room {
                batch_size,
                plain_cap,
            };
            let appended = match append(builder, timestamp, room) {
                Ok(()) => Ok(()),
                Err(NotAppended::Full(full)) => Err(full),
                Err(NotAppended::Value) => return Err(Error::Value { topic, partition }),
                Err(NotAppended::Encode(error)) => {
                    return Err(Error::Encode {
                        api: ApiKey::Produce,
                        error,
                    });
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
                self.send_ready().await?;
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
}

/// How much a batch may take: `batch.size`, and with compression what surely compresses into
/// its buffer.
#[derive(Clone, Copy)]
struct Room {
    batch_size: usize,
    plain_cap: usize,
}

/// Why a record was not appended.
enum NotAppended {
    /// The open batch has no room for it.
    Full(Full),
    /// The value writer failed ([`ValueError::Failed`]).
    Value,
    /// It cannot be encoded.
    Encode(EncodeError),
}

/// Appends the record to the open batch given, at the timestamp given, within the room given.
type Append<'f> =
    &'f mut dyn FnMut(&mut RecordBatchBuilder<'_>, i64, Room) -> Result<(), NotAppended>;

/// [`Producer::send`]'s append: a value at hand. The record is written, then taken back if it
/// took the batch past `batch.size` (a full batch is the rare case; sizing every record first
/// would cost each send a second pass over its framing, and a firmware the code for it).
fn append_bytes(
    builder: &mut RecordBatchBuilder<'_>,
    record: &Record<'_>,
    timestamp: i64,
    room: Room,
) -> Result<(), NotAppended> {
    let mark = builder.mark();
    match builder.append(timestamp, record.key, record.value, record.headers) {
        Ok(()) if builder.len() > room.batch_size => {
            let needed = builder.len();
            builder.restore(mark);
            Err(NotAppended::Full(Full { needed }))
        }
        Ok(()) => Ok(()),
        // Past the buffer's end: the record takes `needed - available` bytes more than the
        // buffer has left after the batch so far.
        Err(EncodeError::BufferTooSmall { needed, available }) => Err(NotAppended::Full(Full {
            needed: builder.len() + builder.remaining() + needed.saturating_sub(available),
        })),
        Err(error) => Err(NotAppended::Encode(error)),
    }
}

/// [`Producer::send_with`]'s append: the value written in place by `write`, the record taken
/// back if it went past what surely compresses into the buffer.
fn append_written(
    builder: &mut RecordBatchBuilder<'_>,
    record: &Record<'_>,
    timestamp: i64,
    room: Room,
    write: &mut dyn FnMut(&mut [u8]) -> Result<usize, ValueError>,
) -> Result<(), NotAppended> {
    let mark = builder.mark();
    let payload = InPlace(|out: &mut [u8]| write(out));
    match builder.append_with(timestamp, record.key, payload, record.headers) {
        // With compression the batch must stay within what surely compresses into its
        // buffer: the record goes into the next batch.
        Ok(()) if builder.len() > room.plain_cap => {
            let needed = builder.len();
            builder.restore(mark);
            Err(NotAppended::Full(Full { needed }))
        }
        Ok(()) => Ok(()),
        Err(WithError::Closure(ValueError::DoesNotFit))
        | Err(WithError::Encode(EncodeError::BufferTooSmall { .. })) => {
            Err(NotAppended::Full(Full {
                needed: builder.len() + builder.remaining() + 1,
            }))
        }
        Err(WithError::Closure(ValueError::Failed)) => Err(NotAppended::Value),
        Err(WithError::Encode(error)) => Err(NotAppended::Encode(error)),
    }
}
