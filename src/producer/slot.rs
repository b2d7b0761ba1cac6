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
    /// Whether it is sealed and waiting to be sent again (after a back-off).
    pub(super) retrying: bool,
    /// Times it waited (a back-off and a metadata refresh) for its partition to have a
    /// leader: not retries, only `delivery.timeout.ms` bounds them; the exponent of the next
    /// wait's back-off.
    pub(super) leader_waits: u16,
    /// While its request is in flight: (connection index, correlation id).
    pub(super) sent: Option<(u8, i32)>,
    /// Whether it was ever tied to a request written to a broker (then it may be stored,
    /// whatever became of the answer).
    pub(super) written: bool,
}

impl Slot<'_> {
    /// Whether this batch was filled before `other`'s (batch numbers wrap).
    pub(super) fn older_than(&self, other: &Slot<'_>) -> bool {
        (self.batch.wrapping_sub(other.batch) as i32) < 0
    }

    /// Whether it holds a finished batch, sent or not.
    pub(super) fn is_sealed(&self) -> bool {
        matches!(self.region, Region::Sealed(..))
    }

    /// Whether it is a sealed batch that may go in the next request: not in flight, not
    /// backing off.
    pub(super) fn is_waiting(&self) -> bool {
        self.is_sealed() && !self.retrying && self.sent.is_none()
    }

    fn same_partition(&self, other: &Slot<'_>) -> bool {
        self.topic == other.topic && self.partition == other.partition
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
        let pid = self.pid();
        let slot = self.slots.get_mut(si)?;
        let Region::Idle(buf) = core::mem::replace(&mut slot.region, Region::Gone) else {
            return None;
        };
        let w = Writer::new(buf);
        let header = match (pid, self.metadata.topic_at(topic)) {
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
                slot.leader_waits = 0;
                slot.sent = None;
                slot.written = false;
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
        let numbered = self.pid().is_some();
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
            Ok(len) if len > 0 => {
                // `compression.type`: from here on the buffer holds the compressed batch,
                // sent and resent as it is.
                let buf = w.into_buf();
                let len = self.compress.seal(buf, len);
                Region::Sealed(buf, len)
            }
            _ => Region::Idle(w.into_buf()),
        };
        if numbered
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
            && self.partitioner.on_batch_closed(t.name, slot.partition, n)
        {
            // A sticky partitioner moved on: a record waiting for room asks it again.
            self.repick = true;
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

    /// The leader of slot `si`'s partition (-1: not known).
    pub(super) fn leader_of(&self, si: usize) -> i32 {
        self.slots
            .get(si)
            .and_then(|s| self.metadata.topic_at(s.topic)?.leader(s.partition))
            .unwrap_or(-1)
    }

    /// Whether slot `si`'s batch may go to `leader` on connection `ci` now: it waits to be
    /// sent, no older batch of its partition waits (they go first, in order), and no older one
    /// is in flight on another connection (order across connections is not kept).
    pub(super) fn ready_for(&self, si: usize, leader: i32, ci: usize) -> bool {
        let Some(s) = self.slots.get(si) else {
            return false;
        };
        s.is_waiting()
            && self.leader_of(si) == leader
            && !self.slots.iter().any(|o| {
                o.is_sealed()
                    && o.same_partition(s)
                    && o.older_than(s)
                    && (o.sent.is_none() || o.sent.is_some_and(|(c, _)| usize::from(c) != ci))
            })
    }

    /// Whether an older batch of slot `si`'s partition is still unresolved (sealed: waiting,
    /// backing off or in flight). A batch refused with OUT_OF_ORDER_SEQUENCE_NUMBER behind
    /// one is not a gap in the log, only the consequence of its predecessor's failure.
    pub(super) fn older_unresolved(&self, si: usize) -> bool {
        let Some(s) = self.slots.get(si) else {
            return false;
        };
        self.slots
            .iter()
            .any(|o| o.is_sealed() && o.same_partition(s) && o.older_than(s))
    }
}
