//! The embassy-net transport for real: `examples/sensor_node` (embassy's std executor,
//! embassy-net's TCP/IP stack over a TAP device, the producer through
//! `transport::embassy_net`) publishes readings to a Tansu broker, and kafka-python reads them
//! back (checking CRCs) and this test compares them with what the node must have sent.
//!
//! Everything happens inside a network namespace each test creates with a name of its own: the
//! TAP device (the host's end of the node's link, `10.77.0.1/24`), the broker listening and
//! advertising on that address, the node (`10.77.0.2`), the consumer and, in the second test,
//! a one-name DNS server (`tests/python/dns_a.py`) through which the node finds the broker by
//! name with its own DNS client (`EmbassyDns`). No traffic touches another namespace. Guards kill the broker and every process left in the namespace, and
//! delete it, however the test ends; namespaces left by a test process that was killed are
//! deleted by the next run. Needs root (CI runs as root), `ip` (iproute2) and `/dev/net/tun`;
//! without them it fails, with the reason, rather than skip.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use embedded_kafka::partition::partition_for_key;

/// Namespaces of this test are called `ek-embassy-<pid>-<n>`.
const PREFIX: &str = "ek-embassy-";
const HOST_IP: &str = "10.77.0.1";
const NODE_CIDR: &str = "10.77.0.2/24";
const PORT: u16 = 9092;
const TOPIC: &str = "sensors";
const PARTITIONS: u32 = 3;
const READINGS: u32 = 60;
const SENSORS: u32 = 6;
const BATCH: u32 = 10;
/// The broker's name in the DNS test.
const BROKER_NAME: &str = "broker.kafka.test";

/// Runs `ip ARGS`, panicking with its stderr if it fails.
fn ip(args: &[&str]) -> Output {
    let output = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `ip {}` (is iproute2 installed?): {e}",
            args.join(" ")
        )
    });
    assert!(
        output.status.success(),
        "`ip {}` failed ({}): {} (this test needs root and /dev/net/tun)",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    output
}

/// A network namespace of this test; deleted on drop, with every process still in it killed.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Self {
        remove_stale();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns.exec_ok(&["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"]);
        ns.exec_ok(&["ip", "addr", "add", &format!("{HOST_IP}/24"), "dev", "tap0"]);
        ns.exec_ok(&["ip", "link", "set", "tap0", "up"]);
        ns
    }

    /// `ip netns exec NAME PROGRAM ARGS…` as a command to add to.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    fn exec_ok(&self, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_and_delete(&self.name);
    }
}

/// Kills what runs in namespace `name` and deletes it (deleting only unlinks the name: the
/// namespace, its TAP device and its listening broker would live on with their processes).
fn kill_and_delete(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
    let _ = Command::new("ip").args(["netns", "delete", name]).status();
}

/// Deletes the namespaces of earlier runs whose test process no longer exists (a run killed
/// before its guards could run); those of runs still going are left alone.
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or_default();
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            kill_and_delete(name);
        }
    }
}

/// Tansu inside the namespace, on `HOST_IP:PORT`, started by `common::broker`'s watchdog shell
/// so that it dies with the test process however that ends; stopped on drop.
struct NsBroker {
    pid: u32,
    watchdog: Child,
    lifeline: Option<ChildStdin>,
    log: PathBuf,
}

impl NsBroker {
    fn start(ns: &Netns) -> Self {
        let tansu = common::broker::tansu();
        let url = format!("tcp://{HOST_IP}:{PORT}");
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tansu-{}.log", ns.name));
        let mut watchdog = ns
            .command("/bin/sh")
            .args(["-c", common::broker::WATCHDOG, "tansu-watchdog"])
            .arg(&tansu)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .env("BROKER_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Tansu's output goes to its log; the shell would only report the kill below.
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tansu in {}: {e}", ns.name));
        let lifeline = watchdog.stdin.take();
        // The watchdog prints tansu's pid once it has started it.
        let mut pid = String::new();
        BufReader::new(watchdog.stdout.take().expect("stdout is piped"))
            .read_line(&mut pid)
            .expect("the watchdog's first line");
        let pid = pid
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("the watchdog printed {pid:?} as a pid: {e}"));
        Self {
            pid,
            watchdog,
            lifeline,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates the topic, retrying while the broker is not listening yet (it takes ~10 ms).
    fn create_topic(&mut self, ns: &Netns, name: &str, partitions: u32) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = ns
                .command(common::broker::tansu())
                .args([
                    "topic",
                    "create",
                    "--broker",
                    &format!("tcp://{HOST_IP}:{PORT}"),
                ])
                .args(["--partitions", &partitions.to_string(), name])
                .output()
                .expect("run tansu topic create");
            if output.status.success() {
                return;
            }
            let exited = !matches!(self.watchdog.try_wait(), Ok(None));
            if exited || Instant::now() > deadline {
                panic!(
                    "tansu topic create {name} failed ({}): {}; broker log:\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NsBroker {
    fn drop(&mut self) {
        // Memory storage has nothing to save, and once clients have been connected tansu did
        // not stop within 5 s of a SIGTERM (the watchdog's way): kill it outright. The watchdog exits with it (closing
        // its stdin would also make it kill tansu, which is what happens if this test process
        // dies without running this); Netns's drop kills whatever is left in the namespace.
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        drop(self.lifeline.take());
        let _ = self.watchdog.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Builds `examples/sensor_node` with this test's features and profile into this test's
/// target directory (what is already built is reused) and returns its path; once per process.
fn example() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_example).clone()
}

fn build_example() -> PathBuf {
    // .../target/<profile>/deps/embassy_netns-HASH
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let features: Vec<&str> = [
        ("std", cfg!(feature = "std")),
        ("defmt", cfg!(feature = "defmt")),
        ("log", cfg!(feature = "log")),
        ("producer", cfg!(feature = "producer")),
        ("tokio", cfg!(feature = "tokio")),
        ("embassy-net", cfg!(feature = "embassy-net")),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["build", "--quiet", "--example", "sensor_node"])
        .args(["--features", &features.join(",")]);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .expect("run cargo build --example sensor_node");
    assert!(
        status.success(),
        "cargo build --example sensor_node failed ({status})"
    );
    let binary = profile_dir.join("examples/sensor_node");
    assert!(binary.exists(), "{} was not built", binary.display());
    binary
}

/// What reading `seq` must be: the sensor (key) and the JSON value. Restated from the
/// example's description: sensors take turns, the temperature is (180 + (37·seq + 13) mod 100)
/// tenths of a degree.
fn expected_reading(seq: u32) -> (String, String) {
    let sensor = format!("node-{}", seq % SENSORS + 1);
    let tenths = 180 + (seq * 37 + 13) % 100;
    let value = format!(
        "{{\"sensor\":\"{sensor}\",\"seq\":{seq},\"temp_c\":{}.{}}}",
        tenths / 10,
        tenths % 10
    );
    (sensor, value)
}

/// A record as kafka-python read it.
#[derive(Debug)]
struct Consumed {
    partition: u32,
    offset: i64,
    timestamp: i64,
    key: String,
    value: String,
}

/// Reads `expected` records of `topic` back with kafka-python (`tests/python/consume.py`)
/// inside the namespace.
fn consume(ns: &Netns, expected: u32) -> Vec<Consumed> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/consume.py");
    let mut child = ns
        .command(common::python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the consumer");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(format!("{HOST_IP}:{PORT} {TOPIC} {expected}\n").as_bytes())
        .expect("write the consumer's stdin");
    let output = child.wait_with_output().expect("wait for the consumer");
    assert!(
        output.status.success(),
        "consume.py failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut lines = text.lines();
    let version = lines.next().unwrap_or_default();
    assert!(version.starts_with("kafka-python "), "{version:?}");
    let text_of = |hex: &str| String::from_utf8(common::unhex(hex)).expect("utf-8 key/value");
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 6, "consumer line {line:?}");
            Consumed {
                partition: f[0].parse().expect("partition"),
                offset: f[1].parse().expect("offset"),
                timestamp: f[2].parse().expect("timestamp"),
                key: text_of(f[3]),
                value: text_of(f[4]),
            }
        })
        .collect()
}

/// `delivered seq=S sensor=K partition=P offset=O` lines of the example: seq -> (P, O).
fn delivered(stdout: &str) -> BTreeMap<u32, (u32, i64)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("delivered "))
        .map(|l| {
            let field = |name: &str| {
                l.split(' ')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or_else(|| panic!("no {name} in {l:?}"))
            };
            let seq = field("seq").parse().expect("seq");
            (
                seq,
                (
                    field("partition").parse().expect("partition"),
                    field("offset").parse().expect("offset"),
                ),
            )
        })
        .collect()
}

/// A one-name DNS server in the namespace (`tests/python/dns_a.py`) on `HOST_IP:53`; killed
/// on drop (and by [`Netns`]'s drop with everything else in the namespace).
struct NsDns {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl NsDns {
    fn start(ns: &Netns) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/dns_a.py");
        let mut child = ns
            .command(common::python())
            .arg(script)
            .args([HOST_IP, BROKER_NAME, HOST_IP])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dns_a.py");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("dns_a.py's first line");
        assert_eq!(line.trim(), "ready", "dns_a.py did not start");
        Self { child, stdout }
    }

    /// The queries it answered, once it is killed.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        rest.lines().map(str::to_owned).collect()
    }
}

impl Drop for NsDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sensor_node_publishes_through_embassy_net_in_a_namespace() {
    run_node_and_check(&["--broker", &format!("{HOST_IP}:{PORT}")], false);
}

#[test]
fn sensor_node_finds_the_broker_by_name_with_embassy_dns() {
    let broker = format!("{BROKER_NAME}:{PORT}");
    run_node_and_check(&["--dns", HOST_IP, "--broker", &broker], true);
}

/// Runs the node in a namespace of its own with `args` (besides the TAP, address and
/// readings), with a DNS server there if `dns`, and checks what the consumer reads back.
fn run_node_and_check(args: &[&str], dns: bool) {
    let binary = example();
    let started = Instant::now();
    let ns = Netns::create();
    let mut broker = NsBroker::start(&ns);
    broker.create_topic(&ns, TOPIC, PARTITIONS);
    let resolver = dns.then(|| NsDns::start(&ns));
    let ready = started.elapsed();

    let before_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    // The node's own limit (--timeout-s) ends it if the broker cannot be reached.
    let output = ns
        .command(&binary)
        .args(["--tap", "tap0", "--ip", NODE_CIDR, "--gateway", HOST_IP])
        .args(args)
        .args(["--topic", TOPIC])
        .args([
            "--readings",
            &READINGS.to_string(),
            "--sensors",
            &SENSORS.to_string(),
        ])
        .args(["--batch", &BATCH.to_string(), "--timeout-s", "60"])
        .output()
        .expect("run sensor_node in the namespace");
    let after_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    let node_ran = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sensor_node failed ({}):\nstdout:\n{stdout}\nstderr:\n{}\nbroker log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        broker.log()
    );
    let summary = stdout.lines().last().unwrap_or_default();
    eprintln!("{summary}");
    let reported = delivered(&stdout);
    assert_eq!(
        reported.keys().copied().collect::<Vec<_>>(),
        (0..READINGS).collect::<Vec<_>>(),
        "the node reports every reading delivered once"
    );

    let consumed = consume(&ns, READINGS);
    assert_eq!(consumed.len(), READINGS as usize, "records read back");
    let mut seen = BTreeMap::new();
    for record in &consumed {
        let seq: u32 = record
            .value
            .split("\"seq\":")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no seq in {record:?}"));
        let (key, value) = expected_reading(seq);
        assert_eq!(
            (&record.key, &record.value),
            (&key, &value),
            "reading {seq}"
        );
        assert_eq!(
            record.partition,
            partition_for_key(key.as_bytes(), PARTITIONS),
            "reading {seq} is on murmur2's partition for {key}"
        );
        assert_eq!(
            reported.get(&seq),
            Some(&(record.partition, record.offset)),
            "reading {seq}: the node's delivery report matches where the consumer found it"
        );
        // The node's wall clock (EmbassyClock::with_unix_ms) stamped it during the run (give
        // or take a second: it is the host's clock read once, then carried on by
        // embassy-time's monotonic one, each rounded to milliseconds).
        assert!(
            (before_ms - 1000..=after_ms + 1000).contains(&record.timestamp),
            "reading {seq}: timestamp {} outside the run [{before_ms}, {after_ms}]",
            record.timestamp
        );
        assert!(seen.insert(seq, record).is_none(), "reading {seq} twice");
    }
    // Each sensor's readings are in order on its partition.
    for sensor in 1..=SENSORS {
        let offsets: Vec<i64> = seen
            .values()
            .filter(|r| r.key == format!("node-{sensor}"))
            .map(|r| r.offset)
            .collect();
        assert!(
            offsets.is_sorted(),
            "node-{sensor}'s readings out of order: {offsets:?}"
        );
    }
    if let Some(resolver) = resolver {
        let queries = resolver.stop();
        assert!(
            queries
                .iter()
                .any(|q| q == &format!("QUERY {BROKER_NAME} 1")),
            "the node never asked the DNS server for {BROKER_NAME}: {queries:?}"
        );
    }
    let consumed_at = started.elapsed();
    drop(broker);
    drop(ns);
    // Figures for the record (not checked): where the time goes.
    eprintln!(
        "namespace+broker+topic {ready:?}, node {:?}, consumer {:?}, teardown {:?}",
        node_ran - ready,
        consumed_at - node_ran,
        started.elapsed() - consumed_at
    );
}
