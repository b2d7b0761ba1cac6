//! The Produce request: written in pieces (prefix from TX, batches from their buffers), and
//! its response applied to the batches it carried.

use embedded_nal_async::{Dns, TcpConnect};

use super::delivery::FlushSummary;
use super::producer::{Producer, Res};
use super::slot::{Region, Slot};
use super::{Acks, Clock, Delay, DeliveryError, Error};
use crate::partition::Partitioner;
use crate::protocol::{
    ApiKey, ErrorCode, InFlightRequest, ProduceRequest, Request, RequestHeader, codec,
};
use crate::wire::{EncodeError, Writer};

pub(super) fn put_len(w: &mut Writer<'_>, n: usize, flexible: bool) -> Result<(), EncodeError> {
    if flexible {
        w.put_compact_array_len(n)
    } else {
        w.put_array_len(n)
    }
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
    /// Sends one Produce request with every sealed batch that `leader` leads.
    pub(super) async fn produce_to(
        &mut self,
        leader: i32,
        summary: &mut FlushSummary,
    ) -> Res<'a, (), C> {
        let addr = match self.metadata.broker(leader) {
            Some(Some(addr)) => Some(addr),
            Some(None) => return Err(Error::UnresolvedLeader { node_id: leader }),
            // No known leader: the bootstrap connection (the broker will say if it is wrong).
            None => None,
        };
        self.connect(addr).await?;
        let version = self.version(ApiKey::Produce)?;
        let id = self.ids.next_id();
        // The request prefix and the pieces between batches go to `tx`; `cuts[k] = (at, slot)`:
        // batch `slot` goes on the wire after `tx[..at]`.
        let mut cuts = [(0usize, 0usize); B];
        let mut n_cuts = 0;
        let (used, total) = {
            let mut w = Writer::new(&mut *self.tx);
            let cuts = &mut cuts;
            let slots = &self.slots;
            let metadata = &self.metadata;
            let sealed_for = |si: usize, ti: usize| {
                slots.get(si).is_some_and(|s| {
                    s.topic == ti
                        && !s.retrying
                        && matches!(s.region, Region::Sealed(..))
                        && metadata
                            .topic_at(s.topic)
                            .and_then(|t| t.leader(s.partition))
                            .unwrap_or(-1)
                            == leader
                })
            };
            let encoded: Result<(usize, usize), EncodeError> = (|| {
                let flexible = version >= 9;
                let size = w.reserve::<4>()?;
                let header = RequestHeader {
                    request_api_key: ApiKey::Produce.key(),
                    request_api_version: version,
                    ..RequestHeader::new(id, Some(self.config.client_id))
                };
                crate::protocol::Encode::encode(
                    &header,
                    &mut w,
                    ProduceRequest::request_header_version(version),
                )?;
                codec::put_nullable_string(
                    &mut w,
                    None,
                    flexible,
                    true,
                    "transactional_id",
                    version,
                )?;
                w.put_i16(self.config.acks.wire())?;
                w.put_i32(self.config.request_timeout_ms as i32)?;
                let topics: usize = (0..T)
                    .filter(|&ti| (0..B).any(|si| sealed_for(si, ti)))
                    .count();
                put_len(&mut w, topics, flexible)?;
                let mut batches_len = 0usize;
                for ti in 0..T {
                    let count = (0..B).filter(|&si| sealed_for(si, ti)).count();
                    if count == 0 {
                        continue;
                    }
                    let name = metadata.topic_at(ti).map_or("", |t| t.name);
                    codec::put_string(&mut w, name, flexible)?;
                    put_len(&mut w, count, flexible)?;
                    for si in (0..B).filter(|&si| sealed_for(si, ti)) {
                        let Some(slot) = slots.get(si) else { continue };
                        let Region::Sealed(_, len) = slot.region else {
                            continue;
                        };
                        w.put_i32(slot.partition as i32)?;
                        if flexible {
                            let v = u32::try_from(len).ok().and_then(|l| l.checked_add(1));
                            w.put_uvarint(v.ok_or(EncodeError::TooLong {
                                what: "records",
                                len,
                                max: u32::MAX as usize - 1,
                            })?)?;
                        } else {
                            w.put_i32(len as i32)?;
                        }
                        if let Some(cut) = cuts.get_mut(n_cuts) {
                            *cut = (w.position(), si);
                            n_cuts += 1;
                        }
                        batches_len += len;
                        if flexible {
                            w.put_empty_tagged_fields()?;
                        }
                    }
                    if flexible {
                        w.put_empty_tagged_fields()?;
                    }
                }
                if flexible {
                    w.put_empty_tagged_fields()?;
                }
                let total = w.position() + batches_len;
                let body = total - 4;
                w.patch_i32(
                    size,
                    i32::try_from(body).map_err(|_| EncodeError::TooLong {
                        what: "frame",
                        len: body,
                        max: i32::MAX as usize,
                    })?,
                )?;
                Ok((w.position(), total))
            })();
            encoded.map_err(|error| Error::Encode {
                api: ApiKey::Produce,
                error,
            })?
        };
        let _ = total;
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::NoBroker { tried: 0 });
        };
        conn.drain(&mut self.reader)?;
        // The frame: tx pieces and batches, in order.
        let mut from = 0;
        for &(at, si) in cuts.iter().take(n_cuts) {
            conn.write(self.tx.get(from..at).unwrap_or_default())
                .await?;
            if let Some(Slot {
                region: Region::Sealed(buf, len),
                ..
            }) = self.slots.get(si)
            {
                conn.write(buf.get(..*len).unwrap_or_default()).await?;
            }
            from = at;
        }
        conn.write(self.tx.get(from..used).unwrap_or_default())
            .await?;
        conn.flush().await?;
        summary.requests += 1;
        self.produce_requests = self.produce_requests.wrapping_add(1);
        for &(_, si) in cuts.iter().take(n_cuts) {
            summary.batches += 1;
            summary.records += self.slots.get(si).map_or(0, |s| s.records);
        }

        if self.config.acks == Acks::None {
            conn.sent_unacknowledged(id);
            for &(_, si) in cuts.iter().take(n_cuts) {
                self.finish_slot(si, Ok(None));
            }
            return Ok(());
        }
        Self::await_response(
            conn,
            &mut self.reader,
            &mut self.delay,
            self.config.request_timeout_ms,
            InFlightRequest {
                correlation_id: id,
                api_key: ApiKey::Produce,
                api_version: version,
                token: 0,
            },
        )
        .await?;
        // Outcomes are gathered first (the response borrows the receive buffer), then applied.
        let mut results = [Err(DeliveryError::NoResponse { partition: 0 }); B];
        let decoded = match self.reader.frame() {
            Some(frame) => ProduceRequest::decode_response(frame, version).map(|(_, response)| {
                for (k, &(_, si)) in cuts.iter().take(n_cuts).enumerate() {
                    let Some(slot) = self.slots.get(si) else {
                        continue;
                    };
                    let name = self.metadata.topic_at(slot.topic).map_or("", |t| t.name);
                    let partition = slot.partition;
                    let result = match response.partition(name, partition as i32) {
                        None => Err(DeliveryError::MissingFromResponse { partition }),
                        Some(p) => {
                            let code = ErrorCode::from_code(p.error_code);
                            // A batch sent again whose first copy was stored: delivered (the
                            // offset is the broker's, -1 when it does not say).
                            if code == ErrorCode::DuplicateSequenceNumber {
                                Ok(Some((p.base_offset, p.log_append_time_ms)))
                            } else if code.is_error() {
                                Err(DeliveryError::Broker { code, partition })
                            } else {
                                Ok(Some((p.base_offset, p.log_append_time_ms)))
                            }
                        }
                    };
                    if let Some(r) = results.get_mut(k) {
                        *r = result;
                    }
                }
            }),
            None => Ok(()),
        };
        self.reader.consume();
        decoded.map_err(|error| Error::Decode {
            api: ApiKey::Produce,
            error,
        })?;
        for (k, &(_, si)) in cuts.iter().take(n_cuts).enumerate() {
            let result = results
                .get(k)
                .copied()
                .unwrap_or(Err(DeliveryError::NoResponse { partition: 0 }));
            let may_retry = self.may_retry(si);
            if let Err(DeliveryError::Broker { code, .. }) = result
                && code.is_retriable()
                && may_retry
                && let Some(slot) = self.slots.get_mut(si)
            {
                // Kept sealed, same bytes: sent again after back-off and a metadata refresh.
                slot.attempts += 1;
                slot.retrying = true;
                summary.retries += 1;
                continue;
            }
            if result.is_err() {
                summary.failed_batches += 1;
            }
            self.finish_slot(si, result);
        }
        Ok(())
    }
}
