//! Sending what is due: [`Producer::poll`](super::Producer::poll) and
//! [`Producer::flush`](super::Producer::flush), with retries.

use embedded_nal_async::{Dns, TcpConnect};

use super::delivery::FlushSummary;
use super::producer::{Producer, Res};
use super::slot::Region;
use super::{Clock, Delay, DeliveryError};
use crate::partition::Partitioner;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N>
    Producer<'a, C, K, D, P, T, B, R, N>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Sends batches whose `linger.ms` has passed, and drains what the broker sent unasked
    /// (stray `acks=0` answers) without waiting. Call it when idle.
    pub async fn poll(&mut self) -> Res<'a, (), C> {
        if let Some(conn) = self.conn.as_mut()
            && conn.in_flight.is_empty()
            && let Err(e) = conn.drain(&mut self.reader)
        {
            self.disconnect();
            return Err(e);
        }
        let now = self.clock.now_ms();
        let linger = u64::from(self.config.linger_ms);
        // A full (sealed) batch goes at once; an open one when it has lingered long enough.
        let due = self.slots.iter().any(|s| match s.region {
            Region::Sealed(..) => !s.retrying,
            Region::Open(_) => now.saturating_sub(s.opened_ms) >= linger,
            _ => false,
        });
        if due {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends every batch and, with `acks` ≠ 0, waits for the answers. Each record's outcome is
    /// then known to [`delivery`](Self::delivery) and [`take_reports`](Self::take_reports).
    ///
    /// Retriable failures (a partition's retriable error code, a lost connection, a timeout)
    /// are retried as `retries`, `retry.backoff.ms` and `delivery.timeout.ms` allow, within
    /// this call. An `Err` means a request failed for good: the batches it carried are reported
    /// failed ([`DeliveryError::NoResponse`]), the connection is closed, and batches for other
    /// leaders not yet sent stay for the next flush.
    pub async fn flush(&mut self) -> Res<'a, FlushSummary, C> {
        for si in 0..B {
            self.seal(si);
        }
        let mut summary = FlushSummary::default();
        loop {
            // Every batch due now, one request per leader.
            loop {
                let first = self.slots.iter().find_map(|s| match s.region {
                    Region::Sealed(..) if !s.retrying => Some((s.topic, s.partition)),
                    _ => None,
                });
                let Some((topic, partition)) = first else {
                    break;
                };
                let leader = self
                    .metadata
                    .topic_at(topic)
                    .and_then(|t| t.leader(partition))
                    .unwrap_or(-1);
                match self.produce_to(leader, &mut summary).await {
                    Ok(()) => {
                        // Every batch the request carried has an outcome or waits for a retry;
                        // should one not (a bug), it fails rather than being sent forever.
                        if let Some(si) = self.slots.iter().position(|s| {
                            !s.retrying
                                && s.topic == topic
                                && s.partition == partition
                                && matches!(s.region, Region::Sealed(..))
                        }) {
                            summary.failed_batches += 1;
                            self.finish_slot(si, Err(DeliveryError::NoResponse { partition }));
                        }
                    }
                    Err(e) => {
                        warn!("a Produce request failed");
                        self.disconnect();
                        let retry = e.is_retriable();
                        if !self.retry_or_fail(leader, retry, &mut summary) {
                            return Err(e);
                        }
                    }
                }
            }
            // Then the batches to send again: back off, refresh their topics' metadata.
            let attempt = self
                .slots
                .iter()
                .filter(|s| s.retrying)
                .map(|s| s.attempts)
                .max();
            let Some(attempt) = attempt else {
                return Ok(summary);
            };
            self.delay.delay_ms(self.config.backoff_ms(attempt)).await;
            for ti in 0..T {
                if !self.slots.iter().any(|s| s.retrying && s.topic == ti) {
                    continue;
                }
                if let Some(name) = self.metadata.topic_at(ti).map(|t| t.name) {
                    // A failed refresh keeps the old metadata: the retry will tell.
                    if self.fetch_metadata(name).await.is_err() {
                        warn!("metadata refresh before a retry failed");
                    }
                }
            }
            for slot in &mut self.slots {
                slot.retrying = false;
            }
        }
    }

    /// After a failed request to `leader`: each batch it carried is marked for another attempt
    /// if the failure is `retriable` and the batch has retries left, else failed ([`DeliveryError::NoResponse`]). Whether any will be
    /// retried.
    pub(super) fn retry_or_fail(
        &mut self,
        leader: i32,
        retriable: bool,
        summary: &mut FlushSummary,
    ) -> bool {
        let mut any = false;
        for si in 0..B {
            if !self.sealed_for(si, leader) {
                continue;
            }
            let may_retry = self.may_retry(si);
            let Some(slot) = self.slots.get_mut(si) else {
                continue;
            };
            if retriable && may_retry {
                slot.attempts += 1;
                slot.retrying = true;
                summary.retries += 1;
                any = true;
            } else {
                let partition = slot.partition;
                summary.failed_batches += 1;
                self.finish_slot(si, Err(DeliveryError::NoResponse { partition }));
            }
        }
        any
    }
}
