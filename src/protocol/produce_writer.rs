//! [`ProduceRequestWriter`]: a Produce request written straight into the frame buffer, topic
//! by topic and partition by partition, with each partition's record batch built in place.
//!
//! ```text
//! size:int32 | request header | transactionalId | acks:int16 | timeoutMs:int32 |
//!   topics:[ name | partitions:[ index:int32 | records:(length | record batch) | tags ] | tags ] |
//! tags
//! ```
//!
//! Counts and lengths are known only when a scope ends, so they are reserved and back-patched:
//! `INT32` slots before version 9, and in the flexible versions (9+) unsigned varints: a count
//! reserved at one byte (below 127 entries nothing moves; more moves what follows forward), a
//! records length as wide as the room left in the buffer could need, each filled minimally
//! with [`Writer::fill_uvarint_growing`]. The result is byte for byte what encoding the equivalent [`ProduceRequest`]
//! gives.

use super::codec::{self, Request};
use super::header::RequestHeader;
use super::messages::ProduceRequest;
use super::{ApiKey, Encode};
use crate::record::{
    BatchHeader, CompressError, Compression, RecordBatchBuilder, compress_batch,
    compressed_batch_bound,
};
use crate::wire::{EncodeError, Gap, VarintGap, WithError, Writer};
use core::ops::{Deref, DerefMut};

/// A reserved count or length: an `INT32`, or a varint in flexible versions (written as
/// value + 1, Kafka's compact form).
#[derive(Debug, Clone, Copy)]
enum Slot {
    Int32(Gap<4>),
    Compact(VarintGap),
}

impl Slot {
    /// A slot for a count (topics, partitions): in flexible versions one byte, as wide as a
    /// count below 127 takes, so that filling it moves nothing in the common case (a count
    /// of 127 or more moves what follows forward by up to four bytes then).
    fn reserve(w: &mut Writer<'_>, flexible: bool) -> Result<Self, EncodeError> {
        Ok(if flexible {
            Self::Compact(w.reserve_uvarint_small()?)
        } else {
            Self::Int32(w.reserve::<4>()?)
        })
    }

    /// A slot for a length that cannot exceed the room left in the buffer (a partition's
    /// records): in flexible versions only as wide as the largest such length needs, so that
    /// filling it usually moves nothing (with 512 KiB left, any batch of 16 KiB or more fills
    /// it exactly) rather than moving the whole batch back by the unused bytes.
    fn reserve_length(w: &mut Writer<'_>, flexible: bool) -> Result<Self, EncodeError> {
        Ok(if flexible {
            let max = u32::try_from(w.remaining())
                .unwrap_or(u32::MAX)
                .saturating_add(1);
            Self::Compact(w.reserve_uvarint_upto(max)?)
        } else {
            Self::Int32(w.reserve::<4>()?)
        })
    }

    fn fill(self, w: &mut Writer<'_>, value: usize, what: &'static str) -> Result<(), EncodeError> {
        let too_long = || EncodeError::TooLong {
            what,
            len: value,
            max: i32::MAX as usize,
        };
        match self {
            Self::Int32(gap) => {
                let v = i32::try_from(value).map_err(|_| too_long())?;
                w.patch_i32(gap, v)
            }
            Self::Compact(gap) => {
                let v = u32::try_from(value)
                    .ok()
                    .and_then(|v| v.checked_add(1))
                    .ok_or_else(too_long)?;
                w.fill_uvarint_growing(gap, v)
            }
        }
    }
}

/// Writes a Produce request (versions 3 to 11) into a caller's buffer as nested scopes:
/// topics, then partitions, each partition a [`RecordBatchBuilder`] appending records in
/// place. Finishing a scope back-patches its count or length; finishing the request patches
/// the frame size and returns the frame, ready to send.
///
/// A scope dropped without being finished is rolled back: the request is left as it was
/// before the scope began, still valid. Nothing is ever truncated; running out of room is
/// [`EncodeError::BufferTooSmall`] with the buffer size needed so far, and leaves the request
/// as it was before the failed call.
///
/// In the flexible versions a count slot (topics, partitions) is reserved at one byte and a
/// partition's records length at as many bytes as the room left could need, so nothing moves
/// when they are filled in the common case. A count of 127 or more moves what follows forward
/// by up to four bytes when its scope finishes: the buffer then needs those bytes free, or
/// finishing is [`EncodeError::BufferTooSmall`] (and may be retried with a larger buffer).
///
/// ```
/// use embedded_kafka::protocol::{ProduceRequestWriter, Request, ProduceRequest, RequestHeader};
/// use embedded_kafka::record::BatchHeader;
///
/// let mut frame = [0u8; 512];
/// let header = RequestHeader::new(42, Some("sensor-7"));
/// let mut request = ProduceRequestWriter::begin(&mut frame, 9, &header, None, -1, 30_000)?;
/// let mut topic = request.topic("readings")?;
/// let mut partition = topic.partition(0, BatchHeader::default())?;
/// partition.append(1_700_000_000_000, Some(b"sensor-7"), Some(b"21.5"), &[])?;
/// partition.append(1_700_000_001_000, Some(b"sensor-7"), Some(b"21.7"), &[])?;
/// partition.finish()?;
/// topic.finish()?;
/// let frame = request.finish()?;
///
/// // The frame is an ordinary Produce request.
/// let (header, body) = ProduceRequest::decode_request(&frame[4..]).expect("valid");
/// assert_eq!((header.correlation_id, body.acks), (42, -1));
/// let topic = body.topic_data.get(0).expect("one topic");
/// assert_eq!(topic.name, "readings");
/// # Ok::<(), embedded_kafka::wire::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct ProduceRequestWriter<'a> {
    w: Writer<'a>,
    flexible: bool,
    size: Gap<4>,
    topics: Slot,
    topic_count: usize,
}

impl<'a> ProduceRequestWriter<'a> {
    /// Starts a request at the beginning of `buf`: the size slot, the request header (its API
    /// key and version are set from `version`), the transactional id, acks and timeout, and a
    /// slot for the topic count.
    pub fn begin(
        buf: &'a mut [u8],
        version: i16,
        header: &RequestHeader<'_>,
        transactional_id: Option<&str>,
        acks: i16,
        timeout_ms: i32,
    ) -> Result<Self, EncodeError> {
        let api = ApiKey::Produce;
        if !ProduceRequest::versions().contains(version) {
            return Err(EncodeError::UnsupportedVersion {
                api: api.key(),
                version,
            });
        }
        let flexible = api.flexible_from().is_some_and(|f| version >= f);
        let header = RequestHeader {
            request_api_key: api.key(),
            request_api_version: version,
            ..*header
        };
        let mut w = Writer::new(buf);
        let size = w.reserve::<4>()?;
        header.encode(&mut w, ProduceRequest::request_header_version(version))?;
        codec::put_nullable_string(
            &mut w,
            transactional_id,
            flexible,
            true,
            "ProduceRequest.transactional_id",
            version,
        )?;
        w.put_i16(acks)?;
        w.put_i32(timeout_ms)?;
        let topics = Slot::reserve(&mut w, flexible)?;
        Ok(Self {
            w,
            flexible,
            size,
            topics,
            topic_count: 0,
        })
    }

    /// Starts a topic. Finish it with [`TopicWriter::finish`]; dropping it unfinished removes it.
    pub fn topic(&mut self, name: &str) -> Result<TopicWriter<'_, 'a>, EncodeError> {
        let start = self.w.position();
        let flexible = self.flexible;
        let partitions = self.w.atomically(|w| {
            codec::put_string(w, name, flexible)?;
            Slot::reserve(w, flexible)
        })?;
        Ok(TopicWriter {
            req: self,
            start,
            partitions,
            partition_count: 0,
            finished: false,
        })
    }

    /// Topics finished so far.
    pub fn topic_count(&self) -> usize {
        self.topic_count
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.w.position()
    }

    /// Whether nothing has been written (never true: `begin` writes the header).
    pub fn is_empty(&self) -> bool {
        self.w.position() == 0
    }

    /// Bytes still free in the buffer.
    pub fn remaining(&self) -> usize {
        self.w.remaining()
    }

    /// Patches the topic count and the frame size and returns the whole frame (size prefix
    /// included).
    pub fn finish(mut self) -> Result<&'a mut [u8], EncodeError> {
        self.topics.fill(&mut self.w, self.topic_count, "topics")?;
        if self.flexible {
            self.w.put_empty_tagged_fields()?;
        }
        let size = self.w.position() - self.size.end();
        let size = i32::try_from(size).map_err(|_| EncodeError::TooLong {
            what: "frame",
            len: size,
            max: i32::MAX as usize,
        })?;
        self.w.patch_i32(self.size, size)?;
        Ok(self.w.into_written())
    }
}

/// A topic of a [`ProduceRequestWriter`], open for partitions.
#[derive(Debug)]
pub struct TopicWriter<'r, 'a> {
    req: &'r mut ProduceRequestWriter<'a>,
    start: usize,
    partitions: Slot,
    partition_count: usize,
    finished: bool,
}

impl<'a> TopicWriter<'_, 'a> {
    /// Starts a partition and its record batch (with `header`'s producer id, epoch and base
    /// sequence). Append records through the returned writer, which dereferences to a
    /// [`RecordBatchBuilder`], then [`finish`](PartitionWriter::finish) it; dropping it
    /// unfinished removes the partition.
    pub fn partition(
        &mut self,
        index: i32,
        header: BatchHeader,
    ) -> Result<PartitionWriter<'_, 'a>, EncodeError> {
        let flexible = self.req.flexible;
        let start = self.req.w.position();
        let records = self.req.w.atomically(|w| {
            w.put_i32(index)?;
            Slot::reserve_length(w, flexible)
        })?;
        let w = core::mem::replace(&mut self.req.w, Writer::new(&mut []));
        match RecordBatchBuilder::in_writer(w, header) {
            Ok(batch) => Ok(PartitionWriter {
                req: &mut *self.req,
                partition_count: &mut self.partition_count,
                batch,
                start,
                records,
                finished: false,
            }),
            Err((mut w, e)) => {
                w.rollback(start);
                self.req.w = w;
                Err(e)
            }
        }
    }

    /// Adds a partition whose record batch is `batch` (a finished uncompressed batch, as
    /// [`RecordBatchBuilder::finish`] returns it, built in a scratch buffer) with its records
    /// compressed by `codec`, written straight into the request: the compressed bytes are
    /// written once, in their final place.
    ///
    /// The request must have room for the codec's worst case,
    /// [`compressed_batch_bound`](crate::record::compressed_batch_bound), plus the partition's
    /// own fields (10 bytes in the flexible versions, 8 before), whatever the batch compresses
    /// to; otherwise [`CompressError::BufferTooSmall`] gives that frame buffer size, checked
    /// before anything is written, and the request is left as it was. Closing the topic and the
    /// request takes a few bytes more, as with [`partition`](Self::partition).
    ///
    /// ```
    /// # #[cfg(feature = "lz4")] {
    /// use embedded_kafka::protocol::{ProduceRequest, ProduceRequestWriter, Request, RequestHeader};
    /// use embedded_kafka::record::{BatchHeader, Compression, RecordBatchBuilder};
    ///
    /// let mut scratch = [0u8; 1024];
    /// let mut batch = RecordBatchBuilder::new(&mut scratch, BatchHeader::default()).unwrap();
    /// batch.append(1_700_000_000_000, None, Some(b"{\"temp_c\":21.5}"), &[]).unwrap();
    /// let batch = batch.finish().unwrap();
    ///
    /// let mut frame = [0u8; 1024];
    /// let mut request = ProduceRequestWriter::begin(&mut frame, 9, &RequestHeader::new(1, None), None, -1, 30_000).unwrap();
    /// let mut topic = request.topic("readings").unwrap();
    /// topic.compressed_partition(0, batch, Compression::Lz4).unwrap();
    /// topic.finish().unwrap();
    /// let frame = request.finish().unwrap();
    /// assert!(ProduceRequest::decode_request(&frame[4..]).is_ok());
    /// # }
    /// ```
    pub fn compressed_partition(
        &mut self,
        index: i32,
        batch: &[u8],
        codec: Compression,
    ) -> Result<(), CompressError> {
        let flexible = self.req.flexible;
        let w = &mut self.req.w;
        let capacity = w.capacity();
        let start = w.position();
        // Decided before anything is written: the partition index, its records length at its
        // widest, the codec's worst case for the batch, the partition's tagged fields.
        let needed = compressed_batch_bound(codec, batch.len())
            .map(|bound| start + 4 + if flexible { 5 + 1 } else { 4 } + bound)?;
        if capacity < needed {
            return Err(CompressError::BufferTooSmall {
                needed,
                available: capacity,
            });
        }
        let result = w.atomically(|w| {
            w.put_i32(index).map_err(CompressError::Encode)?;
            let records = Slot::reserve_length(w, flexible).map_err(CompressError::Encode)?;
            let n = w
                .put_with(None, |out| compress_batch(batch, codec, out))
                .map_err(|e| match e {
                    WithError::Closure(CompressError::BufferTooSmall { .. }) => {
                        CompressError::BufferTooSmall {
                            needed,
                            available: capacity,
                        }
                    }
                    WithError::Closure(e) => e,
                    WithError::Encode(e) => CompressError::Encode(e),
                })?;
            records
                .fill(w, n, "records")
                .map_err(CompressError::Encode)?;
            if flexible {
                w.put_empty_tagged_fields().map_err(CompressError::Encode)?;
            }
            Ok(())
        });
        if result.is_err() {
            self.req.w.rollback(start);
        }
        result?;
        self.partition_count += 1;
        Ok(())
    }

    /// Partitions finished so far in this topic.
    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// Bytes still free in the buffer.
    pub fn remaining(&self) -> usize {
        self.req.w.remaining()
    }

    /// Patches the partition count and closes the topic.
    pub fn finish(mut self) -> Result<(), EncodeError> {
        let req = &mut *self.req;
        let flexible = req.flexible;
        let partitions = self.partitions;
        let count = self.partition_count;
        req.w.atomically(|w| {
            partitions.fill(w, count, "partitions")?;
            if flexible {
                w.put_empty_tagged_fields()?;
            }
            Ok(())
        })?;
        req.topic_count += 1;
        self.finished = true;
        Ok(())
    }
}

impl Drop for TopicWriter<'_, '_> {
    fn drop(&mut self) {
        if !self.finished {
            self.req.w.rollback(self.start);
        }
    }
}

/// A partition of a [`TopicWriter`]: its record batch, being built in place. Dereferences to
/// the [`RecordBatchBuilder`] to append records.
#[derive(Debug)]
pub struct PartitionWriter<'t, 'a> {
    req: &'t mut ProduceRequestWriter<'a>,
    partition_count: &'t mut usize,
    batch: RecordBatchBuilder<'a>,
    start: usize,
    records: Slot,
    finished: bool,
}

impl PartitionWriter<'_, '_> {
    /// Finishes the record batch (length, CRC…), patches the records length and closes the
    /// partition. A batch without records is sent as empty records.
    pub fn finish(mut self) -> Result<(), EncodeError> {
        let batch = core::mem::replace(&mut self.batch, RecordBatchBuilder::placeholder());
        let (mut w, result) = batch.finish_in();
        let flexible = self.req.flexible;
        let records = self.records;
        let result = result.and_then(|len| {
            w.atomically(|w| {
                records.fill(w, len, "records")?;
                if flexible {
                    w.put_empty_tagged_fields()?;
                }
                Ok(())
            })
        });
        if result.is_err() {
            w.rollback(self.start);
        }
        self.req.w = w;
        self.finished = true;
        result?;
        *self.partition_count += 1;
        Ok(())
    }
}

impl<'a> Deref for PartitionWriter<'_, 'a> {
    type Target = RecordBatchBuilder<'a>;
    fn deref(&self) -> &Self::Target {
        &self.batch
    }
}

impl DerefMut for PartitionWriter<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.batch
    }
}

impl Drop for PartitionWriter<'_, '_> {
    fn drop(&mut self) {
        if !self.finished {
            let batch = core::mem::replace(&mut self.batch, RecordBatchBuilder::placeholder());
            let mut w = batch.abandon();
            w.rollback(self.start);
            self.req.w = w;
        }
    }
}
