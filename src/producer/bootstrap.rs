//! What the producer learns from the cluster: topics' metadata (Metadata). Its producer id and
//! epoch (InitProducerId) are [`super::epoch`]'s.

use core::net::SocketAddr;

use embedded_nal_async::{AddrType, Dns, TcpConnect};

use super::metadata::UpdateError;
use super::producer::{Producer, Res};
use super::{Clock, Delay, Error};
use crate::partition::Partitioner;
use crate::protocol::ApiKey;

/// How often a topic's metadata is asked for again while the broker says it is not ready yet
/// (LEADER_NOT_AVAILABLE right after auto-creation), and how long to wait in between.
const METADATA_ATTEMPTS: u32 = 10;
const METADATA_BACKOFF_MS: u32 = 100;

impl<'a, C, K, D, P, const T: usize, const B: usize, const R: usize, N, const L: usize>
    Producer<'a, C, K, D, P, T, B, R, N, L>
where
    C: TcpConnect + 'a,
    K: Clock,
    D: Delay,
    P: Partitioner,
    N: Dns,
{
    /// Index of `topic` in the metadata cache, fetching its metadata on first use or once it
    /// is older than `metadata.max.age.ms` at monotonic time `now`.
    pub(super) async fn topic_index(&mut self, topic: &'a str, now: u64) -> Res<'a, usize, C> {
        let cached = self.metadata.topic(topic).map(|(i, t)| (i, t.fetched_ms));
        if let Some((i, fetched)) = cached {
            let age = now.saturating_sub(fetched);
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

    /// Asks any broker for `topic`'s metadata and caches it.
    pub(super) async fn fetch_metadata(&mut self, topic: &'a str) -> Res<'a, usize, C> {
        let ci = self.connect(None).await?;
        let version = self.version(ci, ApiKey::Metadata)?;
        // As the Java producer: a broker that auto-creates topics may create it.
        let (id, n) = self.encoded(ApiKey::Metadata, |out, header| {
            super::requests::metadata(out, header, topic, version)
        })?;
        if let Err(e) = self.exchange(ci, ApiKey::Metadata, version, id, n).await {
            return Err(self.conn_failed(ci, e));
        }
        let decoded = self
            .reader
            .frame()
            .map(|frame| super::answers::metadata(frame, version, topic));
        let updated = match decoded {
            Some(Ok(response)) => {
                let updated = self.metadata.update(topic, &response, self.clock.now_ms());
                // Brokers known by name only: resolve them now, while their names are in the
                // receive buffer (the cache keeps addresses, not names).
                let listed = response
                    .brokers
                    .get(..response.n_brokers)
                    .unwrap_or_default();
                for &(node_id, host, port) in listed {
                    if self.metadata.broker(node_id) != Some(None) {
                        continue;
                    }
                    match self.dns.get_host_by_name(host, AddrType::Either).await {
                        Ok(ip) => {
                            if let Ok(port) = u16::try_from(port) {
                                self.metadata
                                    .set_broker_addr(node_id, SocketAddr::new(ip, port));
                            }
                        }
                        Err(_) => warn!("a broker's host name could not be resolved"),
                    }
                }
                Ok(updated)
            }
            Some(Err(error)) => Err(Error::Decode {
                api: ApiKey::Metadata,
                broker: self.conn_addr(ci),
                error,
            }),
            None => Err(Error::Decode {
                api: ApiKey::Metadata,
                broker: self.conn_addr(ci),
                error: crate::wire::DecodeError::Truncated {
                    what: "response",
                    needed: 1,
                },
            }),
        };
        self.reader.consume();
        match updated {
            Err(e) => Err(self.conn_failed(ci, e)),
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
}
