//! What comes back: each batch's [`Outcome`], looked up by ticket ([`Delivery`],
//! [`DeliveryStatus`]) or handed out as [`BatchReport`]s.

use embedded_nal_async::{Dns, TcpConnect};

use super::producer::{Producer, Res};
use super::records::Ticket;
use super::slot::Region;
use super::{Clock, Delay, DeliveryError};
use crate::partition::Partitioner;

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

/// What the producer did from the end of the previous [`Producer::flush`] to the end of this
/// one: requests are written, and answers read, by [`send`](Producer::send) and
/// [`poll`](Producer::poll) too (pipelining), so a flush alone may write nothing and still
/// see batches fail or go again.
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

#[derive(Debug, Clone, Copy)]
pub(super) struct Outcome<'t> {
    pub(super) batch: u32,
    pub(super) topic: &'t str,
    pub(super) partition: u32,
    pub(super) records: u32,
    /// `(base offset, log append time)`, `None` for acks=0.
    pub(super) result: Result<Option<(i64, i64)>, DeliveryError>,
    /// Whether [`Producer::take_reports`] has handed it out.
    pub(super) reported: bool,
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

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
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
        // Its batch is sealed (other open batches keep filling), sent with whatever else may
        // go, and answers are read until its outcome is in.
        if let Some(si) = self
            .slots
            .iter()
            .position(|s| s.batch == ticket.batch && matches!(s.region, Region::Open(_)))
        {
            self.seal(si);
        }
        while self.delivery(ticket) == DeliveryStatus::Pending {
            if !self.step().await? {
                break;
            }
        }
        Ok(match self.delivery(ticket) {
            DeliveryStatus::Delivered(d) => Ok(d),
            DeliveryStatus::Failed(e) => Err(e),
            DeliveryStatus::Pending | DeliveryStatus::Forgotten => Err(DeliveryError::Forgotten {
                partition: ticket.partition,
            }),
        })
    }

    /// [`wait`](Self::wait), but for at most `timeout_ms` (the Java client's
    /// `future.get(timeout)`): [`Error::WaitTimeout`](super::Error::WaitTimeout) if the
    /// record's outcome is not in by then. Only the waiting stops: the record stays
    /// [`DeliveryStatus::Pending`], its batch in flight or waiting as it was, and a later
    /// `wait`, `flush` or `poll` carries on with it.
    ///
    /// Cancel-safe by construction: it goes through the same steps as `wait` and checks the
    /// deadline between them, cutting short only the waits that can stop without loss (for
    /// an answer, for a back-off). A request being written is finished first, so it may
    /// return up to one `request.timeout.ms` late (a broker that stops reading).
    pub async fn wait_timeout(
        &mut self,
        ticket: &Ticket<'a>,
        timeout_ms: u32,
    ) -> Res<'a, Result<Delivery<'a>, DeliveryError>, C> {
        let deadline = self.clock.now_ms().saturating_add(u64::from(timeout_ms));
        if let Some(si) = self
            .slots
            .iter()
            .position(|s| s.batch == ticket.batch && matches!(s.region, Region::Open(_)))
        {
            self.seal(si);
        }
        while self.delivery(ticket) == DeliveryStatus::Pending {
            if self.clock.now_ms() >= deadline {
                return Err(super::Error::WaitTimeout { ms: timeout_ms });
            }
            if !self.step_within(deadline).await? {
                break;
            }
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
        if R == 0 {
            return;
        }
        // Outcomes are recorded in ring order and this call marks every one it finds, so the
        // unreported ones are always the newest few: count them back from the newest, then
        // hand them out oldest first. A call with nothing new (the common case when called
        // after every send) costs one look, not a walk over all `R`.
        let newest = (self.next_outcome + R - 1) % R;
        let fresh = (0..R)
            .take_while(|&k| {
                let at = (newest + R - k) % R;
                matches!(self.outcomes.get(at), Some(Some(o)) if !o.reported)
            })
            .count();
        let start = (self.next_outcome + R - fresh) % R;
        for k in 0..fresh {
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

    /// Records slot `si`'s outcome and frees its buffer.
    pub(super) fn finish_slot(
        &mut self,
        si: usize,
        result: Result<Option<(i64, i64)>, DeliveryError>,
    ) {
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
}
