//! The connections: opened to a leader or any broker (within `request.timeout.ms`), versions
//! negotiated with ApiVersions, requests written and their answers read in order, a partial
//! answer of one connection always finished before another connection is read.

use core::net::SocketAddr;

use embedded_nal_async::{AddrType, Dns, TcpConnect};

use super::connection::{Connection, with_timeout};
use super::producer::{Producer, Res};
use super::{Clock, Delay, Error};
use crate::partition::Partitioner;
use crate::protocol::{
    ApiKey, ApiVersionsRequest, ErrorCode, InFlightRequest, Request, RequestHeader,
};
use crate::wire::EncodeError;

/// The APIs a producer without idempotence cannot do without.
const REQUIRED: [ApiKey; 3] = [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce];

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// The version of `api` negotiated on connection `ci`.
    pub(super) fn version(&self, ci: usize, api: ApiKey) -> Res<'a, i16, C> {
        let versions = self
            .conns
            .get(ci)
            .and_then(Option::as_ref)
            .and_then(|c| c.versions.as_ref());
        match versions {
            Some(v) => Ok(v.version(api)?),
            None => Err(crate::protocol::VersionError::NotSupportedByBroker { api }.into()),
        }
    }

    /// The index of an open connection: to `addr` if given (a leader), else to any broker
    /// (one already open, or the bootstrap servers in order). A new one goes in a free place,
    /// or in place of one with nothing in flight (waiting for one's answers if all are busy),
    /// and has its versions negotiated.
    pub(super) async fn connect(&mut self, addr: Option<SocketAddr>) -> Res<'a, usize, C> {
        let open = self
            .conns
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| addr.is_none_or(|a| a == c.addr)));
        if let Some(ci) = open {
            return Ok(ci);
        }
        let ci = self.free_conn().await?;
        let servers = self.config.bootstrap_servers;
        let one = [addr.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))];
        let candidates: &[SocketAddr] = if addr.is_some() { &one } else { servers };
        let mut last = Error::NoBroker {
            tried: candidates.len(),
        };
        for &candidate in candidates {
            match self.open(ci, candidate).await {
                Ok(()) => return Ok(ci),
                Err(e) => {
                    warn!("a broker could not be used");
                    self.drop_conn(ci);
                    last = e;
                }
            }
        }
        if addr.is_some() {
            return Err(last);
        }
        for &(host, port) in self.config.bootstrap_hosts {
            let ip = match self.dns.get_host_by_name(host, AddrType::Either).await {
                Ok(ip) => ip,
                Err(_) => {
                    last = Error::UnresolvedHost { host };
                    continue;
                }
            };
            match self.open(ci, SocketAddr::new(ip, port)).await {
                Ok(()) => return Ok(ci),
                Err(e) => {
                    warn!("a broker could not be used");
                    self.drop_conn(ci);
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// A place for a new connection: a free one, else one with nothing in flight (closed),
    /// else the first, once its answers are in.
    async fn free_conn(&mut self) -> Res<'a, usize, C> {
        if let Some(ci) = self.conns.iter().position(Option::is_none) {
            return Ok(ci);
        }
        let idle = self
            .conns
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.in_flight.is_empty()));
        let ci = match idle {
            Some(ci) => ci,
            None => {
                self.settle(0).await?;
                0
            }
        };
        self.drop_conn(ci);
        Ok(ci)
    }

    /// Opens connection `ci` to `addr` (within `request.timeout.ms`) and negotiates versions
    /// with ApiVersions.
    async fn open(&mut self, ci: usize, addr: SocketAddr) -> Res<'a, (), C> {
        self.drop_conn(ci);
        let ms = self.config.request_timeout_ms;
        let conn =
            match with_timeout(&mut self.delay, ms, Connection::open(self.connector, addr)).await {
                Some(conn) => conn?,
                None => return Err(Error::ConnectTimeout { broker: addr, ms }),
            };
        let Some(place) = self.conns.get_mut(ci) else {
            return Err(Error::NoBroker { tried: 0 });
        };
        *place = Some(conn);
        let version = ApiVersionsRequest::versions().max;
        let (id, n) = self.encoded(ApiKey::ApiVersions, |out, header| {
            super::requests::api_versions(out, header, version)
        })?;
        self.exchange(ci, ApiKey::ApiVersions, version, id, n)
            .await?;
        let negotiated = match self.reader.frame() {
            Some(frame) => {
                // The response header of ApiVersions is always v0: the 4-byte correlation id.
                let body = frame.get(4..).unwrap_or_default();
                match super::answers::api_versions(body, version, &REQUIRED) {
                    Ok((error_code, negotiated)) => {
                        let code = ErrorCode::from_code(error_code);
                        if code.is_error() {
                            Err(Error::Broker {
                                api: ApiKey::ApiVersions,
                                code,
                                topic: None,
                                partition: None,
                            })
                        } else {
                            negotiated.map_err(Error::Version)
                        }
                    }
                    Err(error) => Err(Error::Decode {
                        api: ApiKey::ApiVersions,
                        broker: addr,
                        error,
                    }),
                }
            }
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        let negotiated = negotiated?;
        if self.idempotent() {
            negotiated.version(ApiKey::InitProducerId)?;
        }
        if let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) {
            conn.versions = Some(negotiated);
        }
        // Each await is a state of this future whose code stays linked even when the condition
        // before it is a constant `false`: the features take them out.
        #[cfg(feature = "sasl")]
        if self.authenticates() {
            self.authenticate(ci, addr).await?;
        }
        #[cfg(feature = "idempotence")]
        if self.idempotent() && self.pid().is_none() {
            self.init_producer_id(ci, None).await?;
        }
        Ok(())
    }

    /// Writes `request` on connection `ci` and reads (each answer within
    /// `request.timeout.ms`) until its response, which is left complete in the reader. The
    /// answers to Produce requests in flight before it are applied on the way.
    #[cfg(any(feature = "sasl", feature = "idempotence"))]
    pub(super) async fn round_trip<Q: Request>(
        &mut self,
        ci: usize,
        request: &Q,
        version: i16,
    ) -> Res<'a, (), C> {
        // Only the encoding depends on the request's type; the exchange is one state machine
        // shared by every request (each generic copy of it cost flash in every caller).
        let (id, n) = self.encoded(Q::API_KEY, |out, header| {
            request.encode_request(header, out, version)
        })?;
        self.exchange(ci, Q::API_KEY, version, id, n).await
    }

    /// Encodes a request of `api` into TX with `encode` (given TX and a header with the next
    /// correlation id and the client id): that id and the frame's length, for
    /// [`exchange`](Self::exchange).
    pub(super) fn encoded(
        &mut self,
        api: ApiKey,
        encode: impl FnOnce(&mut [u8], &RequestHeader<'_>) -> Result<usize, EncodeError>,
    ) -> Res<'a, (i32, usize), C> {
        let id = self.ids.next_id();
        let header = RequestHeader::new(id, Some(self.config.client_id));
        let n = encode(self.tx, &header).map_err(|error| Error::Encode { api, error })?;
        Ok((id, n))
    }

    /// Before a request is written on connection `ci`: with nothing in flight there, reads
    /// what the broker sent unasked (stray acks=0 answers), so that it is never taken for the
    /// new request's answer, and remembers a frame left half-read for [`settle_partial`].
    /// Shared by the Produce path and every other request.
    ///
    /// [`settle_partial`]: Self::settle_partial
    pub(super) fn drain_if_idle(&mut self, ci: usize) -> Res<'a, (), C> {
        let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) else {
            return Err(Error::NoBroker { tried: 0 });
        };
        if conn.in_flight.is_empty() {
            conn.drain(&mut self.reader)?;
            if self.reader.buffered() > 0 {
                self.partial = Some(ci as u8);
            }
        }
        Ok(())
    }

    /// Writes the request encoded in `tx[..n]` (correlation id `id`) on connection `ci` and
    /// reads until its response, as [`round_trip`](Self::round_trip) says. Not generic over
    /// the request, on purpose: see there.
    pub(super) async fn exchange(
        &mut self,
        ci: usize,
        api: ApiKey,
        version: i16,
        id: i32,
        n: usize,
    ) -> Res<'a, (), C> {
        self.settle_partial(ci).await?;
        // Produce requests may fill the connection's bookkeeping: their answers come first.
        while self
            .conns
            .get(ci)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.in_flight.is_full())
        {
            let answered = self.receive(ci).await?;
            self.on_response_needing_conn(ci, answered)?;
        }
        self.drain_if_idle(ci)?;
        let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) else {
            return Err(Error::NoBroker { tried: 0 });
        };
        let broker = conn.addr;
        let bytes = self.tx.get(..n).unwrap_or_default();
        let ms = self.config.request_timeout_ms;
        let written = with_timeout(&mut self.delay, ms, async {
            conn.write(bytes).await?;
            conn.flush().await
        })
        .await;
        match written {
            Some(result) => result?,
            None => {
                return Err(Error::Timeout { api, broker, ms });
            }
        }
        conn.expect(InFlightRequest {
            correlation_id: id,
            api_key: api,
            api_version: version,
            // When it was written: its answer is due `request.timeout.ms` after that.
            token: self.clock.now_ms() as u32,
        })
        .map_err(|error| Error::Frame {
            broker: conn.addr,
            error,
        })?;
        loop {
            let answered = self.receive(ci).await?;
            if answered.correlation_id == id {
                return Ok(());
            }
            self.on_response_needing_conn(ci, answered)?;
        }
    }

    /// Connection `ci`'s broker, for errors that name it (the unspecified address if it is
    /// gone, which the callers that name it rule out).
    pub(super) fn conn_addr(&self, ci: usize) -> core::net::SocketAddr {
        self.conns
            .get(ci)
            .and_then(Option::as_ref)
            .map_or(core::net::SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.addr)
    }

    /// Reads until the answer to the oldest request in flight on connection `ci` is complete
    /// in the reader (within `request.timeout.ms`), draining strays on the way; a partial
    /// frame of another connection is read and applied first.
    pub(super) async fn receive(&mut self, ci: usize) -> Res<'a, InFlightRequest, C> {
        self.settle_partial(ci).await?;
        self.receive_raw(ci).await
    }

    /// [`receive`](Self::receive) on a reader known to hold nothing of another connection.
    async fn receive_raw(&mut self, ci: usize) -> Res<'a, InFlightRequest, C> {
        match self.receive_capped(ci, u32::MAX).await? {
            Some(answered) => Ok(answered),
            None => Err(Error::NoBroker { tried: 0 }),
        }
    }

    /// [`receive`](Self::receive), but waiting at most `cap` ms (the caller's own deadline:
    /// [`wait_timeout`](Self::wait_timeout)): `None` if that passed first. Stopping then is
    /// safe: a read cancelled mid-frame loses nothing (the reader keeps what it committed and
    /// is marked as holding a partial frame of `ci`, as [`poll`](Self::poll) leaves it), the
    /// request stays in flight and its own `request.timeout.ms` still runs from when it was
    /// written.
    pub(super) async fn receive_within(
        &mut self,
        ci: usize,
        cap: u32,
    ) -> Res<'a, Option<InFlightRequest>, C> {
        self.settle_partial(ci).await?;
        self.receive_capped(ci, cap).await
    }

    async fn receive_capped(&mut self, ci: usize, cap: u32) -> Res<'a, Option<InFlightRequest>, C> {
        let Some(conn) = self.conns.get_mut(ci).and_then(Option::as_mut) else {
            return Err(Error::NoBroker { tried: 0 });
        };
        let api = conn.oldest_api();
        let broker = conn.addr;
        let ms = self.config.request_timeout_ms;
        // As in Kafka, the timeout counts from when the request was written (its token), not
        // from when the producer started waiting: with several in flight, a late answer does
        // not extend the wait for the ones behind it.
        let written = conn.in_flight.oldest().map_or(0, |r| r.token);
        let waited = (self.clock.now_ms() as u32).wrapping_sub(written);
        let left = ms.saturating_sub(waited);
        let result = match with_timeout(
            &mut self.delay,
            left.min(cap),
            conn.receive(&mut self.reader),
        )
        .await
        {
            Some(result) => result.map(Some),
            None if cap < left => {
                self.partial = (self.reader.buffered() > 0).then_some(ci as u8);
                return Ok(None);
            }
            None => Err(Error::Timeout { api, broker, ms }),
        };
        self.partial = None;
        result
    }

    /// Makes sure the reader holds no partial frame of a connection other than `ci`: a frame
    /// begun without waiting ([`poll`](Self::poll)) is read to its end and applied first.
    pub(super) async fn settle_partial(&mut self, ci: usize) -> Res<'a, (), C> {
        let Some(p) = self.partial.map(usize::from).filter(|&p| p != ci) else {
            return Ok(());
        };
        match self.receive_raw(p).await {
            Ok(answered) => self.on_response(p, answered),
            Err(e) => self.lost(p, e),
        }
    }
}
