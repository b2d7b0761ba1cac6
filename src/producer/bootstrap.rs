//! Connections, version negotiation (ApiVersions), metadata and InitProducerId.

use core::net::SocketAddr;

use embedded_nal_async::{AddrType, Dns, TcpConnect};

use super::connection::{Connection, with_timeout};
use super::metadata::UpdateError;
use super::producer::{Producer, Res};
use super::{Clock, Delay, Error};
use crate::partition::Partitioner;
use crate::protocol::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, Array, ErrorCode, FrameReader,
    InFlightRequest, InitProducerIdRequest, MetadataRequest, MetadataRequestTopic,
    NegotiatedVersions, Request, RequestHeader,
};

/// The APIs a producer without idempotence cannot do without.
pub(super) const REQUIRED: [ApiKey; 3] = [ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce];

/// How often a topic's metadata is asked for again while the broker says it is not ready yet
/// (LEADER_NOT_AVAILABLE right after auto-creation), and how long to wait in between.
pub(super) const METADATA_ATTEMPTS: u32 = 10;

pub(super) const METADATA_BACKOFF_MS: u32 = 100;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N>
    Producer<'a, C, K, D, P, T, B, R, N>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Index of `topic` in the metadata cache, fetching its metadata on first use.
    pub(super) async fn topic_index(&mut self, topic: &'a str) -> Res<'a, usize, C> {
        let cached = self.metadata.topic(topic).map(|(i, t)| (i, t.fetched_ms));
        if let Some((i, fetched)) = cached {
            let age = self.clock.now_ms().saturating_sub(fetched);
            if age < u64::from(self.config.metadata_max_age_ms) {
                return Ok(i);
            }
            // Too old: fetch it again, and carry on with what is known if that fails.
            return match self.fetch_metadata(topic).await {
                Ok(i) => Ok(i),
                Err(e) if e.is_retriable() => {
                    warn!("refreshing a topic's metadata failed; the cached one is used");
                    Ok(i)
                }
                Err(e) => Err(e),
            };
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.fetch_metadata(topic).await {
                Err(Error::Broker { code, .. })
                    if code.is_retriable() && attempt < METADATA_ATTEMPTS =>
                {
                    self.delay.delay_ms(METADATA_BACKOFF_MS).await;
                }
                other => return other,
            }
        }
    }

    pub(super) async fn fetch_metadata(&mut self, topic: &'a str) -> Res<'a, usize, C> {
        self.connect(None).await?;
        let topics = [MetadataRequestTopic {
            name: Some(topic),
            ..Default::default()
        }];
        let request = MetadataRequest {
            topics: Some(Array::from(&topics)),
            // As the Java producer: a broker that auto-creates topics may create it.
            allow_auto_topic_creation: true,
            ..Default::default()
        };
        let version = self.version(ApiKey::Metadata)?;
        let result = self.round_trip(&request, version).await;
        if let Err(e) = result {
            self.disconnect();
            return Err(e);
        }
        let decoded = self
            .reader
            .frame()
            .map(|frame| MetadataRequest::decode_response(frame, version));
        let updated = match decoded {
            Some(Ok((_, response))) => {
                let updated = self.metadata.update(topic, &response, self.clock.now_ms());
                // Brokers known by name only: resolve them now, while their names are in the
                // receive buffer (the cache keeps addresses, not names).
                for b in response.brokers.iter() {
                    if self.metadata.broker(b.node_id) != Some(None) {
                        continue;
                    }
                    match self.dns.get_host_by_name(b.host, AddrType::Either).await {
                        Ok(ip) => {
                            if let Ok(port) = u16::try_from(b.port) {
                                self.metadata
                                    .set_broker_addr(b.node_id, SocketAddr::new(ip, port));
                            }
                        }
                        Err(_) => warn!("a broker's host name could not be resolved"),
                    }
                }
                Ok(updated)
            }
            Some(Err(error)) => Err(Error::Decode {
                api: ApiKey::Metadata,
                error,
            }),
            None => Err(Error::Decode {
                api: ApiKey::Metadata,
                error: crate::wire::DecodeError::Truncated {
                    what: "response",
                    needed: 1,
                },
            }),
        };
        self.reader.consume();
        match updated {
            Err(e) => {
                self.disconnect();
                Err(e)
            }
            Ok(Ok(i)) => Ok(i),
            Ok(Err(e)) => Err(match e {
                UpdateError::Missing => Error::UnknownTopic { topic },
                UpdateError::Code(code) => Error::Broker {
                    api: ApiKey::Metadata,
                    code,
                    topic: Some(topic),
                    partition: None,
                },
                UpdateError::PartitionCode(p, code) => Error::Broker {
                    api: ApiKey::Metadata,
                    code,
                    topic: Some(topic),
                    partition: Some(p),
                },
                UpdateError::TooManyPartitions(partitions) => Error::TooManyPartitions {
                    topic,
                    partitions,
                    max: super::MAX_PARTITIONS,
                },
                UpdateError::Full => Error::TooManyTopics { topic, max: T },
            }),
        }
    }

    pub(super) fn version(&self, api: ApiKey) -> Res<'a, i16, C> {
        let versions = self.conn.as_ref().and_then(|c| c.versions.as_ref());
        match versions {
            Some(v) => Ok(v.version(api)?),
            None => Err(crate::protocol::VersionError::NotSupportedByBroker { api }.into()),
        }
    }

    /// Makes sure a connection is open: to `addr` if given (a leader), else to any broker
    /// (the current one, or the bootstrap servers in order). Negotiates versions on a new one.
    pub(super) async fn connect(&mut self, addr: Option<SocketAddr>) -> Res<'a, (), C> {
        if let Some(conn) = &self.conn {
            if addr.is_none_or(|a| a == conn.addr) {
                return Ok(());
            }
            self.disconnect();
        }
        let servers = self.config.bootstrap_servers;
        let one = [addr.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))];
        let candidates: &[SocketAddr] = if addr.is_some() { &one } else { servers };
        let mut last = Error::NoBroker {
            tried: candidates.len(),
        };
        for &candidate in candidates {
            match self.open(candidate).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    warn!("a broker could not be used");
                    self.disconnect();
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
            match self.open(SocketAddr::new(ip, port)).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    warn!("a broker could not be used");
                    self.disconnect();
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Opens a connection to `addr` and negotiates versions with ApiVersions.
    pub(super) async fn open(&mut self, addr: SocketAddr) -> Res<'a, (), C> {
        self.reader.reset();
        self.conn = Some(Connection::open(self.connector, addr).await?);
        let version = ApiVersionsRequest::versions().max;
        let request = ApiVersionsRequest {
            client_software_name: "embedded-kafka",
            client_software_version: env!("CARGO_PKG_VERSION"),
            ..Default::default()
        };
        self.round_trip(&request, version).await?;
        let negotiated = match self.reader.frame() {
            Some(frame) => {
                // The response header of ApiVersions is always v0: the 4-byte correlation id.
                let body = frame.get(4..).unwrap_or_default();
                match ApiVersionsResponse::decode_with_fallback(body, version) {
                    Ok((_, response)) => {
                        let code = ErrorCode::from_code(response.error_code);
                        if code.is_error() {
                            Err(Error::Broker {
                                api: ApiKey::ApiVersions,
                                code,
                                topic: None,
                                partition: None,
                            })
                        } else {
                            NegotiatedVersions::from_broker(
                                response
                                    .api_keys
                                    .iter()
                                    .map(|k| (k.api_key, k.min_version, k.max_version)),
                                &REQUIRED,
                            )
                            .map_err(Error::Version)
                        }
                    }
                    Err(error) => Err(Error::Decode {
                        api: ApiKey::ApiVersions,
                        error,
                    }),
                }
            }
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        let negotiated = negotiated?;
        if self.config.enable_idempotence {
            negotiated.version(ApiKey::InitProducerId)?;
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.versions = Some(negotiated);
        }
        if self.config.enable_idempotence && self.producer_id.is_none() {
            self.init_producer_id().await?;
        }
        Ok(())
    }

    /// Asks for a producer id and epoch (idempotence without transactions).
    pub(super) async fn init_producer_id(&mut self) -> Res<'a, (), C> {
        let version = self.version(ApiKey::InitProducerId)?;
        let request = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: -1,
            ..Default::default()
        };
        self.round_trip(&request, version).await?;
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
                error,
            }),
            None => Err(Error::NoBroker { tried: 1 }),
        };
        self.reader.consume();
        self.producer_id = Some(result?);
        debug!("got a producer id");
        Ok(())
    }

    /// Writes `request` and waits (up to `request.timeout.ms`) for its response, which is left
    /// complete in the reader.
    pub(super) async fn round_trip<Q: Request>(
        &mut self,
        request: &Q,
        version: i16,
    ) -> Res<'a, (), C> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::NoBroker { tried: 0 });
        };
        conn.drain(&mut self.reader)?;
        let id = self.ids.next_id();
        let header = RequestHeader::new(id, Some(self.config.client_id));
        let n = request
            .encode_request(&header, self.tx, version)
            .map_err(|error| Error::Encode {
                api: Q::API_KEY,
                error,
            })?;
        conn.write(self.tx.get(..n).unwrap_or_default()).await?;
        conn.flush().await?;
        Self::await_response(
            conn,
            &mut self.reader,
            &mut self.delay,
            self.config.request_timeout_ms,
            InFlightRequest {
                correlation_id: id,
                api_key: Q::API_KEY,
                api_version: version,
                token: 0,
            },
        )
        .await
    }

    /// Registers `request` as the one whose answer comes next on `conn`, then reads until
    /// that answer (or the timeout).
    pub(super) async fn await_response(
        conn: &mut Connection<'a, C>,
        reader: &mut FrameReader<'a>,
        delay: &mut D,
        timeout_ms: u32,
        request: InFlightRequest,
    ) -> Res<'a, (), C> {
        conn.expect(request).map_err(|error| Error::Frame {
            broker: conn.addr,
            error,
        })?;
        let api = conn.oldest_api();
        let broker = conn.addr;
        match with_timeout(delay, timeout_ms, conn.receive(reader)).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Err(Error::Timeout {
                api,
                broker,
                ms: timeout_ms,
            }),
        }
    }
}
