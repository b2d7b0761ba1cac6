//! `examples/producer` (the seed's `producer.py` in Rust) run as a user runs it: the built
//! binary against a private Tansu broker (`common::broker`), every record read back by an
//! independent consumer (kafka-python, which checks CRCs) and compared with the deterministic
//! values and the partitions murmur2 names. Also its configuration files and its failures.
//!
//! The binary is built from here with the cargo that runs the tests, into the same target
//! directory and profile, with the features this test was built with, so nothing is built
//! twice.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::broker::Broker;
use embedded_kafka::partition::partition_for_key;

/// The features this test crate was compiled with, for building the example the same way.
fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "std") {
        f.push("std");
    }
    if cfg!(feature = "log") {
        f.push("log");
    }
    if cfg!(feature = "defmt") {
        f.push("defmt");
    }
    if cfg!(feature = "producer") {
        f.push("producer");
    }
    if cfg!(feature = "scram") {
        f.push("scram");
    }
    for codec in ["lz4", "gzip", "snappy", "zstd"] {
        let on = match codec {
            "lz4" => cfg!(feature = "lz4"),
            "gzip" => cfg!(feature = "gzip"),
            "snappy" => cfg!(feature = "snappy"),
            _ => cfg!(feature = "zstd"),
        };
        if on {
            f.push(codec);
        }
    }
    f.push("tokio");
    // tests/tls.rs builds the example with TLS too: the same features, so it is built once.
    if cfg!(feature = "tls-rustls") {
        f.push("tls-rustls");
    }
    f
}

/// The `producer` example binary, built once per test run.
fn producer_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // This test runs as <target>/<profile>/deps/cli-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps/<test>");
        let target = profile_dir.parent().expect("<target>/<profile>");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a profile directory name");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--example", "producer", "--target-dir"])
            .arg(target)
            .args(["--features", &features().join(",")]);
        match profile {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        let status = cargo
            .status()
            .expect("cannot run cargo to build the example");
        assert!(status.success(), "building examples/producer failed");
        let bin = profile_dir.join("examples").join("producer");
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

fn run(args: &[&str]) -> Output {
    Command::new(producer_bin())
        .args(args)
        .output()
        .expect("cannot run the producer example")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON object on the last line of stdout.
fn json_summary(out: &Output) -> Summary {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("").to_owned();
    assert!(
        last.starts_with('{') && last.ends_with('}'),
        "the last line of stdout is not a JSON object: {stdout}"
    );
    Summary(last)
}

/// The producer's JSON summary line. Its fields are numbers and simple strings, with the
/// error message (free text) last, so a field is found by its key.
#[derive(Debug)]
struct Summary(String);

impl Summary {
    /// The raw value of `key` (a number, `null`, or a string with its quotes).
    fn get(&self, key: &str) -> Option<&str> {
        let at = self.0.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = self.0.get(at..)?;
        let end = if rest.starts_with('"') {
            rest.get(1..)?.find('"')? + 2
        } else {
            rest.find([',', '}'])?
        };
        rest.get(..end)
    }
}

fn number(summary: &Summary, key: &str) -> f64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {summary:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {summary:?}: {e}"))
}

/// Record `i`'s value: the seed's JSON padded with spaces to `size`.
fn value(i: u64, size: usize) -> Vec<u8> {
    let mut v = format!("{{\"number\": {i}}}").into_bytes();
    if v.len() < size {
        v.resize(size, b' ');
    }
    v
}

/// A record read back: partition, key, value.
type Consumed = (u32, Option<Vec<u8>>, Vec<u8>);

fn consume(broker: &Broker, topic: &str, expected: usize) -> Vec<Consumed> {
    let out = common::run_python(
        "consume.py",
        format!("{} {topic} {expected}\n", broker.bootstrap()).as_bytes(),
    );
    let out = String::from_utf8(out).expect("utf-8");
    out.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 6, "consumer line {line:?}");
            let key = match f[3] {
                "-" => None,
                "~" => Some(Vec::new()),
                k => Some(common::unhex(k)),
            };
            (f[0].parse().expect("partition"), key, common::unhex(f[4]))
        })
        .collect()
}

/// Runs the producer for `n` records of `size` bytes to a fresh topic, checks the JSON summary
/// and reads every record back.
fn produce_and_read(broker: &Broker, topic: &str, n: u64, size: usize, extra: &[&str]) {
    broker.create_topic(topic, 2);
    let (n_s, size_s) = (n.to_string(), size.to_string());
    let mut args = vec![
        "--bootstrap",
        &broker.bootstrap(),
        "--topic",
        topic,
        "--messages",
        &n_s,
        "--value-size",
        &size_s,
        "--json",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let summary = json_summary(&out);
    assert_eq!(number(&summary, "messages"), n as f64, "{summary:?}");
    assert_eq!(number(&summary, "delivered"), n as f64, "{summary:?}");
    assert_eq!(number(&summary, "failed"), 0.0, "{summary:?}");
    assert!(number(&summary, "elapsed_s") > 0.0, "{summary:?}");
    assert!(number(&summary, "msgs_per_s") > 0.0, "{summary:?}");
    assert!(summary.get("mb_per_s").is_some(), "{summary:?}");

    let records = consume(broker, topic, n as usize);
    assert_eq!(records.len() as u64, n, "records read back from {topic}");
    let mut seen = vec![false; n as usize];
    for (_, key, v) in &records {
        assert_eq!(key, &None, "keyless run");
        let text = String::from_utf8_lossy(v);
        let i: u64 = text
            .trim_end()
            .strip_prefix("{\"number\": ")
            .and_then(|t| t.strip_suffix('}'))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("value {text:?} is not the seed's JSON"));
        assert_eq!(v, &value(i, size), "record {i}'s value");
        assert!(!seen[i as usize], "record {i} stored twice");
        seen[i as usize] = true;
    }
}

#[test]
fn every_value_is_read_back_as_written() {
    let broker = Broker::shared();
    produce_and_read(&broker, "cli-values", 2_000, 64, &["--acks", "1"]);
}

/// With acks=0 nothing comes back from Kafka; Tansu answers anyway, and a producer that closes
/// with those answers unread resets the connection and loses what the broker had not read yet
/// (without the wait for them, this run lost ~10 % of its records in a debug build).
/// `--compression-type lz4`: every record read back by kafka-python (which decompresses and
/// checks the CRCs), with the setting shown in the printed configuration.
#[cfg(feature = "lz4")]
#[test]
fn lz4_compressed_values_are_read_back_as_written() {
    let broker = Broker::shared();
    produce_and_read(
        &broker,
        "cli-lz4",
        2000,
        100,
        &["--compression-type", "lz4", "--idempotence"],
    );
    let out = run(&[
        "--bootstrap",
        &broker.bootstrap(),
        "--topic",
        "cli-lz4",
        "--messages",
        "1",
        "-X",
        "compression.type=lz4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("compression.type=lz4"),
        "the configuration printed names the codec"
    );
}

#[test]
fn acks_0_loses_nothing() {
    let broker = Broker::shared();
    produce_and_read(&broker, "cli-acks0", 20_000, 1_000, &["--acks", "0"]);
}

#[test]
fn keyed_records_land_where_murmur2_says() {
    let broker = Broker::shared();
    let topic = "cli-keys";
    broker.create_topic(topic, 3);
    let n: u32 = 300;
    let out = run(&[
        "--bootstrap",
        &broker.bootstrap(),
        "--topic",
        topic,
        "--messages",
        &n.to_string(),
        "--acks",
        "all",
        "--max-in-flight",
        "1",
        "--wait",
        "--create-keys",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(number(&json_summary(&out), "delivered"), f64::from(n));
    let records = consume(&broker, topic, n as usize);
    assert_eq!(records.len(), n as usize);
    let mut keys = Vec::new();
    for (partition, key, v) in records {
        let key = key.expect("keyed run");
        let i: u64 = String::from_utf8(key.clone())
            .expect("decimal key")
            .parse()
            .expect("decimal key");
        assert_eq!(v, value(i, 100), "record {i}");
        assert_eq!(
            partition,
            partition_for_key(&key, 3),
            "record {i}'s partition"
        );
        keys.push(i);
    }
    keys.sort_unstable();
    assert_eq!(keys, (0..u64::from(n)).collect::<Vec<_>>());
}

#[test]
fn explicit_partition() {
    let broker = Broker::shared();
    let topic = "cli-partition";
    broker.create_topic(topic, 2);
    let out = run(&[
        "--bootstrap",
        &broker.bootstrap(),
        "--topic",
        topic,
        "--messages",
        "50",
        "--partition",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = consume(&broker, topic, 50);
    assert_eq!(records.len(), 50);
    assert!(records.iter().all(|(p, _, _)| *p == 1), "{records:?}");
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write a config file");
    path
}

#[test]
fn properties_file_with_flags_on_top() {
    let broker = Broker::shared();
    broker.create_topic("cli-props", 2);
    let file = temp_file(
        "client.properties",
        &format!(
            "# Kafka client properties\nbootstrap.servers={}\nacks=0\nlinger.ms=1\n\
             client.id=cli-test\nbatch.size=4096\n",
            broker.bootstrap()
        ),
    );
    let out = run(&[
        "--config",
        file.to_str().expect("utf-8 path"),
        "--acks",
        "all",
        "--topic",
        "cli-props",
        "--messages",
        "40",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    // The configuration used is printed: the file's values, the flag's override.
    for line in [
        "client.id=cli-test",
        "batch.size=4096",
        "linger.ms=1",
        "acks=all",
    ] {
        assert!(err.contains(line), "{line} not in:\n{err}");
    }
    let summary = json_summary(&out);
    assert_eq!(summary.get("acks"), Some("\"all\""));
    assert_eq!(number(&summary, "delivered"), 40.0);
    assert_eq!(consume(&broker, "cli-props", 40).len(), 40);
}

#[test]
fn seed_yaml_config() {
    let broker = Broker::shared();
    broker.create_topic("cli-yaml", 2);
    let yaml = temp_file(
        "config.yaml",
        &format!(
            "brokers:\n    - name: broker1\n      ip: 127.0.0.1\n      port: \"{}\"\n",
            broker.port()
        ),
    );
    let out = run(&[
        "--config",
        yaml.to_str().expect("utf-8 path"),
        "--topic",
        "cli-yaml",
        "--messages",
        "25",
        "--create_keys",
        "--ack=1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(consume(&broker, "cli-yaml", 25).len(), 25);

    // The seed's own file has SSL client certificates: SSL is taken, and files that are not
    // there are named (tests/tls.rs runs the seed's layout against a TLS broker).
    let with_ssl = temp_file(
        "config-ssl.yaml",
        &format!(
            "brokers:\n    - name: broker1\n      ip: 127.0.0.1\n      port: \"{}\"\n\
             ssl_config:\n      ssl_cafile: /x/ca.crt\n      ssl_certfile: /x/client.crt\n\
             \x20     ssl_keyfile: /x/client.rsa\n",
            broker.port()
        ),
    );
    let out = run(&["--config", with_ssl.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = if cfg!(feature = "tls-rustls") {
        "cannot read the CA certificate (PEM) from /x/ca.crt"
    } else {
        "security.protocol=SSL needs a build with TLS"
    };
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
}

#[test]
fn unreachable_bootstrap_fails_naming_it() {
    // A loopback port nothing listens on: bound, then let go.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = run(&["--bootstrap", &addr, "--messages", "5", "--json"]);
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&addr), "the address is not named:\n{err}");
    let summary = json_summary(&out);
    assert_eq!(number(&summary, "delivered"), 0.0);
    assert_eq!(number(&summary, "failed"), 5.0);
}

#[test]
fn ssl_without_a_ca_and_sasl_are_refused() {
    let out = run(&[
        "--bootstrap",
        "127.0.0.1:9092",
        "-X",
        "security.protocol=SSL",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("security.protocol=SSL needs ssl.ca.location"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "--bootstrap",
        "127.0.0.1:9092",
        "-X",
        "security.protocol=SASL_SSL",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs ssl.ca.location"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_and_bad_flags() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bootstrap",
        "--acks",
        "--wait",
        "--create-keys",
        "--config",
        "--json",
    ] {
        assert!(help.contains(flag), "{flag} not in --help");
    }
    let out = run(&["--bootstrap", "127.0.0.1:9092", "--acks", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("acks"), "{}", stderr(&out));
}

/// A hostile broker (`common::hostile`) that always answers Produce badly: the CLI exits with
/// status 1 and a message that says what the broker did wrong, and reports the records failed.
#[test]
fn a_hostile_broker_fails_the_run_saying_what_it_did() {
    use common::hostile::{HostileBroker, Misbehaviour};
    use embedded_kafka::protocol::ApiKey;
    let mut table = Vec::new();
    for how in Misbehaviour::ALL.into_iter().chain(Misbehaviour::BODY) {
        // What stderr must say (the broker's address is named too).
        let says: &[&str] = match how {
            Misbehaviour::ZeroLength => &["frame size 0 is below"],
            Misbehaviour::NegativeLength => &["frame size -1 is negative"],
            Misbehaviour::HugeLength => &[
                "a frame of 2147483647 bytes",
                "no Kafka response is that large: the peer is probably not a Kafka broker",
            ],
            Misbehaviour::WrongCorrelation => &["response has correlation id", "oldest request"],
            Misbehaviour::Garbage => &["frame size"],
            Misbehaviour::Http => &[
                "a frame of 1213486160 bytes",
                "the size field reads as text (\"HTTP\"): the peer is probably not a Kafka broker",
            ],
            Misbehaviour::CutMidFrame => &["closed the connection in the middle of a response"],
            Misbehaviour::Slowloris | Misbehaviour::Silence => {
                &["no Produce (0) response", "within 2000 ms"]
            }
            Misbehaviour::GarbageBody => &["decoding a Produce (0) response from broker"],
            Misbehaviour::HugeArray => &[
                "decoding a Produce (0) response from broker",
                "ProduceResponse.responses claims 2147483646 entries but only",
            ],
            Misbehaviour::NoLeader | Misbehaviour::LeaderNotListed => &[],
        };
        let broker = HostileBroker::start(ApiKey::Produce, how, u32::MAX);
        let addr = broker.addr().to_string();
        let out = run(&[
            "--bootstrap",
            &addr,
            "--messages",
            "3",
            "--json",
            "-X",
            "request.timeout.ms=2000",
            "-X",
            "retries=1",
            "-X",
            "retry.backoff.ms=20",
        ]);
        let err = stderr(&out);
        let last = err.lines().last().unwrap_or_default().to_owned();
        table.push(format!("{how:?}: exit {:?}: {last}", out.status.code()));
        assert_eq!(out.status.code(), Some(1), "{how:?}: {err}");
        assert!(
            err.contains(&addr),
            "{how:?}: the broker is not named:\n{err}"
        );
        for s in says {
            assert!(err.contains(s), "{how:?}: {s:?} not in stderr:\n{err}");
        }
        let summary = json_summary(&out);
        assert_eq!(number(&summary, "delivered"), 0.0, "{how:?}");
    }
    println!(
        "the CLI against a hostile broker:\n  {}",
        table.join("\n  ")
    );
}

/// `security.protocol=SASL_PLAINTEXT` with `sasl.*` reaches the broker: against Tansu with
/// `--authentication` (SCRAM offered, no user can log in with memory storage: `BROKER.md`) the
/// login is refused with the broker's SCRAM error, named, and the run fails (exit status 1);
/// the password is never printed.
#[test]
fn sasl_properties_reach_the_broker() {
    let broker = Broker::start_with(&common::broker::Options {
        args: vec!["--authentication".to_owned()],
        ..Default::default()
    });
    let bootstrap = broker.bootstrap();
    let scram = cfg!(feature = "scram");
    let mechanism = if scram { "SCRAM-SHA-256" } else { "PLAIN" };
    let out = run(&[
        "--bootstrap",
        &bootstrap,
        "--messages",
        "3",
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        &format!("sasl.mechanism={mechanism}"),
        "-X",
        "sasl.username=alice",
        "-X",
        "sasl.password=not-printed-anywhere",
    ]);
    let err = stderr(&out);
    let all = format!("{}{err}", String::from_utf8_lossy(&out.stdout));
    println!("{err}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("not-printed-anywhere"), "{all}");
    if scram {
        assert!(
            err.contains("SCRAM-SHA-256") && err.contains("e=unknown-user"),
            "{err}"
        );
    }
}
