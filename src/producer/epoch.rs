//! The producer id and epoch of an idempotent producer (feature `idempotence`): asked for with
//! InitProducerId on the first connection, and bumped (KIP-360) when a partition's sequence breaks,
//! the undelivered batches of the broken partitions then renumbered in place. Its own module so
//! that a build without idempotence leaves all of it out.

use embedded_nal_async::{Dns, TcpConnect};

use super::producer::{Producer, Res};
use super::retry::Release;
use super::slot::Region;
use super::{Clock, Delay, Error};
use crate::partition::Partitioner;
use crate::protocol::{ApiKey, ErrorCode, InitProducerIdRequest, Request};

/// Offsets in a record batch (v2) of the fields an epoch bump rewrites, and where the CRC
/// starts covering.
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;

/// Gives a sealed batch a new producer id, epoch and base sequence, and its CRC again (the
/// CRC covers them). Only an epoch bump does this: a batch otherwise always goes out with the
/// bytes it was sealed with.
pub(super) fn rewrite_producer_state(batch: &mut [u8], id: i64, epoch: i16, sequence: i32) {
    let fields: [(usize, &[u8]); 3] = [
        (PRODUCER_ID_AT, &id.to_be_bytes()),
        (PRODUCER_EPOCH_AT, &epoch.to_be_bytes()),
        (BASE_SEQUENCE_AT, &sequence.to_be_bytes()),
    ];
    for (at, bytes) in fields {
        if let Some(field) = batch.get_mut(at..at + bytes.len()) {
            field.copy_from_slice(bytes);
        }
    }
    let crc = crate::record::crc32c(batch.get(ATTRIBUTES_AT..).unwrap_or_default());
    if let Some(field) = batch.get_mut(CRC_AT..CRC_AT + 4) {
        field.copy_from_slice(&crc.to_be_bytes());
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
    /// Asks for a producer id and epoch (idempotence without transactions) on connection
    /// `ci`. With `current` (an epoch bump, KIP-360) and InitProducerId v3 or later, the
    /// broker is given the id and epoch in use and answers with the epoch bumped; an older
    /// broker gives a new producer id instead.
    pub(super) async fn init_producer_id(
        &mut self,
        ci: usize,
        current: Option<(i64, i16)>,
    ) -> Res<'a, (), C> {
        let version = self.version(ci, ApiKey::InitProducerId)?;
        let (producer_id, producer_epoch) = match current {
            Some(c) if version >= 3 => c,
            _ => (-1, -1),
        };
        let request = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: -1,
            producer_id,
            producer_epoch,
            ..Default::default()
        };
        self.round_trip(ci, &request, version).await?;
        let result = match self
            .reader
            .frame()
            .map(|frame| InitProducerIdRequest::decode_response(frame, version))
        {
            Some(Ok((_, r))) => {
                let code = ErrorCode::from_code(r.error_code);
                if code.is_error() {
                    Err(Error::Broker {
                        api: ApiKey::InitProducerId,
                        code,
                        topic: None,
                        partition: None,
                    })
                } else {
                    Ok((r.producer_id, r.producer_epoch))
                }
            }
            Some(Err(error)) => Err(Error::Decode {
                api: ApiKey::InitProducerId,
                broker: self.conn_addr(ci),
                error,
            }),
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        self.producer_id = Some(result?);
        debug!("got a producer id");
        Ok(())
    }

    /// The epoch bump (KIP-360) of an idempotent producer whose sequence broke: once every
    /// answer in flight is in, InitProducerId with the current id and epoch gives the next
    /// epoch (or, from a broker that does not bump, a new id). The undelivered batches of the
    /// partitions that broke are numbered again from 0 in the order they were filled (their
    /// CRC computed again), as the broker expects of a new epoch; other partitions' sealed
    /// batches keep theirs (the broker still knows the old epoch there) and their next batches
    /// start at 0 in the new epoch.
    pub(super) async fn bump(&mut self) -> Res<'a, (), C> {
        for ci in 0..L {
            self.settle(ci).await?;
        }
        for si in 0..B {
            self.seal(si);
        }
        let ci = match self.connect(None).await {
            Ok(ci) => ci,
            Err(e) => return self.bump_failed(e),
        };
        let current = self.producer_id;
        if let Err(e) = self.init_producer_id(ci, current).await {
            // A broker that refuses to bump this id (one restarted without the producer
            // states, say: Tansu answers UNKNOWN_SERVER_ERROR) is asked for a new producer id,
            // as good for the broken partitions: their batches are numbered from 0 under it.
            // Other partitions' sealed batches keep the old id, whose state the broker has
            // or (UNKNOWN_PRODUCER_ID) has not, which bumps again.
            let refused = matches!(
                e,
                Error::Broker {
                    api: ApiKey::InitProducerId,
                    ..
                }
            );
            let fresh = if refused {
                warn!("the broker refused the epoch bump; asking for a new producer id");
                self.init_producer_id(ci, None).await
            } else {
                Err(e)
            };
            if let Err(e) = fresh {
                let e = self.conn_failed(ci, e);
                return self.bump_failed(e);
            }
        }
        self.bump_epoch = false;
        let broken = core::mem::replace(&mut self.bump_partitions, [0; T]);
        let Some((id, epoch)) = self.producer_id else {
            return Ok(());
        };
        debug!("producer epoch bumped");
        // Every partition's next batch starts at 0 in the new epoch.
        for ti in 0..T {
            if let Some(t) = self.metadata.topic_at_mut(ti) {
                t.next_sequence = [0; super::MAX_PARTITIONS];
            }
        }
        let is_broken = |s: &super::slot::Slot<'_>| {
            broken
                .get(s.topic)
                .is_some_and(|bits| bits & 1u32.checked_shl(s.partition).unwrap_or(0) != 0)
        };
        // The broken partitions' batches, oldest first, take sequences from 0.
        let mut done = [false; B];
        loop {
            let next = (0..B)
                .filter(|&si| !done.get(si).copied().unwrap_or(true))
                .filter(|&si| {
                    self.slots
                        .get(si)
                        .is_some_and(|s| s.is_sealed() && is_broken(s))
                })
                .min_by(|&a, &b| {
                    let (Some(sa), Some(sb)) = (self.slots.get(a), self.slots.get(b)) else {
                        return core::cmp::Ordering::Equal;
                    };
                    if sa.older_than(sb) {
                        core::cmp::Ordering::Less
                    } else {
                        core::cmp::Ordering::Greater
                    }
                });
            let Some(si) = next else {
                return Ok(());
            };
            if let Some(d) = done.get_mut(si) {
                *d = true;
            }
            let Some(slot) = self.slots.get_mut(si) else {
                continue;
            };
            let Some(seq) = self
                .metadata
                .topic_at_mut(slot.topic)
                .and_then(|t| t.next_sequence.get_mut(slot.partition as usize))
            else {
                continue;
            };
            if let Region::Sealed(buf, len) = &mut slot.region
                && let Some(batch) = buf.get_mut(..*len)
            {
                rewrite_producer_state(batch, id, epoch, *seq);
            }
            let next = i64::from(*seq) + i64::from(slot.records);
            *seq = (next % (i64::from(i32::MAX) + 1)) as i32;
        }
    }

    /// The epoch bump (or the producer id it needs) failed with `e`: the batches waiting to be
    /// sent cannot go before it (a broken partition's would be refused, and the others would
    /// be numbered in an epoch about to end). Each is sent again after a back-off (the bump is
    /// tried again first) if `e` is retriable and it has retries and time left, else failed.
    /// `Err(e)` only when batches failed and none will be sent again; with nothing waiting the
    /// bump is only left for the next request.
    fn bump_failed(&mut self, e: Error<'a, C::Error>) -> Res<'a, (), C> {
        warn!("the producer epoch could not be bumped");
        let waiting = self.slots.iter().filter(|s| s.is_waiting()).count();
        let retried = self.release(Release::Waiting, e.is_retriable());
        if waiting == 0 || retried > 0 {
            Ok(())
        } else {
            Err(e)
        }
    }
}
