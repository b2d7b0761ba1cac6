//! What goes in: [`Record`], and what [`Producer::send`](super::Producer::send) hands back,
//! [`Ticket`].

use crate::record::Header;

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

/// What [`Producer::send`](super::Producer::send) hands back: where the record went, to look
/// up its outcome with [`Producer::delivery`](super::Producer::delivery) once its batch has
/// been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket<'t> {
    /// The topic.
    pub topic: &'t str,
    /// The partition chosen.
    pub partition: u32,
    /// The record's timestamp (-1: none; the broker may set it).
    pub timestamp: i64,
    pub(super) batch: u32,
    pub(super) index: u32,
}

/// Why a value writer of [`Producer::send_with`](super::Producer::send_with) wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ValueError {
    /// The room given is too small: the producer tries again with an empty batch.
    DoesNotFit,
    /// The value could not be produced (the writer keeps why):
    /// [`Error::Value`](super::Error::Value).
    Failed,
}

/// The open batch has no room for the record (`needed` bytes of batch).
pub(super) struct Full {
    pub(super) needed: usize,
}
