//! The test broker helper (`common::broker`) against the real Tansu that `scripts/setup-broker`
//! installs: it starts, answers, creates topics, is shared, and is gone after drop.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::broker::Broker;
use common::fixtures;

/// Sends a captured request frame and reads one response frame.
fn round_trip(broker: &Broker, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(broker.addr()).expect("connect to the broker");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set a read timeout");
    stream.write_all(request).expect("send the request");
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("read the size prefix");
    let mut frame = size.to_vec();
    frame.resize(4 + u32::from_be_bytes(size) as usize, 0);
    stream
        .read_exact(&mut frame[4..])
        .expect("read the response");
    frame
}

fn fixture(name: &str) -> fixtures::Fixture {
    fixtures::all()
        .into_iter()
        .find(|f| f.name() == name)
        .unwrap_or_else(|| panic!("no fixture {name} in INDEX.tsv"))
}

/// The (key, min, max) entries of an ApiVersions v0 response frame, sorted.
fn api_versions_v0(frame: &[u8]) -> Vec<[u8; 6]> {
    // size, correlation id, error code (0), then an i32-counted array of three i16s each.
    assert_eq!(frame[8..10], [0, 0], "error code");
    let count = u32::from_be_bytes(frame[10..14].try_into().expect("4 bytes")) as usize;
    let entries = &frame[14..];
    assert_eq!(
        entries.len(),
        count * 6,
        "{count} entries and nothing after them"
    );
    let mut entries: Vec<[u8; 6]> = entries
        .chunks(6)
        .map(|c| c.try_into().expect("6 bytes"))
        .collect();
    entries.sort_unstable();
    entries
}

#[test]
fn answers_api_versions_as_captured() {
    let broker = Broker::start();
    // What ApiVersions answers does not depend on the broker's state or address, but Tansu
    // lists the APIs in a different order each time it starts: compare them sorted.
    let f = fixture("api_versions/v00-basic");
    let response = round_trip(&broker, &f.request_frame());
    assert_eq!(
        api_versions_v0(&response),
        api_versions_v0(&f.response_frame().expect("answered")),
        "{}: the installed broker ({}) supports other versions than the captured one ({}); \
         if the broker changed on purpose, run scripts/capture-fixtures",
        f.name(),
        common::broker::tansu().display(),
        f.broker
    );
    assert_eq!(response[4..8], f.correlation_id.to_be_bytes());
}

#[test]
fn creates_topics_and_stops_on_drop() {
    let broker = Broker::start();
    broker.create_topic("fixtures", 3);
    // Metadata v12 for the topic "fixtures": error code 0 for it, i.e. it exists.
    let f = fixture("metadata/v12-topic");
    let response = round_trip(&broker, &f.request_frame());
    assert_eq!(response[4..8], f.correlation_id.to_be_bytes());
    assert_eq!(
        response.len(),
        f.response_frame().expect("answered").len(),
        "same shape as the captured answer (one broker, one topic of 3 partitions)"
    );

    let (pid, addr) = (broker.pid(), broker.addr());
    drop(broker);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "tansu (pid {pid}) still runs after drop"
    );
    assert!(TcpStream::connect(addr).is_err(), "{addr} still accepts");
}

#[test]
fn shared_is_one_broker_while_held() {
    let a = Broker::shared();
    let b = Broker::shared();
    assert_eq!(a.addr(), b.addr());
    assert!(TcpStream::connect(a.addr()).is_ok());
}
