//! InitProducerId (key 22) requests and responses, versions 0-5, on arbitrary bytes: no panic,
//! no hang, decode → encode → decode stable (see `common`).
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, InitProducerIdRequest, InitProducerIdResponse};

api_target!(
    InitProducerIdRequest,
    InitProducerIdResponse,
    ApiKey::InitProducerId
);
