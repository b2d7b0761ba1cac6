//! The fate of a batch that did not get through: sent again (the same bytes, after a
//! back-off) or failed for good, decided from its partition's error code as Kafka's Java client
//! decides, or from its connection's failure.

use embedded_nal_async::{Dns, TcpConnect};

use super::producer::{Producer, Res};
use super::{Clock, Delay, DeliveryError};
use crate::partition::Partitioner;
use crate::protocol::ErrorCode;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Decides the fate of slot `si`'s batch from its partition's answer, as Kafka's Java
    /// client does (`Sender.completeBatch`, `TransactionManager.canRetry`): delivered, sent
    /// again (after a back-off and a metadata refresh), or failed. With idempotence,
    /// OUT_OF_ORDER_SEQUENCE_NUMBER behind an older batch of the partition still unresolved
    /// is only that batch's consequence and is retried as it is; with no such batch it is a
    /// gap in the log, and UNKNOWN_PRODUCER_ID means the broker lost the producer's state:
    /// both retry after an epoch bump (KIP-360), which numbers that partition from 0 again.
    /// A batch that fails for good leaves a gap for its successors: an epoch bump too.
    ///
    /// UNKNOWN_PRODUCER_ID with `log_start_offset` -1 (Produce v5+: the broker did not know
    /// the partition's log start when it answered, the partition moving away meanwhile) is
    /// retried as it is, without a bump, as the Java client does (`canRetry`): the answer
    /// says nothing yet about the producer state, and a later one will. With a log start
    /// offset the Java idempotent producer bumps whether or not the log was truncated past
    /// its last acknowledged offset (only its transactional producer renumbers without a
    /// bump then), and so does this one.
    pub(super) fn settle_batch(
        &mut self,
        si: usize,
        result: Result<Option<(i64, i64)>, DeliveryError>,
        log_start_offset: Option<i64>,
    ) {
        let Err(error) = result else {
            self.finish_slot(si, result);
            return;
        };
        let idempotent = self.pid().is_some();
        let retriable = match error {
            DeliveryError::Broker { code, .. } => {
                if idempotent && code == ErrorCode::OutOfOrderSequenceNumber {
                    if !self.older_unresolved(si) {
                        self.request_bump(si);
                    }
                    true
                } else if idempotent && code == ErrorCode::UnknownProducerId {
                    if log_start_offset != Some(-1) {
                        self.request_bump(si);
                    }
                    true
                } else {
                    code.is_retriable()
                }
            }
            _ => false,
        };
        if retriable && self.may_retry(si) {
            self.mark_retry(si);
            return;
        }
        // As the Java client (`Sender.completeBatch`): sequences are renumbered only if the
        // batch did not use up its retries; if it did, an earlier attempt may have been
        // stored, and renumbering would store its records again. The broker's answer to the
        // partition's next batch then tells (OUT_OF_ORDER_SEQUENCE_NUMBER: a gap, bump).
        let out_of_order = matches!(
            error,
            DeliveryError::Broker {
                code: ErrorCode::OutOfOrderSequenceNumber,
                ..
            }
        );
        let attempts = self.slots.get(si).map_or(0, |s| s.attempts);
        if idempotent && (out_of_order || attempts < self.config.retries) {
            self.request_bump(si);
        }
        self.tally.failed_batches += 1;
        self.finish_slot(si, result);
    }

    /// With idempotence: slot `si`'s partition has a broken sequence (a gap the broker will
    /// not fill, or state it lost). The epoch is bumped before the next Produce request and
    /// that partition's undelivered batches numbered from 0 again (Java's
    /// `requestEpochBumpForPartition`). Other partitions' batches keep their epoch and
    /// sequence, so that one whose answer was lost is still recognised as a duplicate; their
    /// batches filled after the bump start at 0 in the new epoch.
    fn request_bump(&mut self, si: usize) {
        if self.pid().is_none() {
            return;
        }
        if let Some(s) = self.slots.get(si)
            && let Some(bits) = self.bump_partitions.get_mut(s.topic)
        {
            *bits |= 1u32.checked_shl(s.partition).unwrap_or(0);
        }
        self.bump_epoch = true;
    }

    /// Marks slot `si`'s batch to be sent again, the same bytes, after a back-off.
    /// The retries of one round share one back-off, the longest of theirs.
    pub(super) fn mark_retry(&mut self, si: usize) {
        let round = self.slots.iter().any(|s| s.retrying);
        let Some(attempt) = self.slots.get(si).map(|s| s.attempts + 1) else {
            return;
        };
        let due = self.clock.now_ms() + u64::from(self.back_off_ms(attempt));
        self.retry_due_ms = if round {
            self.retry_due_ms.max(due)
        } else {
            due
        };
        if let Some(slot) = self.slots.get_mut(si) {
            slot.sent = None;
            slot.attempts = attempt;
            slot.retrying = true;
            self.tally.retries += 1;
        }
    }

    /// After connection `ci` failed with `e`: closes it, and sends each batch in flight on it
    /// again if `e` is retriable and the batch has retries left, else fails it
    /// ([`DeliveryError::NoResponse`]). Hands `e` back.
    pub(super) fn conn_failed(
        &mut self,
        ci: usize,
        e: super::Error<'a, C::Error>,
    ) -> super::Error<'a, C::Error> {
        self.release(Release::Conn(ci), e.is_retriable());
        self.drop_conn(ci);
        e
    }

    /// [`conn_failed`](Self::conn_failed), and `Ok` if any batch will be sent again (the
    /// caller carries on), else `Err(e)`.
    pub(super) fn lost(&mut self, ci: usize, e: super::Error<'a, C::Error>) -> Res<'a, (), C> {
        warn!("a connection failed");
        let retried = self.release(Release::Conn(ci), e.is_retriable());
        self.drop_conn(ci);
        if retried > 0 { Ok(()) } else { Err(e) }
    }

    /// `leader` could not be reached (`e`): its waiting batches are sent again later if `e`
    /// is retriable and they have retries left, else failed. How many were concerned, or
    /// `Err(e)` if none will be sent again.
    pub(super) fn unreachable(
        &mut self,
        leader: i32,
        e: super::Error<'a, C::Error>,
    ) -> Res<'a, u32, C> {
        warn!("a partition leader could not be reached");
        let retried = self.release(Release::Leader(leader), e.is_retriable());
        if retried > 0 { Ok(retried) } else { Err(e) }
    }

    /// The batches waiting for a partition without a leader (-1): each waits a back-off
    /// (`retry.backoff.ms` doubling to `retry.backoff.max.ms`, per wait) and a metadata
    /// refresh, spending no retry, while `delivery.timeout.ms` allows (the Java client bounds
    /// this wait by the delivery timeout alone); past it, it fails
    /// ([`NotSent`](DeliveryError::NotSent) unless it was written before). How many wait, or
    /// LEADER_NOT_AVAILABLE for the first partition whose batches failed and none waits.
    pub(super) fn await_leader(&mut self) -> Res<'a, u32, C> {
        let mut waiting = 0;
        let mut failed = None;
        for si in 0..B {
            if !(self.slots.get(si).is_some_and(|s| s.is_waiting()) && self.leader_of(si) < 0) {
                continue;
            }
            let Some((opened, waits, topic, partition)) = self
                .slots
                .get(si)
                .map(|s| (s.opened_ms, s.leader_waits, s.topic, s.partition))
            else {
                continue;
            };
            let wait = self.back_off_ms(u32::from(waits) + 1);
            let now = self.clock.now_ms();
            let age = now.saturating_sub(opened);
            if age.saturating_add(u64::from(wait)) < u64::from(self.config.delivery_timeout_ms) {
                let round = self.slots.iter().any(|s| s.retrying);
                let due = now + u64::from(wait);
                self.retry_due_ms = if round {
                    self.retry_due_ms.max(due)
                } else {
                    due
                };
                if let Some(slot) = self.slots.get_mut(si) {
                    slot.retrying = true;
                    slot.leader_waits = waits.saturating_add(1);
                }
                waiting += 1;
            } else {
                warn!("a partition had no leader within delivery.timeout.ms");
                self.give_up(si);
                failed.get_or_insert((topic, partition));
            }
        }
        match failed {
            Some((topic, partition)) if waiting == 0 => Err(super::Error::Broker {
                api: crate::protocol::ApiKey::Metadata,
                code: ErrorCode::LeaderNotAvailable,
                topic: self.metadata.topic_at(topic).map(|t| t.name),
                partition: Some(partition as i32),
            }),
            _ => Ok(waiting.max(u32::from(failed.is_some()))),
        }
    }

    /// The batches `which` names: each marked to be sent again if `retriable` and it may,
    /// else failed. How many will be sent again.
    pub(super) fn release(&mut self, which: Release, retriable: bool) -> u32 {
        let mut retried = 0;
        for si in 0..B {
            let concerned = match which {
                Release::Conn(ci) => self
                    .slots
                    .get(si)
                    .is_some_and(|s| s.sent.is_some_and(|(c, _)| usize::from(c) == ci)),
                Release::Leader(leader) => {
                    self.slots.get(si).is_some_and(|s| s.is_waiting())
                        && self.leader_of(si) == leader
                }
                #[cfg(feature = "idempotence")]
                Release::Waiting => self.slots.get(si).is_some_and(|s| s.is_waiting()),
            };
            if !concerned {
                continue;
            }
            if retriable && self.may_retry(si) {
                self.mark_retry(si);
                retried += 1;
            } else {
                self.give_up(si);
            }
        }
        retried
    }

    /// Fails slot `si`'s batch for good without an answer from the broker:
    /// [`DeliveryError::NoResponse`] if it was ever written to a connection (it may be
    /// stored), else [`DeliveryError::NotSent`]. With idempotence, a batch never written
    /// leaves a gap in its partition's sequence (its numbers were taken when it was sealed):
    /// the epoch is bumped. One written may have been stored: as in the Java client (an
    /// expired batch that was sent is only marked unresolved, never renumbered), nothing is
    /// renumbered for it, since renumbering the partition's other unacknowledged batches
    /// would store again those of them that were stored; if it was not stored, the broker
    /// answers the partition's next batch OUT_OF_ORDER_SEQUENCE_NUMBER, which bumps.
    pub(super) fn give_up(&mut self, si: usize) {
        let Some(slot) = self.slots.get(si) else {
            return;
        };
        let (partition, written) = (slot.partition, slot.written);
        let error = if written {
            DeliveryError::NoResponse { partition }
        } else {
            DeliveryError::NotSent { partition }
        };
        if !written {
            self.request_bump(si);
        }
        self.tally.failed_batches += 1;
        self.finish_slot(si, Err(error));
    }
}

/// Which batches [`Producer::release`] concerns.
#[derive(Clone, Copy)]
pub(super) enum Release {
    /// Those in flight on this connection.
    Conn(usize),
    /// Those waiting to be sent to this leader.
    Leader(i32),
    /// Every batch waiting to be sent.
    #[cfg(feature = "idempotence")]
    Waiting,
}
