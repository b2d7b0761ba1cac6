//! SaslHandshake (key 17) requests and responses, versions 0-1, on arbitrary bytes: no panic,
//! no hang, decode → encode → decode stable, the mechanism list walked (see `common`).
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, SaslHandshakeRequest, SaslHandshakeResponse};

api_target!(
    SaslHandshakeRequest,
    SaslHandshakeResponse,
    ApiKey::SaslHandshake
);
