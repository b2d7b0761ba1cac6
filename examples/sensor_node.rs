//! A sensor node on embassy-net: the firmware shape (embassy executor, embassy-net stack,
//! `TcpClient` from a static pool, the producer from `transport::embassy_net`) run on a Linux
//! host, with embassy's std executor and time driver and a TAP device standing in for the
//! chip's Ethernet or Wi-Fi driver.
//!
//! ```text
//! cargo build --example sensor_node --features embassy-net
//! sensor_node --tap tap0 --ip 10.42.0.2/24 [--gateway 10.42.0.1] [--dns 10.42.0.1] \
//!     --broker 10.42.0.1:9092 [--topic sensors] [--readings 20] [--sensors 3] [--batch 10] \
//!     [--timeout-s 60]
//! ```
//!
//! `--broker` is an address or a host name with a port; a name (and any leader the broker
//! advertises by name) is resolved by the node's own DNS client (`EmbassyDns`) through the
//! `--dns` servers (up to 3).
//!
//! The TAP device must exist and be up (`ip tuntap add dev tap0 mode tap; ip link set tap0
//! up`; the node checks, as embassy-net-tuntap would panic on sending through a device that is
//! down), with the host's end of the link on it (`ip addr add 10.42.0.1/24 dev tap0`); opening
//! it needs `CAP_NET_ADMIN`. The node has its own IP (`--ip`) and MAC on that link, answered by
//! its own TCP/IP stack (smoltcp), not the host's. `tests/embassy_netns.rs` runs it inside a
//! network namespace of its own.
//!
//! It sends `--readings` readings, `{"sensor":"node-2","seq":7,"temp_c":21.4}`, taking turns
//! among `--sensors` sensors (`node-1`…), keyed by sensor id (so each sensor's readings stay in
//! order on one partition), with acks=all. Every `--batch` readings it flushes and checks that
//! each reading of that batch was delivered, printing `delivered seq=… sensor=… partition=…
//! offset=…` for each, then a summary. Exit status 0 when all were delivered; 1 with the
//! reason otherwise (2 for bad arguments). The readings are deterministic (reading `i` is
//! `reading(i, sensors)`, below); their timestamps are the host's time.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Mutex;

use embassy_executor::{Executor, Spawner};
use embassy_net::{Config as NetConfig, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::{Duration, Instant, with_timeout};
use embedded_kafka::partition::{Murmur2, RoundRobin};
use embedded_kafka::producer::{
    Acks, Buffers, Config, Delivery, DeliveryStatus, Producer, Record, Ticket,
};
use embedded_kafka::transport::embassy_net::{
    EmbassyClock, EmbassyDelay, EmbassyDns, TcpClient, TcpClientState,
};
use static_cell::StaticCell;

const USAGE: &str = "usage: sensor_node --tap DEV --ip A.B.C.D/PREFIX [--gateway A.B.C.D] \
                     [--dns A.B.C.D]... --broker ADDRESS_OR_NAME:PORT [--topic NAME] \
                     [--readings N] [--sensors N] [--batch N] [--timeout-s S]";

/// The producer's connections at once: it holds one (see `transport::embassy_net`, "Sizes").
const CONNECTIONS: usize = 1;
/// Socket buffers: a whole batch (plus the request header) can leave without waiting for ACKs.
const SOCKET_TX: usize = 4096;
const SOCKET_RX: usize = 1024;
/// The producer's own buffers: 1 KiB for a response, 256 B for request headers, one batch
/// buffer of 2 KiB per partition with readings waiting (4), 16 outcomes remembered.
const RX: usize = 1024;
const TX: usize = 256;
const BATCH: usize = 2048;
const BATCHES: usize = 4;
const OUTCOMES: usize = 16;

/// Where the broker is.
#[derive(Debug)]
enum Broker {
    Addr(SocketAddr),
    Host(String, u16),
}

impl std::fmt::Display for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broker::Addr(addr) => write!(f, "{addr}"),
            Broker::Host(host, port) => write!(f, "{host}:{port}"),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
struct Args {
    tap: String,
    ip: Ipv4Cidr,
    gateway: Option<Ipv4Addr>,
    dns: Vec<Ipv4Addr>,
    broker: Broker,
    topic: String,
    readings: u32,
    sensors: u32,
    batch: u32,
    timeout_s: u64,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut tap, mut ip, mut gateway, mut broker) = (None, None, None, None);
    let mut dns = Vec::new();
    let mut topic = "sensors".to_owned();
    let (mut readings, mut sensors, mut batch, mut timeout_s) = (20, 3, 10, 60);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value:?}: not {what}");
        match flag.as_str() {
            "--tap" => tap = Some(value),
            "--ip" => {
                let (addr, prefix) = value
                    .split_once('/')
                    .ok_or_else(|| bad("an address with a prefix length"))?;
                let addr: Ipv4Addr = addr.parse().map_err(|_| bad("an IPv4 address"))?;
                let prefix: u8 = prefix.parse().map_err(|_| bad("a prefix length"))?;
                if prefix > 32 {
                    return Err(bad("a prefix length"));
                }
                ip = Some(Ipv4Cidr::new(addr, prefix));
            }
            "--gateway" => gateway = Some(value.parse().map_err(|_| bad("an IPv4 address"))?),
            "--dns" => dns.push(value.parse().map_err(|_| bad("an IPv4 address"))?),
            "--broker" => {
                broker = Some(match value.parse() {
                    Ok(addr) => Broker::Addr(addr),
                    Err(_) => {
                        let (host, port) = value
                            .rsplit_once(':')
                            .ok_or_else(|| bad("ADDRESS:PORT or NAME:PORT"))?;
                        let port = port.parse().map_err(|_| bad("ADDRESS:PORT or NAME:PORT"))?;
                        Broker::Host(host.to_owned(), port)
                    }
                })
            }
            "--topic" => topic = value,
            "--readings" => readings = value.parse().map_err(|_| bad("a count"))?,
            "--sensors" => sensors = value.parse().map_err(|_| bad("a count"))?,
            "--batch" => batch = value.parse().map_err(|_| bad("a count"))?,
            "--timeout-s" => timeout_s = value.parse().map_err(|_| bad("seconds"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if sensors == 0 || batch == 0 {
        return Err("--sensors and --batch must be at least 1".to_owned());
    }
    // A flush's readings must fit in the OUTCOMES batch outcomes the producer remembers (it
    // answers `Forgotten` for older ones): 64 readings are at most a few batches.
    if batch > 64 {
        return Err("--batch is at most 64".to_owned());
    }
    if dns.len() > 3 {
        return Err("at most 3 --dns servers".to_owned());
    }
    Ok(Args {
        tap: tap.ok_or("--tap is required")?,
        ip: ip.ok_or("--ip is required")?,
        gateway,
        dns,
        broker: broker.ok_or("--broker is required")?,
        topic,
        readings,
        sensors,
        batch,
        timeout_s,
    })
}

/// Checks that the TAP device exists and is up. Opening a missing one would create a new
/// device (down, with no address), and embassy-net-tuntap panics on the first frame it cannot
/// send through a device that is down.
fn check_tap(tap: &str) -> Result<(), String> {
    let flags = std::fs::read_to_string(format!("/sys/class/net/{tap}/flags")).map_err(|e| {
        format!(
            "no network device {tap:?} here ({e}): create it (ip tuntap add dev {tap} mode tap)"
        )
    })?;
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
        .map_err(|e| format!("/sys/class/net/{tap}/flags: {flags:?}: {e}"))?;
    // IFF_UP
    if flags & 0x1 == 0 {
        return Err(format!("{tap} is down: ip link set {tap} up"));
    }
    Ok(())
}

/// Reading `seq` of a node with `sensors` sensors: `(key, value)`. Sensors take turns; the
/// temperature is a fixed function of `seq`, from 18.0 to 27.9 °C.
fn reading(seq: u32, sensors: u32) -> (String, String) {
    let sensor = format!("node-{}", seq % sensors + 1);
    let tenths = 180 + (u64::from(seq) * 37 + 13) % 100;
    let value = format!(
        r#"{{"sensor":"{sensor}","seq":{seq},"temp_c":{}.{}}}"#,
        tenths / 10,
        tenths % 10
    );
    (sensor, value)
}

/// The Unix time in milliseconds (0 if the host's clock is before 1970).
fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How the run ended; set once by the main task, read by `main` after the executor stops.
static OUTCOME: Mutex<Option<Result<(), String>>> = Mutex::new(None);

fn finish(outcome: Result<(), String>) {
    let mut slot = OUTCOME.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert(outcome);
}

fn outcome() -> Option<Result<(), String>> {
    OUTCOME.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("sensor_node: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // As a board would: everything the tasks share lives in statics.
    static ARGS: StaticCell<Args> = StaticCell::new();
    let args: &'static Args = ARGS.init(args);

    if let Err(e) = check_tap(&args.tap) {
        eprintln!("sensor_node: {e}");
        return ExitCode::FAILURE;
    }
    let device = match TunTapDevice::new(&args.tap) {
        Ok(device) => device,
        Err(e) => {
            eprintln!(
                "sensor_node: cannot open TAP device {:?}: {e} (it must exist and be up, and \
                 opening it needs CAP_NET_ADMIN)",
                args.tap
            );
            return ExitCode::FAILURE;
        }
    };
    let config = NetConfig::ipv4_static(StaticConfigV4 {
        address: args.ip,
        gateway: args.gateway,
        dns_servers: args.dns.iter().copied().collect(),
    });
    // The seed picks TCP initial sequence numbers and local ports; it need not be secret here,
    // only different between runs (a board would take it from its RNG).
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    // Sockets: the producer's connections, and the one embassy-net's `dns` feature always
    // takes (for `EmbassyDns`).
    static RESOURCES: StaticCell<StackResources<{ CONNECTIONS + 1 }>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);

    static EXECUTOR: StaticCell<Executor> = StaticCell::new();
    EXECUTOR.init(Executor::new()).run_until(
        |spawner| spawn_all(spawner, runner, stack, args),
        || outcome().is_some(),
    );
    match outcome() {
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(e)) => {
            eprintln!("sensor_node: {e}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("sensor_node: the executor stopped without an outcome");
            ExitCode::FAILURE
        }
    }
}

fn spawn_all(
    spawner: Spawner,
    runner: Runner<'static, TunTapDevice>,
    stack: Stack<'static>,
    args: &'static Args,
) {
    match (net_task(runner), node_task(stack, args)) {
        (Ok(net), Ok(node)) => {
            spawner.spawn(net);
            spawner.spawn(node);
        }
        (Err(e), _) | (_, Err(e)) => finish(Err(format!("cannot spawn a task: {e:?}"))),
    }
}

/// Runs the TCP/IP stack: moves frames between the TAP device and the sockets.
#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn node_task(stack: Stack<'static>, args: &'static Args) {
    let limit = Duration::from_secs(args.timeout_s);
    let outcome = match with_timeout(limit, produce(stack, args)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "not done within {} s (is the broker reachable at {} over {}?)",
            args.timeout_s, args.broker, args.tap
        )),
    };
    finish(outcome);
}

async fn produce(stack: Stack<'static>, args: &'static Args) -> Result<(), String> {
    stack.wait_config_up().await;
    // Not `Sync` (the pool is for one executor), so a `StaticCell` rather than a plain static.
    static TCP: StaticCell<TcpClientState<CONNECTIONS, SOCKET_TX, SOCKET_RX>> = StaticCell::new();
    let client = TcpClient::new(stack, TCP.init(TcpClientState::new()));
    let (servers, hosts) = match &args.broker {
        Broker::Addr(addr) => (vec![*addr], vec![]),
        Broker::Host(host, port) => (vec![], vec![(host.as_str(), *port)]),
    };
    let config = Config::new(&servers)
        .bootstrap_hosts(&hosts)
        .client_id("sensor-node")
        .acks(Acks::All)
        .batch_size(BATCH);
    let mut buffers = Buffers::<RX, TX, BATCH, BATCHES>::new();
    let mut producer: Producer<'_, _, _, _, _, 1, BATCHES, OUTCOMES, _> = Producer::new(
        &client,
        // A host knows the date; a board would learn it from SNTP, an RTC or GNSS (or use
        // `EmbassyClock::new()` and send readings without timestamps).
        EmbassyClock::with_unix_ms(unix_ms_now()),
        EmbassyDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .map_err(|e| format!("producer configuration: {e:?}"))?
    // Brokers given, or advertised, by name are resolved by the stack's DNS client.
    .with_dns(EmbassyDns::new(stack));

    let started = Instant::now();
    let (mut flushes, mut retries) = (0u32, 0u32);
    let mut per_partition = std::collections::BTreeMap::<u32, u32>::new();
    let mut tickets: Vec<(u32, String, Ticket<'_>)> = Vec::new();
    for seq in 0..args.readings {
        let (sensor, value) = reading(seq, args.sensors);
        let record = Record::new(value.as_bytes()).key(sensor.as_bytes());
        let ticket = producer
            .send(&args.topic, record)
            .await
            .map_err(|e| format!("sending reading {seq}: {e}"))?;
        tickets.push((seq, sensor, ticket));
        if tickets.len() < args.batch as usize && seq + 1 < args.readings {
            continue;
        }
        // Await this batch's delivery: every reading in it must have an offset.
        let summary = producer
            .flush()
            .await
            .map_err(|e| format!("flushing after reading {seq}: {e}"))?;
        flushes += 1;
        retries += summary.retries;
        for (seq, sensor, ticket) in tickets.drain(..) {
            match producer.delivery(&ticket) {
                DeliveryStatus::Delivered(Delivery {
                    partition,
                    offset: Some(offset),
                    ..
                }) => {
                    println!(
                        "delivered seq={seq} sensor={sensor} partition={partition} offset={offset}"
                    );
                    *per_partition.entry(partition).or_default() += 1;
                }
                other => return Err(format!("reading {seq} ({sensor}) not delivered: {other:?}")),
            }
        }
    }
    let spread: Vec<String> = per_partition
        .iter()
        .map(|(p, n)| format!("{p}:{n}"))
        .collect();
    println!(
        "sensor_node: {} readings from {} sensors delivered to {} (partition:count {}) in {} \
         flushes, {} retries, {} ms; RAM: producer {} B + buffers {} B + sockets {} B",
        args.readings,
        args.sensors.min(args.readings.max(1)),
        args.topic,
        spread.join(" "),
        flushes,
        retries,
        started.elapsed().as_millis(),
        size_of_val(&producer),
        size_of::<Buffers<RX, TX, BATCH, BATCHES>>(),
        size_of::<TcpClientState<CONNECTIONS, SOCKET_TX, SOCKET_RX>>(),
    );
    Ok(())
}
