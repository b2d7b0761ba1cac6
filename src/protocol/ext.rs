//! Hand-written conveniences on the generated messages: what a producer asks of them most.

use super::codec::Decode;
use super::messages::{
    ApiVersionsResponse, FetchResponse, FetchableTopicResponse, MetadataResponse,
    MetadataResponseBroker, MetadataResponseTopic, PartitionData, PartitionProduceResponse,
    ProduceResponse,
};
use super::{ApiKey, VersionRange};
use crate::record::{RecordBatches, RecordSets};
use crate::wire::{DecodeError, decode};

/// `UNSUPPORTED_VERSION`: the error code of an ApiVersions response to a version the broker
/// does not speak.
const UNSUPPORTED_VERSION: i16 = 35;

impl<'a> ApiVersionsResponse<'a> {
    /// The versions the broker supports for `api`, if it lists it.
    pub fn versions_of(&self, api: ApiKey) -> Option<VersionRange> {
        self.api_keys
            .find(api.key())
            .map(|k| VersionRange::new(k.min_version, k.max_version))
    }

    /// The version to speak for `api`: the highest one both the broker and this crate
    /// support, if there is one.
    ///
    /// ```
    /// use embedded_kafka::protocol::{ApiKey, ApiVersion, ApiVersionsResponse, Array};
    ///
    /// let keys = [ApiVersion { api_key: 0, min_version: 0, max_version: 13, ..Default::default() }];
    /// let broker = ApiVersionsResponse { api_keys: Array::from(&keys), ..Default::default() };
    /// assert_eq!(broker.negotiate(ApiKey::Produce), Some(11));
    /// assert_eq!(broker.negotiate(ApiKey::Metadata), None);
    /// ```
    pub fn negotiate(&self, api: ApiKey) -> Option<i16> {
        api.supported()?.highest_common(self.versions_of(api)?)
    }

    /// Reads an ApiVersions response body to a request sent at `version`, as the Java client
    /// does: a broker that does not speak `version` answers `UNSUPPORTED_VERSION` in a
    /// version 0 body (listing its versions of ApiVersions, so the client can retry lower).
    /// Returns the version the body was read at.
    pub fn decode_with_fallback(input: &'a [u8], version: i16) -> Result<(i16, Self), DecodeError> {
        let error = decode::within("ApiVersionsResponse.error_code", decode::i16(input))?.1;
        let version = if error == UNSUPPORTED_VERSION {
            0
        } else {
            version
        };
        Ok((version, Self::decode_exact(input, version)?))
    }
}

impl<'a> MetadataResponse<'a> {
    /// The broker with `node_id`, if listed.
    pub fn broker(&self, node_id: i32) -> Option<MetadataResponseBroker<'a>> {
        self.brokers.find(node_id)
    }

    /// The topic named `name`, if listed.
    pub fn topic(&self, name: &str) -> Option<MetadataResponseTopic<'a>> {
        self.topics.iter().find(|t| t.name == Some(name))
    }
}

impl<'a> ProduceResponse<'a> {
    /// The answer for partition `index` of topic `topic`, if there is one.
    pub fn partition(&self, topic: &str, index: i32) -> Option<PartitionProduceResponse<'a>> {
        self.responses
            .iter()
            .find(|t| t.name == topic)?
            .partition_responses
            .iter()
            .find(|p| p.index == index)
    }
}

impl<'a> FetchResponse<'a> {
    /// The topic named `name` (versions 4-12, which name topics), if answered.
    pub fn topic(&self, name: &str) -> Option<FetchableTopicResponse<'a>> {
        self.responses.iter().find(|t| t.topic == name)
    }

    /// The topic with id `topic_id` (versions 13+, which identify topics by id), if answered.
    pub fn topic_by_id(&self, topic_id: [u8; 16]) -> Option<FetchableTopicResponse<'a>> {
        self.responses.iter().find(|t| t.topic_id == topic_id)
    }
}

impl<'a> FetchableTopicResponse<'a> {
    /// The answer for partition `index`, if there is one.
    pub fn partition(&self, index: i32) -> Option<PartitionData<'a>> {
        self.partitions.iter().find(|p| p.partition_index == index)
    }
}

impl<'a> PartitionData<'a> {
    /// The partition's record batches (magic 2), read in place from the receive buffer and
    /// CRC-checked one by one; a null `records` field reads as no batches.
    ///
    /// A broker fills a Fetch response up to the byte limits it was given, so the last batch
    /// may be cut short: the iterator then ends without an error and
    /// [`RecordBatches::partial`] says so (the consumer fetches again from the offset after the
    /// last complete batch). A broker with old, unconverted data may return legacy message
    /// sets (magic 0 or 1) instead: [`record_sets`](Self::record_sets) reads both.
    pub fn batches(&self) -> RecordBatches<'a> {
        RecordBatches::new(self.records.unwrap_or_default())
    }

    /// The partition's records whatever their format: record batches (magic 2) and legacy
    /// messages (magic 0 and 1), told apart by the magic byte, each CRC-checked; a partial
    /// entry at the end ends the iteration as for [`batches`](Self::batches).
    pub fn record_sets(&self) -> RecordSets<'a> {
        RecordSets::new(self.records.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ApiVersion, Array, Encode};

    #[test]
    fn api_versions_fallback_reads_v0_on_unsupported_version() {
        let keys = [ApiVersion {
            api_key: 18,
            min_version: 0,
            max_version: 2,
            ..Default::default()
        }];
        let v0 = ApiVersionsResponse {
            error_code: UNSUPPORTED_VERSION,
            api_keys: Array::from(&keys),
            ..Default::default()
        };
        let mut buf = [0u8; 32];
        let n = v0.encode_to_slice(&mut buf, 0).unwrap();
        let (version, decoded) = ApiVersionsResponse::decode_with_fallback(&buf[..n], 4).unwrap();
        assert_eq!((version, decoded), (0, v0));
        assert_eq!(
            decoded.versions_of(ApiKey::ApiVersions),
            Some(VersionRange::new(0, 2))
        );
        assert_eq!(decoded.negotiate(ApiKey::ApiVersions), Some(2));

        let ok = ApiVersionsResponse {
            api_keys: Array::from(&keys),
            ..Default::default()
        };
        let n = ok.encode_to_slice(&mut buf, 4).unwrap();
        assert_eq!(
            ApiVersionsResponse::decode_with_fallback(&buf[..n], 4).unwrap(),
            (4, ok)
        );
    }
}
