//! Hand-written conveniences on the generated messages: what a producer asks of them most.

use super::codec::Decode;
use super::messages::{
    ApiVersionsResponse, MetadataResponse, MetadataResponseBroker, MetadataResponseTopic,
    PartitionProduceResponse, ProduceResponse,
};
use super::{ApiKey, VersionRange};
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
