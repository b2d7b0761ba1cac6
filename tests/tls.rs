//! TLS end to end (issue #6): a private Tansu broker behind a real TLS terminator, stunnel
//! (Tansu's own TLS cannot be enabled; `shared/BROKER.md`), which requires client certificates
//! (`verify = 2`). Tansu advertises stunnel's port, so every connection the producer opens,
//! bootstrap and leader, goes through TLS.
//!
//! The certificates are made here with rcgen (ECDSA P-256, the only kind embedded-tls verifies
//! without `alloc`): a CA, a server certificate for `localhost` and `127.0.0.1`, a client
//! certificate, an expired server certificate, one for another host, and another CA. One
//! stunnel process serves four ports: the good certificate, the expired one, the other host's
//! one, and the good one limited to TLS 1.2.
//!
//! Both TLS paths produce and the records are read back by kafka-python through stunnel, with
//! its own SSL options (CA, client certificate, host name check): rustls
//! (`transport::tokio::TokioTls`, TLS 1.3 and 1.2) and embedded-tls (`tls::TlsConnector`, the
//! boards' `no_std` code, here over Tokio sockets). A wrong CA, an expired certificate, a wrong
//! host name and a missing client certificate each fail, on each path, with an error that
//! names the problem. `tls_cli` runs the producer CLI with `security.protocol=SSL`.
//!
//! stunnel runs under the broker's watchdog shell (`common::broker::WATCHDOG`), so it dies
//! with the test process. A missing stunnel fails loudly: `scripts/setup-tls` installs it.

mod common;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use common::XorShift64;
use common::broker::{Broker, Options, WATCHDOG};
use embedded_io_async::{Read, Write};
use embedded_kafka::partition::{DefaultPartitioner, Murmur2, Sticky};
use embedded_kafka::producer::{Acks, Buffers, Config, Producer, Record};
use embedded_kafka::tls::{
    AlertDescription, CertificateProblem, ClientIdentity, RECORD_READ_SIZE, RECORD_WRITE_SIZE,
    RecordBuffers, ServerNames, TlsConnector, TlsError, TlsOptions,
};
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioTcp, TokioTls};
use embedded_nal_async::TcpConnect;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};

/// The certificates, as PEM files (stunnel, rustls, kafka-python, the CLI) and DER (embedded-tls).
struct Pki {
    dir: PathBuf,
    ca_der: Vec<u8>,
    other_ca_der: Vec<u8>,
    client_der: Vec<u8>,
    client_key_der: Vec<u8>,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn make(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("certificate directory");
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect(name);

        let ca = |cn: &str| {
            let key = KeyPair::generate().expect("CA key");
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.self_signed(&key).expect("CA certificate");
            (params, key, cert)
        };
        let (ca_params, ca_key, ca_cert) = ca("embedded-kafka test CA");
        let (_, _, other_ca) = ca("some other CA");
        write("ca.pem", &ca_cert.pem());
        write("other-ca.pem", &other_ca.pem());
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let leaf = |names: &[&str], cn: &str, expired: bool| {
            let key = KeyPair::generate().expect("leaf key");
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            if expired {
                params.not_before = date_time_ymd(2020, 1, 1);
                params.not_after = date_time_ymd(2021, 1, 1);
            }
            let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
            (cert, key)
        };
        for (name, names, expired) in [
            ("server", &["localhost", "127.0.0.1"][..], false),
            ("expired", &["localhost", "127.0.0.1"][..], true),
            ("elsewhere", &["elsewhere.example", "10.9.9.9"][..], false),
        ] {
            let (cert, key) = leaf(names, names[0], expired);
            write(&format!("{name}.pem"), &cert.pem());
            write(&format!("{name}.key"), &key.serialize_pem());
        }
        let (client, client_key) = leaf(&["sensor-1"], "sensor-1", false);
        write("client.pem", &client.pem());
        write("client.key", &client_key.serialize_pem());

        Self {
            dir: dir.to_owned(),
            ca_der: ca_cert.der().to_vec(),
            other_ca_der: other_ca.der().to_vec(),
            client_der: client.der().to_vec(),
            client_key_der: client_key.serialize_der(),
        }
    }
}

/// The broker, stunnel's four ports, the certificates.
struct Setup {
    pki: Pki,
    broker: Broker,
    good: SocketAddr,
    expired: SocketAddr,
    elsewhere: SocketAddr,
    tls12: SocketAddr,
    _stunnel: Child,
    /// Closing it (at process exit) makes the watchdog kill stunnel.
    _lifeline: Option<ChildStdin>,
}

fn free_addr() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
}

fn stunnel_binary() -> &'static str {
    for name in ["stunnel4", "stunnel"] {
        if Command::new(name)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return name;
        }
    }
    panic!(
        "no stunnel4 (the TLS terminator of the TLS tests): run `{}/scripts/setup-tls`",
        env!("CARGO_MANIFEST_DIR")
    );
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", std::process::id()));
        let pki = Pki::make(&dir);
        let (good, expired, elsewhere, tls12) =
            (free_addr(), free_addr(), free_addr(), free_addr());
        let broker = Broker::start_with(&Options {
            advertised: Some(good),
            ..Options::default()
        });
        let service = |name: &str, accept: SocketAddr, cert: &str, extra: &str| {
            format!(
                "[{name}]\naccept = {accept}\nconnect = {}\ncert = {}\nkey = {}\nCAfile = {}\n\
                 verify = 2\n{extra}\n",
                broker.addr(),
                pki.path(&format!("{cert}.pem")).display(),
                pki.path(&format!("{cert}.key")).display(),
                pki.path("ca.pem").display(),
            )
        };
        let conf = format!(
            "foreground = yes\npid =\ndebug = notice\n\n{}{}{}{}",
            service("good", good, "server", ""),
            service("expired", expired, "expired", ""),
            service("elsewhere", elsewhere, "elsewhere", ""),
            service("tls12", tls12, "server", "sslVersionMax = TLSv1.2"),
        );
        let conf_path = pki.path("stunnel.conf");
        std::fs::write(&conf_path, conf).expect("stunnel.conf");
        let log = pki.path("stunnel.log");
        let mut stunnel = Command::new("/bin/sh")
            .args(["-c", WATCHDOG, "stunnel-watchdog", stunnel_binary()])
            .arg(&conf_path)
            .env("BROKER_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start stunnel under the watchdog shell");
        let lifeline = stunnel.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        for addr in [good, expired, elsewhere, tls12] {
            while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
                if Instant::now() > deadline || !matches!(stunnel.try_wait(), Ok(None)) {
                    panic!(
                        "stunnel does not accept on {addr}; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Setup {
            pki,
            broker,
            good,
            expired,
            elsewhere,
            tls12,
            _stunnel: stunnel,
            _lifeline: lifeline,
        }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// An ApiVersions v0 request: any broker answers it, so a read after it shows whether the TLS
/// session is up.
const API_VERSIONS: [u8; 14] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];

/// Writes ApiVersions on a connection and reads the start of the answer.
async fn probe<S: Read + Write>(conn: &mut S) -> Result<usize, S::Error> {
    conn.write_all(&API_VERSIONS).await?;
    conn.flush().await?;
    let mut buf = [0u8; 64];
    conn.read(&mut buf).await
}

/// Reads, without writing, from a connection the server is expected to end (a refused client
/// certificate is refused after the handshake in TLS 1.3): writing first could meet a closed
/// socket before the alert is read. A server that does not end it within 10 s fails the test.
async fn refused<S: Read>(conn: &mut S) -> Result<usize, S::Error> {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf)).await {
        Ok(result) => result,
        Err(_) => panic!("the server kept the TLS session open: it should have refused it"),
    }
}

/// Produces `n` keyed records through `connector`, acks=all, and flushes.
async fn produce<C: TcpConnect>(
    connector: &C,
    bootstrap: SocketAddr,
    topic: &str,
    run: &str,
    n: usize,
) {
    let servers = [bootstrap];
    let config = Config::new(&servers)
        .client_id("tls-test")
        .acks(Acks::All)
        .linger_ms(5)
        .batch_size(1024)
        .request_timeout_ms(10_000);
    let mut buffers = Buffers::<4096, 512, 1024, 3>::new();
    let partitioner: DefaultPartitioner<_> = Murmur2::new(Sticky::new(XorShift64::new(7)));
    let mut producer: Producer<
        '_,
        C,
        TokioClock,
        TokioDelay,
        DefaultPartitioner<XorShift64>,
        2,
        3,
        64,
    > = Producer::new(
        connector,
        TokioClock::new(),
        TokioDelay,
        partitioner,
        config,
        &mut buffers,
    )
    .expect("valid configuration");
    for i in 0..n {
        let key = format!("key-{i}");
        let value = format!("{run}-{i}");
        let mut record = Record::default().key(key.as_bytes());
        record.value = Some(value.as_bytes());
        producer
            .send(topic, record)
            .await
            .unwrap_or_else(|e| panic!("send {i} over TLS: {e}"));
    }
    let summary = producer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("flush over TLS: {e}"));
    assert_eq!(summary.failed_batches, 0);
}

/// The values kafka-python reads from `topic` through stunnel (SSL, host name checked).
fn read_back(setup: &Setup, topic: &str, expected: usize) -> Vec<String> {
    let pki = &setup.pki;
    let out = common::run_python(
        "consume.py",
        format!(
            "localhost:{} {topic} {expected} {} {} {}\n",
            setup.good.port(),
            pki.path("ca.pem").display(),
            pki.path("client.pem").display(),
            pki.path("client.key").display(),
        )
        .as_bytes(),
    );
    let out = String::from_utf8(out).expect("utf-8");
    let mut values: Vec<String> = out
        .lines()
        .skip(1)
        .map(|line| {
            let value = line.split(' ').nth(4).expect("a value field");
            String::from_utf8(common::unhex(value)).expect("utf-8 value")
        })
        .collect();
    values.sort();
    values
}

fn expected_values(run: &str, n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| format!("{run}-{i}")).collect();
    v.sort();
    v
}

fn rustls(pki: &Pki, ca: &str, client: bool) -> TokioTls {
    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    TokioTls::from_pem_files(
        &pki.path(ca),
        client.then_some((cert.as_path(), key.as_path())),
    )
    .expect("rustls configuration")
    .with_server_name("localhost")
    .expect("a valid name")
}

#[test]
fn rustls_produces_and_records_read_back() {
    let setup = setup();
    setup.broker.create_topic("tls-rustls", 3);
    let connector = rustls(&setup.pki, "ca.pem", true);
    runtime().block_on(produce(&connector, setup.good, "tls-rustls", "rustls", 50));
    assert_eq!(
        read_back(setup, "tls-rustls", 50),
        expected_values("rustls", 50)
    );
}

#[test]
fn rustls_speaks_tls_1_2_too() {
    let setup = setup();
    let connector = rustls(&setup.pki, "ca.pem", true);
    runtime().block_on(async {
        let mut conn = connector
            .connect(setup.tls12)
            .await
            .expect("TLS 1.2 handshake");
        let n = probe(&mut conn).await.expect("ApiVersions over TLS 1.2");
        assert!(n > 0);
    });
}

/// The message of a refused rustls connection (the handshake, or the first read after it).
fn rustls_failure(connector: &TokioTls, addr: SocketAddr) -> String {
    runtime().block_on(async {
        match connector.connect(addr).await {
            Err(e) => e.to_string(),
            Ok(mut conn) => match refused(&mut conn).await {
                Err(e) => e.to_string(),
                Ok(n) => panic!("{addr} answered {n} bytes over TLS; it should have refused"),
            },
        }
    })
}

#[test]
fn rustls_refusals_name_the_problem() {
    let setup = setup();
    let pki = &setup.pki;
    let cases = [
        (
            "wrong CA",
            rustls(pki, "other-ca.pem", true),
            setup.good,
            "UnknownIssuer",
        ),
        (
            "expired",
            rustls(pki, "ca.pem", true),
            setup.expired,
            "certificate expired",
        ),
        (
            "wrong host",
            rustls(pki, "ca.pem", true),
            setup.elsewhere,
            "not valid for name",
        ),
        (
            "no client certificate",
            rustls(pki, "ca.pem", false),
            setup.good,
            "CertificateRequired",
        ),
    ];
    for (case, connector, addr, needle) in cases {
        let message = rustls_failure(&connector, addr);
        eprintln!("rustls, {case}: {message}");
        assert!(
            message.contains(needle),
            "{case}: {message:?} does not say {needle}"
        );
        if case != "no client certificate" {
            assert!(
                message.contains("localhost"),
                "{case}: {message:?} names no host"
            );
        }
    }
}

/// The system clock for embedded-tls's validity checks (a board reads its RTC).
struct SystemClock;

impl embedded_kafka::tls::TlsClock for SystemClock {
    fn now() -> Option<u64> {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

type Board<'b> = TlsConnector<'b, TokioTcp, rand_core_06::OsRng, SystemClock>;

/// `slots` record-buffer pairs, as a board would have in static memory.
fn buffer_memory(slots: usize) -> Vec<u8> {
    vec![0; slots * (RECORD_READ_SIZE + RECORD_WRITE_SIZE)]
}

fn slots(memory: &mut [u8]) -> Vec<RecordBuffers<'_>> {
    memory
        .chunks_mut(RECORD_READ_SIZE + RECORD_WRITE_SIZE)
        .map(|chunk| {
            let (read, write) = chunk.split_at_mut(RECORD_READ_SIZE);
            RecordBuffers::new(read, write)
        })
        .collect()
}

fn board<'b>(
    ca: &'b [u8],
    client: Option<ClientIdentity<'b>>,
    slots: &'b [RecordBuffers<'b>],
) -> Board<'b> {
    let options = TlsOptions {
        ca,
        names: ServerNames::all("localhost"),
        client,
    };
    TlsConnector::new(TokioTcp, options, slots, rand_core_06::OsRng).expect("TLS options")
}

fn identity(pki: &Pki) -> ClientIdentity<'_> {
    ClientIdentity::new(&pki.client_der, &pki.client_key_der).expect("a P-256 PKCS#8 key")
}

#[test]
fn embedded_tls_produces_and_records_read_back() {
    let setup = setup();
    setup.broker.create_topic("tls-embedded", 3);
    let mut memory = buffer_memory(4);
    let slots = slots(&mut memory);
    let connector = board(&setup.pki.ca_der, Some(identity(&setup.pki)), &slots);
    runtime().block_on(produce(
        &connector,
        setup.good,
        "tls-embedded",
        "embedded",
        50,
    ));
    eprintln!(
        "embedded-tls: {} of {} record-buffer slots used",
        slots.len() - connector.buffers_left(),
        slots.len()
    );
    assert_eq!(
        read_back(setup, "tls-embedded", 50),
        expected_values("embedded", 50)
    );
}

/// The error of a refused embedded-tls connection (the handshake, or the first read after it).
fn embedded_failure(connector: &Board<'_>, addr: SocketAddr) -> TlsError<std::io::Error> {
    runtime().block_on(async {
        match connector.connect(addr).await {
            Err(e) => e,
            Ok(mut conn) => match refused(&mut conn).await {
                Err(e) => e,
                Ok(n) => panic!("{addr} answered {n} bytes over TLS; it should have refused"),
            },
        }
    })
}

#[test]
fn embedded_tls_refusals_name_the_problem() {
    let setup = setup();
    let pki = &setup.pki;
    let mut memory = buffer_memory(5);
    let slots = slots(&mut memory);
    let (good_ca, other_ca) = (&pki.ca_der[..], &pki.other_ca_der[..]);
    let certificate = |problem| move |e: &TlsError<std::io::Error>| matches!(e, TlsError::Certificate { problem: p, .. } if *p == problem);
    type Check = Box<dyn Fn(&TlsError<std::io::Error>) -> bool>;
    let cases: [(&str, Board<'_>, SocketAddr, Check, &str); 5] = [
        (
            "wrong CA",
            board(other_ca, Some(identity(pki)), &slots[0..1]),
            setup.good,
            Box::new(certificate(CertificateProblem::UnknownIssuer)),
            "not signed by the configured CA",
        ),
        (
            "expired",
            board(good_ca, Some(identity(pki)), &slots[1..2]),
            setup.expired,
            Box::new(certificate(CertificateProblem::NotValidNow)),
            "expired",
        ),
        (
            "wrong host",
            board(good_ca, Some(identity(pki)), &slots[2..3]),
            setup.elsewhere,
            Box::new(certificate(CertificateProblem::WrongHostName)),
            "not for host name \"localhost\"",
        ),
        (
            "no client certificate",
            board(good_ca, None, &slots[3..4]),
            setup.good,
            Box::new(|e| {
                matches!(
                    e,
                    TlsError::AlertAfterHandshake {
                        certificate_requested: true,
                        certificate_sent: false
                    }
                )
            }),
            "requires a client certificate",
        ),
        (
            "TLS 1.2 only",
            board(good_ca, Some(identity(pki)), &slots[4..5]),
            setup.tls12,
            Box::new(|e| matches!(e, TlsError::Alert(AlertDescription::ProtocolVersion))),
            "does not speak TLS 1.3",
        ),
    ];
    for (case, connector, addr, check, needle) in cases {
        let error = embedded_failure(&connector, addr);
        let message = error.to_string();
        eprintln!("embedded-tls, {case}: {message} ({error:?})");
        assert!(check(&error), "{case}: {error:?}");
        assert!(
            message.contains(needle),
            "{case}: {message:?} does not say {needle:?}"
        );
    }
}

#[test]
fn embedded_tls_spent_slots_are_an_error() {
    let setup = setup();
    let mut memory = buffer_memory(1);
    let slots = slots(&mut memory);
    let connector = board(&setup.pki.ca_der, Some(identity(&setup.pki)), &slots);
    runtime().block_on(async {
        let mut conn = connector
            .connect(setup.good)
            .await
            .expect("first connection");
        assert!(probe(&mut conn).await.expect("ApiVersions") > 0);
        drop(conn);
        let error = connector
            .connect(setup.good)
            .await
            .expect_err("no slot left");
        assert!(
            matches!(error, TlsError::NoBuffers { slots: 1 }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("no TLS record buffers left"),
            "{error}"
        );
    });
}

/// A connector whose connections hand out one byte a read, and make every other read wait
/// once (it wakes itself at once): a TLS record then arrives in many pieces.
struct Trickle;

struct TrickleConn<C> {
    inner: C,
    wait: bool,
}

impl<C: embedded_io_async::ErrorType> embedded_io_async::ErrorType for TrickleConn<C> {
    type Error = C::Error;
}

impl<C: Read> Read for TrickleConn<C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, C::Error> {
        self.wait = !self.wait;
        if self.wait {
            tokio::task::yield_now().await;
        }
        let one = buf.len().min(1);
        self.inner.read(&mut buf[..one]).await
    }
}

impl<C: Write> Write for TrickleConn<C> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, C::Error> {
        self.inner.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), C::Error> {
        self.inner.flush().await
    }
}

impl TcpConnect for Trickle {
    type Error = std::io::Error;
    type Connection<'a> = TrickleConn<<TokioTcp as TcpConnect>::Connection<'a>>;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> std::io::Result<Self::Connection<'a>> {
        Ok(TrickleConn {
            inner: TokioTcp.connect(remote).await?,
            wait: false,
        })
    }
}

/// The producer drops reads half-way (its stray-response drain polls a read once): over a
/// socket that delivers one byte at a time, every read of the TLS stream that has to wait is
/// dropped and started again, as in the drain, and the response still arrives whole.
#[test]
fn embedded_tls_reads_survive_being_dropped() {
    let setup = setup();
    let mut memory = buffer_memory(1);
    let slots = slots(&mut memory);
    let options = TlsOptions {
        ca: &setup.pki.ca_der,
        names: ServerNames::all("localhost"),
        client: Some(identity(&setup.pki)),
    };
    let connector: TlsConnector<'_, Trickle, rand_core_06::OsRng, SystemClock> =
        TlsConnector::new(Trickle, options, &slots, rand_core_06::OsRng).expect("TLS options");
    runtime().block_on(async {
        let mut conn = connector.connect(setup.good).await.expect("handshake");
        conn.write_all(&API_VERSIONS).await.expect("write");
        conn.flush().await.expect("flush");
        let mut response = Vec::new();
        let mut dropped = 0;
        // The size prefix, then that many bytes.
        while response.len() < 4
            || response.len() < 4 + u32::from_be_bytes(response[..4].try_into().unwrap()) as usize
        {
            let mut buf = [0u8; 256];
            let read = std::future::poll_fn(|cx| {
                let poll = std::pin::pin!(conn.read(&mut buf)).poll(cx);
                if poll.is_pending() {
                    dropped += 1;
                }
                poll
            });
            // A stream that lost its framing waits for a record that never comes.
            let n = tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .unwrap_or_else(|_| {
                    panic!("no response within 10 s: the TLS stream lost its framing")
                })
                .unwrap_or_else(|e| panic!("read after {dropped} dropped reads: {e}"));
            assert!(n > 0, "end of stream");
            response.extend_from_slice(&buf[..n]);
        }
        assert_eq!(&response[4..8], &1i32.to_be_bytes(), "correlation id");
        assert!(dropped > 10, "only {dropped} reads were dropped");
        eprintln!(
            "ApiVersions response ({} bytes) read whole across {dropped} dropped reads",
            response.len()
        );
    });
}

/// Prints handshake times of both paths and the RAM of the embedded-tls path (no assertion
/// on time or size: figures for the docs).
#[test]
fn handshake_figures() {
    let setup = setup();
    let rustls = rustls(&setup.pki, "ca.pem", true);
    let mut memory = buffer_memory(5);
    let slots = slots(&mut memory);
    let board = board(&setup.pki.ca_der, Some(identity(&setup.pki)), &slots);
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    runtime().block_on(async {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let mut conn = rustls.connect(setup.good).await.expect("rustls handshake");
            probe(&mut conn).await.expect("ApiVersions");
            times.push(start.elapsed());
        }
        times.sort();
        eprintln!(
            "rustls handshake + ApiVersions ({build} build), median of 5: {:?}",
            times[2]
        );

        // What a board pays besides the record buffers: the connection (key schedule and
        // record state, over the socket) and the handshake's future (the CERT-byte chain copy,
        // the verifier, the provider): the peak while `connect` runs.
        let handshake = board.connect(setup.good);
        let future_bytes = std::mem::size_of_val(&handshake);
        let conn = handshake.await.expect("embedded-tls handshake");
        eprintln!(
            "embedded-tls RAM: record buffers {RECORD_READ_SIZE} + {RECORD_WRITE_SIZE} bytes a \
             connection; connection {} bytes (of which the Tokio socket {}); connect future {} \
             bytes; connector {} bytes",
            std::mem::size_of_val(&conn),
            std::mem::size_of::<<TokioTcp as TcpConnect>::Connection<'static>>(),
            future_bytes,
            std::mem::size_of_val(&board),
        );
        drop(conn);
        let mut times = Vec::new();
        for _ in 0..4 {
            let start = Instant::now();
            let mut conn = board
                .connect(setup.good)
                .await
                .expect("embedded-tls handshake");
            probe(&mut conn).await.expect("ApiVersions");
            times.push(start.elapsed());
        }
        times.sort();
        eprintln!(
            "embedded-tls handshake + ApiVersions ({build} build), median of 4: {:?}",
            times[2]
        );
    });
}

/// The `producer` example built as tests/cli.rs builds it (same target directory, profile and
/// features, so one build serves both), with `tls-rustls`.
fn producer_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
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
        let mut features = Vec::new();
        for (on, name) in [
            (cfg!(feature = "std"), "std"),
            (cfg!(feature = "log"), "log"),
            (cfg!(feature = "defmt"), "defmt"),
            (cfg!(feature = "producer"), "producer"),
            (true, "tokio"),
            (true, "tls-rustls"),
        ] {
            if on {
                features.push(name);
            }
        }
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--example", "producer", "--target-dir"])
            .arg(target)
            .args(["--features", &features.join(",")]);
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

/// The seed's values: `{"number": I}` padded to 100 bytes, sorted as strings.
fn seed_values(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n)
        .map(|i| format!("{:<100}", format!("{{\"number\": {i}}}")))
        .collect();
    v.sort();
    v
}

/// The CLI with `security.protocol=SSL`: properties on the command line, and the seed's YAML
/// (`ssl_config:` with `ssl_cafile`, `ssl_certfile`, `ssl_keyfile`); then its refusals.
#[test]
fn tls_cli() {
    let setup = setup();
    let pki = &setup.pki;
    let bootstrap = format!("localhost:{}", setup.good.port());
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    let props = |ca: &Path| {
        vec![
            "-X".to_owned(),
            "security.protocol=SSL".to_owned(),
            "-X".to_owned(),
            format!("ssl.ca.location={}", ca.display()),
            "-X".to_owned(),
            format!("ssl.certificate.location={}", cert.display()),
            "-X".to_owned(),
            format!("ssl.key.location={}", key.display()),
        ]
    };
    let run = |args: &[String]| {
        Command::new(producer_bin())
            .args(args)
            .output()
            .expect("cannot run the producer example")
    };

    setup.broker.create_topic("tls-cli", 3);
    let mut args = vec![
        "--bootstrap".to_owned(),
        bootstrap.clone(),
        "--topic".to_owned(),
        "tls-cli".to_owned(),
        "--messages".to_owned(),
        "30".to_owned(),
        "--create-keys".to_owned(),
    ];
    args.extend(props(&ca));
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the CLI over TLS failed: {stderr}");
    assert!(stderr.contains("security.protocol=SSL"), "{stderr}");

    // The seed's YAML layout, through the same stunnel port.
    setup.broker.create_topic("tls-cli-yaml", 1);
    let yaml = pki.path("seed.yaml");
    std::fs::write(
        &yaml,
        format!(
            "brokers:\n    - name: broker1\n      ip: localhost\n      port: \"{}\"\n\
             ssl_config:\n      ssl_cafile: {}\n      ssl_certfile: {}\n      ssl_keyfile: {}\n",
            setup.good.port(),
            ca.display(),
            cert.display(),
            key.display()
        ),
    )
    .expect("seed.yaml");
    let out = run(&[
        "--config".to_owned(),
        yaml.display().to_string(),
        "--topic".to_owned(),
        "tls-cli-yaml".to_owned(),
        "--messages".to_owned(),
        "10".to_owned(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the CLI with the seed's YAML over TLS failed: {stderr}"
    );

    assert_eq!(read_back(setup, "tls-cli", 30), seed_values(30));
    assert_eq!(read_back(setup, "tls-cli-yaml", 10), seed_values(10));

    // A CA that did not sign the broker's certificate: exit 1 and the reason.
    let mut args = vec![
        "--bootstrap".to_owned(),
        bootstrap.clone(),
        "--messages".to_owned(),
        "1".to_owned(),
    ];
    args.extend(props(&pki.path("other-ca.pem")));
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");

    // SASL_SSL is TLS first: without a CA it is refused, and says so.
    let out = run(&[
        "--bootstrap".to_owned(),
        bootstrap,
        "-X".to_owned(),
        "security.protocol=SASL_SSL".to_owned(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs ssl.ca.location"), "{stderr}");
}
