//! Why a record could not be given a partition.

use core::fmt;

/// Why [`choose_partition`](super::choose_partition) could not give a record a partition.
///
/// Each variant says who is at fault: the topic's metadata ([`NoPartitions`]), the caller's
/// record ([`OutOfRange`]) or the caller's partitioner ([`PartitionerOutOfRange`]).
///
/// [`NoPartitions`]: PartitionError::NoPartitions
/// [`OutOfRange`]: PartitionError::OutOfRange
/// [`PartitionerOutOfRange`]: PartitionError::PartitionerOutOfRange
///
/// # Example
///
/// ```
/// use embedded_kafka::partition::PartitionError;
///
/// let e = PartitionError::OutOfRange { partition: 7, partitions: 3 };
/// assert_eq!(e.to_string(), "partition 7 is out of range: the topic has 3 partitions (0..3)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PartitionError {
    /// The topic has no partitions (its metadata says 0), so no partition is valid.
    NoPartitions,
    /// The record named a partition explicitly and the topic has no such partition. The Java
    /// client fails the send the same way ("Invalid partition given with record").
    OutOfRange {
        /// The partition the record asked for.
        partition: u32,
        /// How many partitions the topic has; valid ones are `0..partitions`.
        partitions: u32,
    },
    /// The partitioner returned a partition the topic does not have: a bug in a caller-written
    /// partitioner, or a [`Fixed`](super::Fixed) partition the topic lacks.
    PartitionerOutOfRange {
        /// The partition the partitioner returned.
        partition: u32,
        /// How many partitions the topic has; valid ones are `0..partitions`.
        partitions: u32,
    },
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoPartitions => f.write_str("the topic has no partitions"),
            Self::OutOfRange {
                partition,
                partitions,
            } => write!(
                f,
                "partition {partition} is out of range: the topic has {partitions} partitions (0..{partitions})"
            ),
            Self::PartitionerOutOfRange {
                partition,
                partitions,
            } => write!(
                f,
                "the partitioner chose partition {partition}, but the topic has {partitions} partitions (0..{partitions})"
            ),
        }
    }
}

impl core::error::Error for PartitionError {}
