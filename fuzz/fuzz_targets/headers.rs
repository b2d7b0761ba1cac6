//! Request headers (versions 0-2) and response headers (versions 0-1) on arbitrary bytes: no
//! panic, no hang, decode → encode → decode stable, the bytes after the header left untouched;
//! and `decode_request_header`, which picks the header version from the API key and version it
//! starts with, agrees with decoding at that version.
//!
//! Input: `selector frame…` as in `common`: top bit 0 request header, 1 response header; low
//! bits the header version (mod 3 or 2).
#![no_main]

mod common;

use embedded_kafka::protocol::{
    ApiKey, Decode, RequestHeader, ResponseHeader, decode_request_header, request_header_version,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let mut bufs = common::Bufs::default();
    if sel & 0x80 == 0 {
        let version = common::pick(sel, 0, 2);
        if let Ok((rest, header)) = RequestHeader::decode(frame, version) {
            assert!(frame.ends_with(rest));
            common::round_trip(&header, version, false, &mut bufs);
        }
        let mut peek = common::Bufs::default();
        if let Ok((rest, header)) = decode_request_header(frame) {
            let api = ApiKey::from_key(header.request_api_key);
            let hv = request_header_version(api, header.request_api_version);
            assert!(
                api.supported()
                    .is_some_and(|r| r.contains(header.request_api_version))
            );
            assert_eq!(RequestHeader::decode(frame, hv), Ok((rest, header)));
            common::round_trip(&header, hv, false, &mut peek);
        }
    } else {
        let version = common::pick(sel, 0, 1);
        if let Ok((rest, header)) = ResponseHeader::decode(frame, version) {
            assert!(frame.ends_with(rest));
            common::round_trip(&header, version, false, &mut bufs);
        }
    }
});
