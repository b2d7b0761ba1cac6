//! ApiVersions (key 18) requests and responses, versions 0-4, on arbitrary bytes: no panic, no
//! hang, decode → encode → decode stable, every array walked (see `common`); responses also
//! through version negotiation and `decode_with_fallback`.
#![no_main]

mod common;

use embedded_kafka::protocol::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, Decode};

api_target!(
    ApiVersionsRequest,
    ApiVersionsResponse,
    ApiKey::ApiVersions,
    |body: &ApiVersionsResponse<'_>, version: i16, frame: &[u8]| {
        common::api_versions_extra(body);
        // The response header is always v0: the correlation id alone. A body whose error code
        // is UNSUPPORTED_VERSION (35) is read at v0, where it may not fit.
        let rest = &frame[4..];
        match ApiVersionsResponse::decode_with_fallback(rest, version) {
            Ok((v, fallback)) if v == version => assert_eq!(&fallback, body),
            Ok((v, fallback)) => {
                assert_eq!((v, body.error_code), (0, 35));
                assert_eq!(ApiVersionsResponse::decode_exact(rest, 0), Ok(fallback));
            }
            Err(e) => assert_eq!(body.error_code, 35, "{e:?}"),
        }
    }
);
