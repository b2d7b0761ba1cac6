//! The seed's `producer.py` (the kafka-python tutorial this crate grew from), in Rust: sends N
//! records to a topic with the async producer on Tokio and reports how many were delivered
//! and how fast, so the seed's two measured scenarios can be run as they were:
//!
//! ```text
//! cargo run --release --example producer --features tokio -- --bootstrap 127.0.0.1:9092 \
//!     --messages 10000 --acks 0
//! cargo run --release --example producer --features tokio -- --bootstrap 127.0.0.1:9092 \
//!     --messages 10000 --acks all --max-in-flight 1 --wait --create-keys
//! ```
//!
//! Values are deterministic, so a consumer can check every one: the seed's JSON
//! `{"number": I}` padded with spaces to `--value-size` bytes, written by a closure straight
//! into the batch (`send_with`: no value buffer). Delivered records are counted from the
//! producer's batch reports, not assumed: with `acks=0` "delivered" means written to the
//! connection, which is all Kafka itself can say then. `--help` lists the flags; `scripts/demo`
//! runs both scenarios against a local broker.
//!
//! The program is std and allocates (its buffers are boxed, sized for the largest
//! `batch.size` it accepts); the producer inside does not.

mod options;

use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use embedded_kafka::partition::{DefaultPartitioner, Murmur2, Sticky};
use embedded_kafka::producer::{
    Acks, BatchReport, Buffers, Config, Producer, Record, SecurityProtocol, ValueError,
};
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioDns, TokioTcp};
use embedded_nal_async::TcpConnect;

use options::{Bootstrap, Command, HELP, MAX_BATCH, Settings};

/// Receive buffer: Metadata and Produce responses (a few hundred bytes each here).
const RX: usize = 64 * 1024;
/// Request prefixes (ApiVersions, Metadata, Produce headers).
const TX: usize = 4 * 1024;
/// Batch buffers: as many partitions with records waiting at once (more partitions than this
/// just means earlier sends), each as large as the largest `batch.size` accepted.
const B: usize = 4;
/// Batch outcomes remembered between two `take_reports` (called after every send).
const R: usize = 64;
/// One topic per run.
const T: usize = 1;

type CliBuffers = Buffers<RX, TX, MAX_BATCH, B>;
type CliProducer<'a, C> =
    Producer<'a, C, TokioClock, TokioDelay, DefaultPartitioner<XorShift>, T, B, R, TokioDns>;

fn main() -> ExitCode {
    let settings = match options::parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run(settings)) => settings,
        Err(e) => {
            eprintln!("producer: {e}");
            return ExitCode::from(2);
        }
    };
    for key in &settings.unknown {
        eprintln!("producer: warning: {key} is not a property this program knows; ignored");
    }
    eprint!("{}", settings.describe());
    // The buffers are built in place and boxed; a debug build may build them on the stack
    // first, so the work runs on a thread whose stack can hold them.
    let worker = std::thread::Builder::new()
        .name("producer".to_owned())
        .stack_size(4 * std::mem::size_of::<CliBuffers>() + (8 << 20))
        .spawn(move || run(&settings));
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => {
            eprintln!("producer: the worker thread panicked");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("producer: cannot start the worker thread: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a run stopped early.
enum Fatal {
    /// The configuration is unusable (exit status 2).
    Config(String),
    /// The broker could not be reached, or a request failed for good (exit status 1).
    Run(String),
}

/// What happened to the records.
#[derive(Debug, Default)]
struct Tally {
    messages: u64,
    /// Handed to the producer.
    sent: u64,
    /// Reported delivered (acks=0: written to the connection).
    delivered: u64,
    /// Reported failed.
    failed: u64,
    /// Value bytes handed to the producer.
    value_bytes: u64,
    /// Until the last record was written (and, with acks ≠ 0, acknowledged).
    written: Duration,
    /// Until then, and with acks=0 until the broker's stray answers were all in (see
    /// `Producer::close`): the time that counts.
    elapsed: Duration,
    /// Produce requests written (with `--wait`, one per record).
    requests: u32,
    /// The first delivery failure, as the producer reported it.
    first_failure: Option<String>,
}

impl Tally {
    fn count(&mut self, report: &BatchReport<'_>) {
        match report.result {
            Ok(_) => self.delivered += u64::from(report.records),
            Err(e) => {
                self.failed += u64::from(report.records);
                if self.first_failure.is_none() {
                    self.first_failure = Some(format!("{}: {e}", report.topic));
                }
            }
        }
    }

    fn rates(&self) -> (f64, f64, f64) {
        let secs = self.elapsed.as_secs_f64();
        let per_s = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
        // Bytes of the delivered records' values (all the same size unless --value-size is
        // smaller than the JSON).
        let delivered_bytes = if self.sent > 0 {
            self.value_bytes as f64 * self.delivered as f64 / self.sent as f64
        } else {
            0.0
        };
        (
            secs,
            per_s(self.delivered as f64),
            per_s(delivered_bytes) / 1e6,
        )
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal (a log or a pipe gets the
/// summary alone).
struct Progress {
    on: bool,
    total: u64,
    drawn: Option<(u64, Instant)>,
}

impl Progress {
    fn new(total: u64) -> Self {
        Self {
            on: std::io::stderr().is_terminal() && total > 0,
            total,
            drawn: None,
        }
    }

    fn update(&mut self, tally: &Tally) {
        if !self.on {
            return;
        }
        let done = tally.delivered + tally.failed;
        // At most every 100 ms, and always at the end.
        if let Some((_, at)) = self.drawn
            && at.elapsed() < Duration::from_millis(100)
            && done < self.total
        {
            return;
        }
        let width = 40u64;
        let filled = (done.min(self.total) * width / self.total) as usize;
        eprint!(
            "\r[{}{}] {done}/{} delivered, {} failed",
            "#".repeat(filled),
            " ".repeat(width as usize - filled),
            self.total,
            tally.failed
        );
        let _ = std::io::stderr().flush();
        self.drawn = Some((done, Instant::now()));
    }

    fn finish(&mut self) {
        if self.on && self.drawn.is_some() {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// A small xorshift64* generator: the sticky partitioner's randomness (which partition keyless
/// records stick to next), seeded from the clock. Not for anything secret.
struct XorShift(u64);

impl rand_core::RngCore for XorShift {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dst);
    }
}

/// The operating system's random source (`/dev/urandom`), for SCRAM nonces: they must be
/// unpredictable, which the partitioner's xorshift is not.
struct OsRandom(std::fs::File);

impl OsRandom {
    fn open() -> Result<Self, String> {
        std::fs::File::open("/dev/urandom")
            .map(Self)
            .map_err(|e| format!("cannot open /dev/urandom for SCRAM nonces: {e}"))
    }
}

impl rand_core::RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        use std::io::Read as _;
        // A nonce of zeros would be predictable: better no login than a weak one.
        self.0
            .read_exact(dst)
            .expect("reading /dev/urandom for a SCRAM nonce");
    }
}

/// Writes record `i`'s value into `out`: `{"number": i}` (what the seed's `json.dumps`
/// writes), then spaces up to `size` bytes. Returns its length.
fn write_value(i: u64, size: usize, out: &mut [u8]) -> Result<usize, ValueError> {
    const OPEN: &[u8] = b"{\"number\": ";
    let mut digits = [0u8; 20];
    let digits = decimal(i, &mut digits);
    let n = OPEN.len() + digits.len() + 1;
    let len = n.max(size);
    let dst = out.get_mut(..len).ok_or(ValueError::DoesNotFit)?;
    let (text, pad) = dst.split_at_mut(n);
    let (open, rest) = text.split_at_mut(OPEN.len());
    open.copy_from_slice(OPEN);
    let (number, close) = rest.split_at_mut(digits.len());
    number.copy_from_slice(digits);
    close.fill(b'}');
    pad.fill(b' ');
    Ok(len)
}

/// `i` in decimal, written at the end of `buf`. The CLI writes a value and a key per record:
/// `core::fmt` for that cost more CPU than the producer's own work per record.
fn decimal(mut i: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (i % 10) as u8;
        i /= 10;
        if i == 0 {
            break;
        }
    }
    &buf[at..]
}

fn run(settings: &Settings) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("producer: cannot start a Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let servers: Vec<SocketAddr> = settings
        .bootstrap
        .iter()
        .filter_map(|b| match b {
            Bootstrap::Addr(a) => Some(*a),
            Bootstrap::Host(..) => None,
        })
        .collect();
    let hosts: Vec<(&str, u16)> = settings
        .bootstrap
        .iter()
        .filter_map(|b| match b {
            Bootstrap::Host(h, p) => Some((h.as_str(), *p)),
            Bootstrap::Addr(_) => None,
        })
        .collect();
    let mut buffers = Box::new(CliBuffers::new());
    let mut tally = Tally {
        messages: settings.messages,
        ..Tally::default()
    };
    let mut progress = Progress::new(settings.messages);
    let outcome = if matches!(settings.security_protocol.as_str(), "SSL" | "SASL_SSL") {
        match tls_connector(settings) {
            Ok(connector) => runtime.block_on(produce(
                settings,
                &servers,
                &hosts,
                &connector,
                &mut buffers,
                &mut tally,
                &mut progress,
            )),
            Err(e) => Err(Fatal::Config(e)),
        }
    } else {
        runtime.block_on(produce(
            settings,
            &servers,
            &hosts,
            &TokioTcp,
            &mut buffers,
            &mut tally,
            &mut progress,
        ))
    };
    progress.finish();
    if let Err(Fatal::Config(e)) = &outcome {
        eprintln!("producer: configuration: {e}");
        return ExitCode::from(2);
    }
    let error = match outcome {
        Err(Fatal::Run(e)) => Some(e),
        _ => tally
            .first_failure
            .clone()
            .map(|e| format!("delivery failed: {e}")),
    };
    report(settings, &tally, error.as_deref());
    match error {
        Some(e) => {
            eprintln!("producer: {e}");
            ExitCode::FAILURE
        }
        None if tally.delivered < tally.messages => {
            eprintln!(
                "producer: {} of {} records have no delivery report",
                tally.messages - tally.delivered,
                tally.messages
            );
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

async fn produce<'a, C: TcpConnect<Error = std::io::Error>>(
    settings: &'a Settings,
    servers: &'a [SocketAddr],
    hosts: &'a [(&'a str, u16)],
    connector: &'a C,
    buffers: &'a mut CliBuffers,
    tally: &mut Tally,
    progress: &mut Progress,
) -> Result<(), Fatal> {
    let config = Config::new(servers)
        .bootstrap_hosts(hosts)
        .client_id(&settings.client_id)
        .acks(settings.acks)
        .linger_ms(settings.linger_ms)
        .batch_size(settings.batch_size)
        .max_in_flight(settings.max_in_flight)
        .retries(settings.retries)
        .retry_backoff_ms(settings.retry_backoff_ms, settings.retry_backoff_max_ms)
        .request_timeout_ms(settings.request_timeout_ms)
        .delivery_timeout_ms(settings.delivery_timeout_ms)
        .metadata_max_age_ms(settings.metadata_max_age_ms)
        .enable_idempotence(settings.enable_idempotence)
        .compression(settings.compression);
    let sasl = settings.sasl().map_err(Fatal::Config)?;
    let config = match &sasl {
        Some((mechanism, user, password)) => config
            .security_protocol(if settings.security_protocol == "SASL_SSL" {
                SecurityProtocol::SaslSsl
            } else {
                SecurityProtocol::SaslPlaintext
            })
            .sasl(*mechanism, user, password),
        None => config,
    };
    // SCRAM nonces from the operating system's random source.
    let mut os_random = OsRandom::open().map_err(Fatal::Config)?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    // compression.type: one batch buffer's worth of scratch, for the whole producer.
    let scratch_len = if settings.compression.code() == 0 {
        0
    } else {
        MAX_BATCH
    };
    let mut scratch = vec![0u8; scratch_len];
    let mut producer: CliProducer<'_, C> = Producer::new(
        connector,
        TokioClock::new(),
        TokioDelay,
        Murmur2::new(Sticky::new(XorShift(seed))),
        config,
        buffers,
    )
    .map_err(|e| Fatal::Config(e.to_string()))?
    .with_dns(TokioDns)
    .with_sasl_rng(&mut os_random)
    .with_compression_scratch(&mut scratch);

    let bootstrap: Vec<String> = settings.bootstrap.iter().map(ToString::to_string).collect();
    let fatal = |e: &dyn std::fmt::Display| {
        Fatal::Run(format!(
            "producing to topic {} via {}: {e}",
            settings.topic,
            bootstrap.join(",")
        ))
    };
    let topic = settings.topic.as_str();
    let mut key = [0u8; 20];
    let started = Instant::now();
    for i in 0..settings.messages {
        let mut record = Record::new(&[]);
        if settings.create_keys {
            record = record.key(decimal(i, &mut key));
        }
        if let Some(p) = settings.partition {
            record = record.partition(p);
        }
        let mut len = 0;
        let sent = producer
            .send_with(topic, record, |out| {
                write_value(i, settings.value_size, out).inspect(|&n| len = n)
            })
            .await;
        // Reports first: a failed send may still have delivered earlier batches.
        producer.take_reports(|r| tally.count(r));
        let ticket = match sent {
            Ok(ticket) => ticket,
            Err(e) => {
                tally.elapsed = started.elapsed();
                tally.requests = producer.produce_requests();
                return Err(fatal(&e));
            }
        };
        tally.sent += 1;
        tally.value_bytes += len as u64;
        if settings.wait {
            // The outcome itself arrives as a batch report (counted just below). A failed
            // delivery is counted and the run goes on (the seed's exited on the first); the
            // exit status says it failed.
            let waited = producer.wait(&ticket).await;
            producer.take_reports(|r| tally.count(r));
            if let Err(e) = waited {
                tally.elapsed = started.elapsed();
                tally.requests = producer.produce_requests();
                return Err(fatal(&e));
            }
        }
        progress.update(tally);
    }
    let flushed = producer.flush().await;
    producer.take_reports(|r| tally.count(r));
    tally.written = started.elapsed();
    tally.elapsed = tally.written;
    tally.requests = producer.produce_requests();
    progress.update(tally);
    flushed.map_err(|e| fatal(&e))?;
    // Closing reads the answers a broker sends even to acks=0 requests (Tansu does, Kafka does
    // not) before the connections close: see `Producer::close`.
    producer.close().await.map_err(|e| fatal(&e))?;
    producer.take_reports(|r| tally.count(r));
    // A broker that does not answer acks=0 had everything once it was written: the time
    // `close` spent finding that out is not its time.
    let answers = settings.acks != Acks::None || producer.stray_responses() > 0;
    tally.elapsed = if answers {
        started.elapsed()
    } else {
        tally.written
    };
    tally.requests = producer.produce_requests();
    if producer.reports_dropped() > 0 {
        return Err(Fatal::Run(format!(
            "{} batch reports were overwritten unread: the counts are incomplete",
            producer.reports_dropped()
        )));
    }
    Ok(())
}

/// The rustls connector `security.protocol=SSL` asks for: the CA (`ssl.ca.location`), the
/// client certificate and key if given, and host names as Kafka's Java client checks them
/// (`ssl.endpoint.identification.algorithm=https`): a broker's certificate must carry the
/// name it is known by. The producer hands its connector addresses only, so each bootstrap
/// host name is resolved here and its addresses are tied to it; any other broker (a leader
/// advertised elsewhere) must present a certificate for the first bootstrap host name, or,
/// when every bootstrap server is an address, for its own IP address.
#[cfg(feature = "tls-rustls")]
fn tls_connector(
    settings: &Settings,
) -> Result<embedded_kafka::transport::tokio::TokioTls, String> {
    use std::net::ToSocketAddrs;
    use std::path::Path;

    let ca = settings.security("ssl.ca.location").unwrap_or_default();
    let cert = settings.security("ssl.certificate.location");
    let key = settings.security("ssl.key.location");
    let client = cert.zip(key).map(|(c, k)| (Path::new(c), Path::new(k)));
    let mut connector =
        embedded_kafka::transport::tokio::TokioTls::from_pem_files(Path::new(ca), client)
            .map_err(|e| e.to_string())?;
    let mut first = true;
    for b in &settings.bootstrap {
        let Bootstrap::Host(host, port) = b else {
            continue;
        };
        if first {
            connector = connector
                .with_server_name(host)
                .map_err(|e| e.to_string())?;
            first = false;
        }
        // A name that does not resolve now is left to the producer's own resolver (and its
        // error); its certificate is then checked against the first host name.
        for addr in (host.as_str(), *port)
            .to_socket_addrs()
            .into_iter()
            .flatten()
        {
            connector = connector
                .with_server_name_for(addr, host)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(connector)
}

/// Without the `tls-rustls` feature there is no TLS connector to build.
#[cfg(not(feature = "tls-rustls"))]
fn tls_connector(_settings: &Settings) -> Result<TokioTcp, String> {
    Err(
        "security.protocol=SSL needs a build with TLS: cargo run --example producer \
         --features tokio,tls-rustls"
            .to_owned(),
    )
}

/// The summary line (stdout), and with `--json` one JSON object as the last line of stdout.
fn report(settings: &Settings, tally: &Tally, error: Option<&str>) {
    let (secs, msgs_per_s, mb_per_s) = tally.rates();
    let failed = tally.messages - tally.delivered.min(tally.messages);
    let acks = match settings.acks {
        Acks::None => "0",
        Acks::Leader => "1",
        Acks::All => "all",
    };
    let note = if settings.acks == Acks::None {
        " (acks=0: delivered = written to the connection)"
    } else {
        ""
    };
    println!(
        "{} messages, {} delivered, {failed} failed, {secs:.3} s, {msgs_per_s:.0} msgs/s, \
         {mb_per_s:.2} MB/s{note}",
        tally.messages, tally.delivered
    );
    if settings.json {
        let error = error.map_or_else(|| "null".to_owned(), json_string);
        println!(
            "{{\"messages\":{},\"delivered\":{},\"failed\":{failed},\"elapsed_s\":{secs:.6},\
             \"msgs_per_s\":{msgs_per_s:.1},\"written_s\":{:.6},\"requests\":{},\"mb_per_s\":{mb_per_s:.4},\"acks\":\"{acks}\",\
             \"value_size\":{},\"topic\":{},\"error\":{error}}}",
            tally.messages,
            tally.delivered,
            tally.written.as_secs_f64(),
            tally.requests,
            settings.value_size,
            json_string(&settings.topic)
        );
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_seeds_json_padded() {
        let mut out = [0u8; 128];
        let n = write_value(42, 20, &mut out).unwrap();
        assert_eq!(&out[..n], b"{\"number\": 42}      ");
        // Shorter than the JSON: the JSON, unpadded.
        let n = write_value(1234, 4, &mut out).unwrap();
        assert_eq!(&out[..n], b"{\"number\": 1234}");
        let n = write_value(u64::MAX, 0, &mut out).unwrap();
        assert_eq!(&out[..n], b"{\"number\": 18446744073709551615}");
        assert_eq!(
            write_value(1, 100, &mut [0u8; 99]),
            Err(ValueError::DoesNotFit)
        );
    }

    #[test]
    fn keys_are_decimal() {
        let mut buf = [0u8; 20];
        for i in [0, 7, 10, 99_999, u64::MAX] {
            assert_eq!(decimal(i, &mut buf), i.to_string().as_bytes());
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
