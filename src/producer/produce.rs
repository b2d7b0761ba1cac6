//! The Produce request: written in pieces (prefix from TX, batches from their buffers), and
//! its response applied to the batches it carried.

use embedded_nal_async::{Dns, TcpConnect};

use super::connection::with_timeout;
use super::producer::{Producer, Res};
use super::requests;
use super::slot::{Region, Slot};
use super::{Acks, Clock, Delay, DeliveryError, Error};
use crate::partition::Partitioner;
use crate::protocol::{ApiKey, ErrorCode, InFlightRequest, RequestHeader};

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Writes one Produce request to `leader` with the next batch of each of its partitions
    /// that may go now, without waiting for the answer (but for room in the connection's
    /// window of `max.in.flight.requests.per.connection`). How many batches it moved on
    /// (written, or marked to be sent again / failed because the leader is unreachable); 0
    /// when none was ready.
    pub(super) async fn produce_to(&mut self, leader: i32) -> Res<'a, u32, C> {
        if leader < 0 {
            // No leader (an election, LEADER_NOT_AVAILABLE): as in the Java client, whose
            // accumulator does not drain a partition without a leader, the batches wait for
            // one rather than go to a broker that would refuse them and spend a retry each.
            return self.await_leader();
        }
        let addr = match self.metadata.broker(leader) {
            Some(Some(addr)) => Some(addr),
            Some(None) => {
                return self.unreachable(leader, Error::UnresolvedLeader { node_id: leader });
            }
            // A leader the broker list does not name: the bootstrap connection (the broker
            // will say if it is wrong).
            None => None,
        };
        let ci = match self.connect(addr).await {
            Ok(ci) => ci,
            Err(e) => return self.unreachable(leader, e),
        };
        // Room in the window: read the oldest answers first.
        let window = usize::from(self.config.max_in_flight.max(1));
        while self
            .conns
            .get(ci)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.in_flight.len() >= window)
        {
            match self.receive(ci).await {
                Ok(answered) => {
                    self.on_response(ci, answered)?;
                    if self.conns.get(ci).and_then(Option::as_ref).is_none() {
                        // An undecodable answer dropped the connection: its batches go again.
                        return Ok(1);
                    }
                }
                Err(e) => {
                    self.lost(ci, e)?;
                    return Ok(1);
                }
            }
        }
        if self.bump_due() {
            // Answers read above broke a sequence: the epoch is bumped before anything else goes.
            return Ok(0);
        }
        self.settle_partial(ci).await?;
        let mut chosen = [false; B];
        for (si, c) in chosen.iter_mut().enumerate() {
            *c = self.ready_for(si, leader, ci);
        }
        if !chosen.contains(&true) {
            return Ok(0);
        }
        // KIP-219: a throttled broker is not sent to before its throttle time has passed.
        let until = self
            .conns
            .get(ci)
            .and_then(Option::as_ref)
            .map_or(0, |c| c.throttled_until_ms);
        let now = self.clock.now_ms();
        if until > now {
            let ms = u32::try_from(until - now).unwrap_or(u32::MAX);
            self.delay.delay_ms(ms).await;
        }
        let version = match self.version(ci, ApiKey::Produce) {
            Ok(v) => v,
            Err(e) => return Err(self.conn_failed(ci, e)),
        };
        let id = self.ids.next_id();
        // The request prefix and the pieces between batches go to `tx`; `cuts[k] = (at, slot)`:
        // batch `slot` goes on the wire after `tx[..at]`.
        let mut cuts = [(0usize, 0usize); B];
        let mut n_cuts = 0;
        let used = {
            let cuts = &mut cuts;
            let slots = &self.slots;
            let metadata = &self.metadata;
            let sealed_for = |si: usize, ti: usize| {
                chosen.get(si).copied().unwrap_or(false)
                    && slots.get(si).is_some_and(|s| s.topic == ti)
            };
            let flexible = version >= 9;
            let header = RequestHeader::new(id, Some(self.config.client_id));
            let encoded = requests::start(&mut *self.tx, ApiKey::Produce, &header, version)
                .and_then(|mut o| {
                    // transactional_id: null
                    if flexible {
                        o.bytes(&[0]);
                    } else {
                        o.bytes(&(-1i16).to_be_bytes());
                    }
                    o.bytes(&self.config.acks.wire().to_be_bytes());
                    o.bytes(&(self.config.request_timeout_ms as i32).to_be_bytes());
                    let topics = (0..T)
                        .filter(|&ti| (0..B).any(|si| sealed_for(si, ti)))
                        .count();
                    o.array_len(topics, flexible);
                    let mut batches_len = 0usize;
                    for ti in 0..T {
                        let count = (0..B).filter(|&si| sealed_for(si, ti)).count();
                        if count == 0 {
                            continue;
                        }
                        let name = metadata.topic_at(ti).map_or("", |t| t.name);
                        if flexible {
                            o.compact(name);
                        } else {
                            o.string(Some(name));
                        }
                        o.array_len(count, flexible);
                        for si in (0..B).filter(|&si| sealed_for(si, ti)) {
                            let Some(slot) = slots.get(si) else { continue };
                            let Region::Sealed(_, len) = slot.region else {
                                continue;
                            };
                            o.bytes(&(slot.partition as i32).to_be_bytes());
                            // The records' length (a batch buffer's at most); the batch itself
                            // goes on the wire after this cut.
                            if flexible {
                                o.uvarint(u32::try_from(len).unwrap_or(u32::MAX - 1) + 1);
                            } else {
                                o.bytes(&i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes());
                            }
                            if let Some(cut) = cuts.get_mut(n_cuts) {
                                *cut = (o.position(), si);
                                n_cuts += 1;
                            }
                            batches_len += len;
                            if flexible {
                                o.bytes(&[0]); // the partition's tagged fields: none
                            }
                        }
                        if flexible {
                            o.bytes(&[0]); // the topic's tagged fields: none
                        }
                    }
                    if flexible {
                        o.bytes(&[0]); // no tagged fields
                    }
                    o.finish_with(batches_len)
                });
            encoded.map_err(|error| Error::Encode {
                api: ApiKey::Produce,
                error,
            })?
        };
        // Tied to the request before a byte is written: a failure from here on is the
        // connection's, and sends them again.
        for &(_, si) in cuts.iter().take(n_cuts) {
            if let Some(slot) = self.slots.get_mut(si) {
                slot.sent = Some((ci as u8, id));
                slot.written = true;
            }
        }
        if let Err(e) = self.write_request(ci, &cuts[..n_cuts.min(B)], used).await {
            self.lost(ci, e)?;
            return Ok(n_cuts as u32);
        }
        self.tally.requests += 1;
        self.produce_requests = self.produce_requests.wrapping_add(1);
        for &(_, si) in cuts.iter().take(n_cuts) {
            self.tally.batches += 1;
            self.tally.records += self.slots.get(si).map_or(0, |s| s.records);
        }
        let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) else {
            return Ok(n_cuts as u32);
        };
        if self.config.acks == Acks::None {
            conn.sent_unacknowledged(id);
            for &(_, si) in cuts.iter().take(n_cuts) {
                self.finish_slot(si, Ok(None));
            }
            return Ok(n_cuts as u32);
        }
        let expected = conn.expect(InFlightRequest {
            correlation_id: id,
            api_key: ApiKey::Produce,
            api_version: version,
            // When it was written: its answer is due `request.timeout.ms` after that.
            token: self.clock.now_ms() as u32,
        });
        if let Err(error) = expected {
            let broker = conn.addr;
            self.lost(ci, Error::Frame { broker, error })?;
        }
        Ok(n_cuts as u32)
    }

    /// Writes the frame: `tx` pieces and the batches of `cuts`, in order.
    async fn write_request(
        &mut self,
        ci: usize,
        cuts: &[(usize, usize)],
        used: usize,
    ) -> Res<'a, (), C> {
        self.drain_if_idle(ci)?;
        let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) else {
            return Err(Error::NoBroker { tried: 0 });
        };
        let broker = conn.addr;
        let (tx, slots) = (&*self.tx, &self.slots);
        let write = async move {
            // Piece 2k: TX up to cut k (its rest after the last); piece 2k + 1: cut k's batch.
            // One write, awaited in one place (each await of it costs a copy of its polling).
            let mut from = 0;
            for piece in 0..=2 * cuts.len() {
                let bytes = if piece % 2 == 0 {
                    let at = cuts.get(piece / 2).map_or(used, |&(at, _)| at);
                    let bytes = tx.get(from..at).unwrap_or_default();
                    from = at;
                    bytes
                } else {
                    match cuts.get(piece / 2).and_then(|&(_, si)| slots.get(si)) {
                        Some(Slot {
                            region: Region::Sealed(buf, len),
                            ..
                        }) => buf.get(..*len).unwrap_or_default(),
                        _ => &[],
                    }
                };
                conn.write(bytes).await?;
            }
            conn.flush().await
        };
        // A broker that stops reading (a full TCP window) must not hold the producer forever.
        let ms = self.config.request_timeout_ms;
        match with_timeout(&mut self.delay, ms, write).await {
            Some(result) => result,
            None => Err(Error::Timeout {
                api: ApiKey::Produce,
                broker,
                ms,
            }),
        }
    }

    /// Applies the answer to request `answered` of connection `ci`, complete in the reader:
    /// a Produce response decides its batches' fate. A response that cannot be decoded is
    /// treated like a lost connection (as the Java client does with any broken response): the
    /// connection is dropped and the batches in flight on it are sent again within their
    /// retries (the records may be stored; with idempotence the resend is safe). `Ok` if the
    /// response was applied or a batch will be sent again, else the decode error.
    pub(super) fn on_response(&mut self, ci: usize, answered: InFlightRequest) -> Res<'a, (), C> {
        match self.answer(ci, answered) {
            (_, Ok(())) => Ok(()),
            (retried, Err(_)) if retried > 0 => Ok(()),
            (_, Err(e)) => Err(e),
        }
    }

    /// [`on_response`](Self::on_response) for a caller that still needs the connection (a
    /// round trip waiting for its own answer behind this one): an undecodable response is
    /// always an error, the connection being gone.
    pub(super) fn on_response_needing_conn(
        &mut self,
        ci: usize,
        answered: InFlightRequest,
    ) -> Res<'a, (), C> {
        self.answer(ci, answered).1
    }

    /// Applies the answer; on a decode failure drops the connection, marks its batches to be
    /// sent again (retriable: a broken response is the connection's fault, not the batch's),
    /// and gives the error with how many will be sent again (0 when applied).
    fn answer(&mut self, ci: usize, answered: InFlightRequest) -> (u32, Res<'a, (), C>) {
        if answered.api_key != ApiKey::Produce {
            self.reader.consume();
            return (0, Ok(()));
        }
        match self.apply_produce(ci, answered) {
            Ok(()) => (0, Ok(())),
            Err(e) => {
                warn!("a Produce response could not be decoded: its connection is dropped");
                let retried = self.release(super::retry::Release::Conn(ci), true);
                self.drop_conn(ci);
                (retried, Err(e))
            }
        }
    }

    fn apply_produce(&mut self, ci: usize, answered: InFlightRequest) -> Res<'a, (), C> {
        let version = answered.api_version;
        let tie = Some((ci as u8, answered.correlation_id));
        // Outcomes are gathered first (the response borrows the receive buffer), then applied.
        let mut results = [None; B];
        // The index, in the response, of the topic entry each slot's answer is looked for in:
        // the first one with its topic's name (as `ProduceResponse::partition` looks).
        let mut entry = [None; B];
        let slots = &self.slots;
        let metadata = &self.metadata;
        let decoded = match self.reader.frame() {
            Some(frame) => super::answers::produce(frame, version, &mut |topic, name, p| {
                for (si, slot) in slots.iter().enumerate() {
                    if slot.sent != tie
                        || metadata.topic_at(slot.topic).map_or("", |t| t.name) != name
                    {
                        continue;
                    }
                    let Some(e) = entry.get_mut(si) else { continue };
                    if *e.get_or_insert(topic) != topic
                        || p.index != slot.partition as i32
                        || results.get(si).is_some_and(Option::is_some)
                    {
                        continue;
                    }
                    let partition = slot.partition;
                    // From v5 on; -1 there: the broker did not know it.
                    let log_start = (version >= 5).then_some(p.log_start_offset);
                    let code = ErrorCode::from_code(p.error_code);
                    // A batch sent again whose first copy was stored: delivered (the offset is
                    // the broker's, -1 when it does not say).
                    let result = if code.is_error() && code != ErrorCode::DuplicateSequenceNumber {
                        Err(DeliveryError::Broker { code, partition })
                    } else {
                        Ok(Some((p.base_offset, p.log_append_time_ms)))
                    };
                    if let Some(r) = results.get_mut(si) {
                        *r = Some((result, log_start));
                    }
                }
            })
            .inspect(|_| {
                // A slot of this request its answer does not name.
                for (si, slot) in slots.iter().enumerate() {
                    if slot.sent == tie
                        && let Some(r @ None) = results.get_mut(si)
                    {
                        let partition = slot.partition;
                        *r = Some((Err(DeliveryError::MissingFromResponse { partition }), None));
                    }
                }
            }),
            None => Ok(0),
        };
        self.reader.consume();
        let throttle_ms = decoded.map_err(|error| Error::Decode {
            api: ApiKey::Produce,
            broker: self.conn_addr(ci),
            error,
        })?;
        if throttle_ms > 0
            && let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut)
        {
            conn.throttled_until_ms = self.clock.now_ms() + throttle_ms as u64;
        }
        for (si, result) in results.iter().enumerate() {
            let Some((result, log_start)) = *result else {
                continue;
            };
            if let Some(slot) = self.slots.get_mut(si) {
                slot.sent = None;
            }
            self.settle_batch(si, result, log_start);
        }
        Ok(())
    }
}
