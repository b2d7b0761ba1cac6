//! Checks the captured broker exchanges in `tests/fixtures/` against their `INDEX.tsv` at the
//! framing level: every listed file exists and every file is listed, size prefixes match,
//! request headers carry the indexed API key, version and correlation id, responses echo the
//! correlation id, and every version in the crate's scope has a real broker response.
//! Decoding the message bodies is `protocol_fixtures.rs`'s business.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::fixtures::{self, Fixture};
use embedded_kafka::protocol::ApiKey;

/// A reader over a frame that says where it ran out.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| {
            format!(
                "{what}: needs {n} bytes at offset {}, the frame has {}",
                self.pos,
                self.bytes.len()
            )
        })?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn i16(&mut self, what: &str) -> Result<i16, String> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn unsigned_varint(&mut self, what: &str) -> Result<u32, String> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1, what)?[0];
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("{what}: unsigned varint longer than 5 bytes"))
    }

    /// A tagged-field section: a count, then (tag, size, bytes) each.
    fn tagged_fields(&mut self, what: &str) -> Result<(), String> {
        let count = self.unsigned_varint(what)?;
        for _ in 0..count {
            self.unsigned_varint(what)?;
            let size = self.unsigned_varint(what)?;
            self.take(size as usize, what)?;
        }
        Ok(())
    }
}

/// The size prefix equals the rest of the frame; returns the frame after it.
fn unframe<'a>(frame: &'a [u8], what: &str) -> Result<&'a [u8], String> {
    let mut cursor = Cursor::new(frame);
    let size = cursor.i32(&format!("{what} size prefix"))?;
    let rest = &frame[4..];
    if usize::try_from(size).ok() != Some(rest.len()) {
        return Err(format!(
            "{what} size prefix says {size}, {} bytes follow it",
            rest.len()
        ));
    }
    Ok(rest)
}

fn flexible(api: ApiKey, version: i16) -> bool {
    api.flexible_from().is_some_and(|from| version >= from)
}

/// `sasl_handshake` for SaslHandshake: the directory name of an API's fixtures.
fn dir_name(api: ApiKey) -> String {
    let mut name = String::new();
    for (i, c) in api.name().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

fn check(fixture: &Fixture) -> Result<(), String> {
    let api = ApiKey::from_key(fixture.api_key);
    let range = api
        .supported()
        .ok_or_else(|| format!("{api} is not in the crate's scope"))?;
    if !range.contains(fixture.api_version) {
        return Err(format!(
            "v{} is outside {api}'s {range}",
            fixture.api_version
        ));
    }
    let dir = dir_name(api);
    if fixture.api != dir {
        return Err(format!("api column {:?}, {api} is {dir:?}", fixture.api));
    }
    let prefix = format!("{dir}/v{:02}-", fixture.api_version);
    let response_path = PathBuf::from(format!("{}.response.bin", fixture.name()));
    if !fixture.request.to_string_lossy().starts_with(&prefix)
        || !fixture.request.to_string_lossy().ends_with(".request.bin")
        || fixture
            .response
            .as_ref()
            .is_some_and(|r| *r != response_path)
    {
        return Err(format!(
            "paths should be {prefix}<name>.request.bin and (or -) {}",
            response_path.display()
        ));
    }

    // Request header v1 (v2 when flexible): key, version, correlation id, client id, tags.
    let request_frame = fixture.request_frame();
    let mut request = Cursor::new(unframe(&request_frame, "request")?);
    let found = (
        request.i16("api key")?,
        request.i16("api version")?,
        request.i32("correlation id")?,
    );
    let indexed = (fixture.api_key, fixture.api_version, fixture.correlation_id);
    if found != indexed {
        return Err(format!(
            "request header (key, version, correlation id) is {found:?}, the index says {indexed:?}"
        ));
    }
    let client_id = request.i16("client id length")?;
    if client_id < -1 {
        return Err(format!("client id length {client_id}"));
    }
    if client_id >= 0 {
        let bytes = request.take(client_id as usize, "client id")?;
        std::str::from_utf8(bytes).map_err(|e| format!("client id is not UTF-8: {e}"))?;
    }
    if flexible(api, fixture.api_version) {
        request.tagged_fields("request header tagged fields")?;
    }

    // Response header v0 (v1 when flexible, but ApiVersions always v0): correlation id, tags.
    if let Some(response_frame) = fixture.response_frame() {
        let mut response = Cursor::new(unframe(&response_frame, "response")?);
        let correlation_id = response.i32("response correlation id")?;
        if correlation_id != fixture.correlation_id {
            return Err(format!(
                "response correlation id {correlation_id}, the request's is {}",
                fixture.correlation_id
            ));
        }
        if flexible(api, fixture.api_version) && api != ApiKey::ApiVersions {
            response.tagged_fields("response header tagged fields")?;
        }
    }
    Ok(())
}

#[test]
fn every_fixture_is_well_formed_and_matches_the_index() {
    let all = fixtures::all();
    assert!(!all.is_empty(), "INDEX.tsv lists no fixtures");
    let failures: Vec<String> = all
        .iter()
        .filter_map(|f| check(f).err().map(|e| format!("{}: {e}", f.name())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures are malformed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

fn bin_files(dir: &Path, under: &Path, found: &mut BTreeSet<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            bin_files(&path, under, found);
        } else if path.extension().is_some_and(|e| e == "bin") {
            found.insert(path.strip_prefix(under).expect("under the root").to_owned());
        }
    }
}

#[test]
fn index_lists_exactly_the_files_there_are() {
    let root = fixtures::dir();
    let mut on_disk = BTreeSet::new();
    bin_files(&root, &root, &mut on_disk);
    let mut listed = BTreeSet::new();
    for f in fixtures::all() {
        for path in std::iter::once(f.request.clone()).chain(f.response.clone()) {
            assert!(
                listed.insert(path.clone()),
                "{} is listed twice",
                path.display()
            );
        }
    }
    let missing: Vec<_> = listed.difference(&on_disk).collect();
    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    assert!(
        missing.is_empty() && unlisted.is_empty(),
        "listed in INDEX.tsv but missing: {missing:?}\n\
         present but not listed: {unlisted:?}\n\
         (scripts/capture-fixtures rewrites both)"
    );
}

#[test]
fn every_version_in_scope_has_a_broker_response() {
    let all = fixtures::all();
    let mut missing = Vec::new();
    for api in ApiKey::ALL {
        let range = api.supported().expect("ALL are supported");
        for version in range.min..=range.max {
            let answered = all.iter().any(|f| {
                f.api_key == api.key() && f.api_version == version && f.response.is_some()
            });
            if !answered {
                missing.push(format!("{api} v{version}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no captured response for: {}",
        missing.join(", ")
    );
}
