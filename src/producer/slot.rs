//! The batch slots: one batch buffer each, Idle -> Open (records appended) -> Sealed (finished,
//! waiting to be sent or resent) -> Idle (outcome recorded).

use embedded_nal_async::{Dns, TcpConnect};

use super::producer::Producer;
use super::{Clock, Delay};
use crate::partition::Partitioner;
use crate::record::{BatchHeader, RecordBatchBuilder};
use crate::wire::Writer;

/// One batch buffer and what is in it.
pub(super) enum Region<'a> {
    Idle(&'a mut [u8]),
    Open(RecordBatchBuilder<'a>),
    /// A finished batch of this many bytes at the start of the buffer.
    Sealed(&'a mut [u8], usize),
    /// Only while changing state.
    Gone,
}

pub(super) struct Slot<'a> {
    pub(super) region: Region<'a>,
    pub(super) topic: usize,
    pub(super) partition: u32,
    pub(super) batch: u32,
    pub(super) records: u32,
    pub(super) opened_ms: u64,
    /// Times the batch was sent and failed with a retriable error.
    pub(super) attempts: u32,
    /// Whether it is sealed and waiting to be sent again.
    pub(super) retrying: bool,
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
    /// The slot holding `(topic, partition)`'s open batch, opening one in a free buffer if
    /// needed; `None` if every buffer is taken.
    pub(super) fn slot_for(&mut self, topic: usize, partition: u32) -> Option<usize> {
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
    pub(super) fn seal(&mut self, si: usize) {
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
    pub(super) fn may_retry(&self, si: usize) -> bool {
        self.slots.get(si).is_some_and(|s| {
            let age = self.clock.now_ms().saturating_sub(s.opened_ms);
            let backoff = u64::from(self.config.backoff_ms(s.attempts + 1));
            s.attempts < self.config.retries
                && age.saturating_add(backoff) < u64::from(self.config.delivery_timeout_ms)
        })
    }

    pub(super) fn sealed_for(&self, si: usize, leader: i32) -> bool {
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
}
