//! Metadata (key 3) requests and responses, versions 1-12, on arbitrary bytes: no panic, no hang,
//! decode → encode → decode stable, every array walked (see `common`).
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, MetadataRequest, MetadataResponse};

api_target!(
    MetadataRequest,
    MetadataResponse,
    ApiKey::Metadata,
    |body: &MetadataResponse<'_>, _: i16, _: &[u8]| {
        for broker in body.brokers.iter() {
            assert!(body.broker(broker.node_id).is_some());
        }
        for topic in body.topics.iter() {
            if let Some(name) = topic.name {
                assert!(body.topic(name).is_some());
            }
        }
    }
);
