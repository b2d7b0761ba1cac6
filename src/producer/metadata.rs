//! The metadata cache: for each topic in use, its partition count and each partition's
//! leader; the brokers' addresses. Filled from Metadata responses, copied out of the receive
//! buffer (the response itself is not kept).

use core::net::SocketAddr;

use super::answers::MetadataAnswer;
use crate::protocol::ErrorCode;

/// Partitions per topic whose leaders the cache tracks.
pub const MAX_PARTITIONS: usize = 32;

/// Brokers whose addresses the cache keeps.
pub const MAX_BROKERS: usize = 8;

/// What the cache knows of one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMetadata<'t> {
    /// The topic's name.
    pub name: &'t str,
    /// How many partitions it has.
    pub partitions: u32,
    /// Each partition's leader (node id; -1 when it has none), for the first
    /// `partitions` entries.
    pub leaders: [i32; MAX_PARTITIONS],
    /// When it was fetched, on the producer's monotonic clock.
    pub fetched_ms: u64,
    /// With idempotence: the sequence number of each partition's next record.
    pub next_sequence: [i32; MAX_PARTITIONS],
}

impl TopicMetadata<'_> {
    /// The leader of `partition`, if known.
    pub fn leader(&self, partition: u32) -> Option<i32> {
        self.leaders
            .get(partition as usize)
            .copied()
            .filter(|&l| l >= 0 && partition < self.partitions)
    }
}

/// A broker from a Metadata response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Its node id.
    pub node_id: i32,
    /// Its address, if its host is an IP address (host names need a resolver).
    pub addr: Option<SocketAddr>,
}

/// Topics and brokers, at most `T` topics and [`MAX_BROKERS`] brokers.
#[derive(Debug, Clone)]
pub struct MetadataCache<'t, const T: usize> {
    topics: [Option<TopicMetadata<'t>>; T],
    brokers: [Option<BrokerAddr>; MAX_BROKERS],
}

/// What [`MetadataCache::update`] found wrong with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateError {
    Missing,
    Code(ErrorCode),
    PartitionCode(i32, ErrorCode),
    TooManyPartitions(u32),
    Full,
}

impl<const T: usize> Default for MetadataCache<'_, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'t, const T: usize> MetadataCache<'t, T> {
    /// Knows nothing.
    pub const fn new() -> Self {
        Self {
            topics: [None; T],
            brokers: [None; MAX_BROKERS],
        }
    }

    /// The cached topic and its slot index.
    pub fn topic(&self, name: &str) -> Option<(usize, &TopicMetadata<'t>)> {
        self.topics
            .iter()
            .enumerate()
            .find_map(|(i, t)| t.as_ref().filter(|t| t.name == name).map(|t| (i, t)))
    }

    /// The topic in slot `index`.
    pub fn topic_at(&self, index: usize) -> Option<&TopicMetadata<'t>> {
        self.topics.get(index).and_then(Option::as_ref)
    }

    /// The topic in slot `index`, to change.
    pub(crate) fn topic_at_mut(&mut self, index: usize) -> Option<&mut TopicMetadata<'t>> {
        self.topics.get_mut(index).and_then(Option::as_mut)
    }

    /// The address of broker `node_id`: `Some(None)` if it is known by host name only.
    pub fn broker(&self, node_id: i32) -> Option<Option<SocketAddr>> {
        self.brokers
            .iter()
            .flatten()
            .find(|b| b.node_id == node_id)
            .map(|b| b.addr)
    }

    /// Sets the address of broker `node_id` (resolved from its host name).
    pub(crate) fn set_broker_addr(&mut self, node_id: i32, addr: SocketAddr) {
        if let Some(b) = self
            .brokers
            .iter_mut()
            .flatten()
            .find(|b| b.node_id == node_id)
        {
            b.addr = Some(addr);
        }
    }

    /// Takes `topic` and the brokers from a Metadata response.
    pub(super) fn update(
        &mut self,
        topic: &'t str,
        response: &MetadataAnswer<'_>,
        now_ms: u64,
    ) -> Result<usize, UpdateError> {
        let listed = response
            .brokers
            .get(..response.n_brokers)
            .unwrap_or_default();
        for (slot, &(node_id, host, port)) in self.brokers.iter_mut().zip(listed) {
            let addr = super::ip::parse(host)
                .zip(u16::try_from(port).ok())
                .map(|(ip, port)| SocketAddr::new(ip, port));
            *slot = Some(BrokerAddr { node_id, addr });
        }
        let t = response.topic.as_ref().ok_or(UpdateError::Missing)?;
        let code = ErrorCode::from_code(t.error_code);
        if code.is_error() {
            return Err(UpdateError::Code(code));
        }
        let partitions = u32::try_from(t.partitions).unwrap_or(u32::MAX);
        if partitions as usize > MAX_PARTITIONS {
            return Err(UpdateError::TooManyPartitions(partitions));
        }
        // LEADER_NOT_AVAILABLE is transient: the partition stays leaderless (-1) here.
        if let Some((partition, code)) = t.failed {
            return Err(UpdateError::PartitionCode(partition, code));
        }
        let leaders = t.leaders;
        let mut entry = TopicMetadata {
            name: topic,
            partitions,
            leaders,
            fetched_ms: now_ms,
            next_sequence: [0; MAX_PARTITIONS],
        };
        let index = match self.topic(topic) {
            Some((i, old)) => {
                entry.next_sequence = old.next_sequence;
                i
            }
            None => self
                .topics
                .iter()
                .position(Option::is_none)
                .ok_or(UpdateError::Full)?,
        };
        if let Some(slot) = self.topics.get_mut(index) {
            *slot = Some(entry);
        }
        Ok(index)
    }
}
