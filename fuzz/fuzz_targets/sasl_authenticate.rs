//! SaslAuthenticate (key 36) requests and responses, versions 0-2, on arbitrary bytes: no panic,
//! no hang, decode → encode → decode stable (see `common`).
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse};

api_target!(
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    ApiKey::SaslAuthenticate
);
