//! Fetch (key 1) requests and responses, versions 4-17, on arbitrary bytes: no panic, no hang,
//! decode → encode → decode stable, every array walked and every records field read as record
//! batches and legacy messages (see `common`).
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, FetchRequest, FetchResponse};

api_target!(
    FetchRequest,
    FetchResponse,
    ApiKey::Fetch,
    |body: &FetchResponse<'_>, version: i16, _: &[u8]| {
        for topic in body.responses.iter() {
            let found = if version >= 13 {
                body.topic_by_id(topic.topic_id)
            } else {
                body.topic(topic.topic)
            };
            assert!(found.is_some());
            for p in topic.partitions.iter() {
                assert!(topic.partition(p.partition_index).is_some());
                let _ = (p.batches().count(), p.record_sets().count());
            }
        }
    }
);
