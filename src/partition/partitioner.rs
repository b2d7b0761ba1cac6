//! The [`Partitioner`] trait, the rule that an explicit partition wins ([`choose_partition`]),
//! and caller-written partitioners ([`FnPartitioner`], or any closure).

use core::num::NonZeroU32;

use super::PartitionError;

/// Picks the partition of a record that did not name one.
///
/// The producer asks its partitioner once per record whose `send` gave no explicit partition,
/// with the topic, the serialized key (`None` for a null key, which is not the same as an
/// empty key: Kafka hashes `Some(b"")` and never hashes `None`) and the topic's partition count
/// from metadata. The count is a [`NonZeroU32`]: a topic without partitions is refused before
/// any partitioner is asked (see [`choose_partition`]), so an implementation can take
/// `x % partitions` without a zero check and without a panic path (`u32 % NonZeroU32` cannot
/// divide by zero).
///
/// The answer must be in `0..partitions`; [`choose_partition`] turns anything else into
/// [`PartitionError::PartitionerOutOfRange`] rather than trusting it.
///
/// Implementations here: [`Murmur2`](super::Murmur2) (keyed, Java-compatible, with a fallback
/// for null keys), [`Sticky`](super::Sticky), [`RoundRobin`](super::RoundRobin),
/// [`Random`](super::Random), [`Fixed`](super::Fixed), [`FnPartitioner`], and every closure
/// `FnMut(&str, Option<&[u8]>, NonZeroU32) -> u32`.
///
/// # Example
///
/// A partitioner of one's own: records of the `alarms` topic all go to partition 0, the rest
/// by key hash (null keys to partition 0 as well).
///
/// ```
/// use core::num::NonZeroU32;
/// use embedded_kafka::partition::{choose_partition, partition_for_key_nonzero, Partitioner};
///
/// struct AlarmsFirst;
///
/// impl Partitioner for AlarmsFirst {
///     fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
///         match key {
///             Some(key) if topic != "alarms" => partition_for_key_nonzero(key, partitions),
///             _ => 0,
///         }
///     }
/// }
///
/// let mut p = AlarmsFirst;
/// assert_eq!(choose_partition(None, "alarms", Some(b"foobar"), 1_000, &mut p), Ok(0));
/// assert_eq!(choose_partition(None, "metrics", Some(b"foobar"), 1_000, &mut p), Ok(166));
/// ```
pub trait Partitioner {
    /// The partition, in `0..partitions`, for a record of `topic` with this `key`.
    fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: NonZeroU32) -> u32;

    /// The producer closed (sealed) the batch it was filling for `partition` of `topic`,
    /// because it was full, its linger time ran out, or a buffer was needed; the next record
    /// for that partition would start a new batch. Returns whether the partitioner now answers
    /// differently for keyless records (it moved on): only then does the producer ask it
    /// again for a record that did not fit that batch.
    ///
    /// This is the moment a sticky partitioner moves on (KIP-480): keyless records fill one
    /// batch at a time instead of trickling into every partition's batch. It is Java's
    /// `Partitioner.onNewBatch(topic, cluster, prevPartition)`.
    ///
    /// The producer asks [`partition`](Self::partition) once per record, and a second time
    /// only when this returned `true`. Java's producer asks twice whenever a record needs a
    /// new batch, which made its `RoundRobinPartitioner` skip a partition at every batch
    /// closing (KAFKA-9965; Kafka 3.9 fixed that partitioner alone, KAFKA-17632, by having
    /// `onNewBatch` make the second answer repeat the first). Here no partitioner that does
    /// not move (round-robin, random, a caller's own) is ever asked twice for one record.
    ///
    /// The default does nothing and returns `false`, which is right for every partitioner
    /// that is not sticky.
    fn on_batch_closed(&mut self, topic: &str, partition: u32, partitions: NonZeroU32) -> bool {
        let _ = (topic, partition, partitions);
        false
    }
}

/// Any closure `FnMut(topic, key, partitions) -> partition` is a partitioner (its
/// [`on_batch_closed`](Partitioner::on_batch_closed) does nothing).
///
/// A closure passed straight to something that wants `impl Partitioner` needs its argument
/// types written out (`|_: &str, key: Option<&[u8]>, n: NonZeroU32| ...`), because Rust infers
/// a closure's signature only from `Fn*` bounds; [`FnPartitioner::new`] has such a bound and
/// spares that.
///
/// # Example
///
/// ```
/// use core::num::NonZeroU32;
/// use embedded_kafka::partition::choose_partition;
///
/// // Keys are sensor ids; sensor n goes to partition n.
/// let mut by_sensor_id = |_: &str, key: Option<&[u8]>, n: NonZeroU32| match key {
///     Some(&[id]) => u32::from(id) % n,
///     _ => 0,
/// };
/// assert_eq!(choose_partition(None, "t", Some(&[5]), 8, &mut by_sensor_id), Ok(5));
/// ```
impl<F> Partitioner for F
where
    F: FnMut(&str, Option<&[u8]>, NonZeroU32) -> u32,
{
    #[inline]
    fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
        self(topic, key, partitions)
    }
}

/// A caller's own partitioning function, as a [`Partitioner`].
///
/// Closures are partitioners already; this wrapper only gives the closure's signature to the
/// compiler, so the closure needs no type annotations, and gives the type a name to store in
/// a struct.
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::{choose_partition, FnPartitioner};
///
/// // Every record to the last partition.
/// let mut last = FnPartitioner::new(|_topic, _key, partitions| partitions.get() - 1);
/// assert_eq!(choose_partition(None, "t", None, 12, &mut last), Ok(11));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FnPartitioner<F>(F);

impl<F> FnPartitioner<F>
where
    F: FnMut(&str, Option<&[u8]>, NonZeroU32) -> u32,
{
    /// Wraps `f`, called as `f(topic, key, partitions)` and returning a partition in
    /// `0..partitions`.
    #[must_use]
    pub const fn new(f: F) -> Self {
        Self(f)
    }

    /// The wrapped function.
    #[must_use]
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> Partitioner for FnPartitioner<F>
where
    F: FnMut(&str, Option<&[u8]>, NonZeroU32) -> u32,
{
    #[inline]
    fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: NonZeroU32) -> u32 {
        (self.0)(topic, key, partitions)
    }
}

/// The partition a record goes to: the one it names explicitly, if any (the `partition`
/// argument of `send`), otherwise the one `partitioner` picks.
///
/// An explicit partition always wins and the partitioner is not asked at all, as in the Java
/// client (`KafkaProducer.partition`): a sticky partitioner's state is therefore untouched by
/// explicitly partitioned records.
///
/// # Errors
///
/// - [`PartitionError::NoPartitions`] when `partitions` is 0 (checked first);
/// - [`PartitionError::OutOfRange`] when `explicit` is `Some(p)` with `p >= partitions`;
/// - [`PartitionError::PartitionerOutOfRange`] when the partitioner returns a partition
///   `>= partitions`.
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::{choose_partition, Murmur2, PartitionError, RoundRobin};
///
/// // Keyed records by murmur2; keyless ones round-robin.
/// let mut p = Murmur2::new(RoundRobin::new());
///
/// assert_eq!(choose_partition(None, "t", Some(b"foobar"), 1_000, &mut p), Ok(166));
/// assert_eq!(choose_partition(Some(3), "t", Some(b"foobar"), 1_000, &mut p), Ok(3));
/// assert_eq!(choose_partition(None, "t", None, 1_000, &mut p), Ok(0));
/// assert_eq!(choose_partition(None, "t", None, 1_000, &mut p), Ok(1));
/// assert_eq!(
///     choose_partition(Some(1_000), "t", None, 1_000, &mut p),
///     Err(PartitionError::OutOfRange { partition: 1_000, partitions: 1_000 })
/// );
/// assert_eq!(choose_partition(None, "t", None, 0, &mut p), Err(PartitionError::NoPartitions));
/// ```
pub fn choose_partition<P>(
    explicit: Option<u32>,
    topic: &str,
    key: Option<&[u8]>,
    partitions: u32,
    partitioner: &mut P,
) -> Result<u32, PartitionError>
where
    P: Partitioner + ?Sized,
{
    let Some(count) = NonZeroU32::new(partitions) else {
        return Err(PartitionError::NoPartitions);
    };
    match explicit {
        Some(partition) if partition < partitions => Ok(partition),
        Some(partition) => Err(PartitionError::OutOfRange {
            partition,
            partitions,
        }),
        None => {
            let partition = partitioner.partition(topic, key, count);
            if partition < partitions {
                Ok(partition)
            } else {
                warn!(
                    "partitioner chose partition {} of a topic with {} partitions",
                    partition, partitions
                );
                Err(PartitionError::PartitionerOutOfRange {
                    partition,
                    partitions,
                })
            }
        }
    }
}
