//! Produce (key 0) requests and responses, versions 3-11, on arbitrary bytes: no panic, no hang,
//! decode → encode → decode stable, every array and records field walked (see `common`).
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, ProduceRequest, ProduceResponse};

api_target!(
    ProduceRequest,
    ProduceResponse,
    ApiKey::Produce,
    |body: &ProduceResponse<'_>, _: i16, _: &[u8]| {
        for topic in body.responses.iter() {
            for p in topic.partition_responses.iter() {
                assert!(body.partition(topic.name, p.index).is_some());
            }
        }
    }
);
