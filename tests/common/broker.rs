//! A real Kafka-compatible broker for end-to-end tests: Tansu (see `shared/BROKER.md`),
//! installed by `scripts/setup-broker` at `.broker-venv/bin/tansu`.
//!
//! [`Broker::start`] runs a private broker with memory storage on a free loopback port and
//! stops it when dropped; [`Broker::shared`] hands the tests of one binary a common one (it
//! stops when the last test holding it drops it). A broker also dies with the test process
//! however that ends (a watchdog shell kills it when the process's end of a pipe closes), so a
//! killed test run leaves no broker behind.
//!
//! A missing or broken Tansu fails the test loudly with the fix in the message; it never
//! skips.
//!
//! ```ignore
//! let broker = common::broker::Broker::start();
//! broker.create_topic("events", 3);
//! let stream = std::net::TcpStream::connect(broker.addr())?;
//! ```

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Names the Tansu binary to use instead of `.broker-venv/bin/tansu`.
pub const TANSU_ENV: &str = "EMBEDDED_KAFKA_TANSU";

/// How long a broker may take to accept connections (it takes ~10 ms).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `"$@"` (tansu) in the background with its output in `$BROKER_LOG`, prints its pid, and
/// kills it once standard input (a pipe from the test process) reaches end of file: when the
/// [`Broker`] is dropped, or when the test process exits in any way. Exits when tansu does.
/// Other helper servers of the tests (moto's S3 stand-in) run under it too.
pub const WATCHDOG: &str = r#"exec 3<&0 </dev/null
"$@" >"$BROKER_LOG" 2>&1 3<&- &
pid=$!
echo "$pid"
{ read -r _ <&3; kill "$pid" 2>/dev/null; } &
exec 3<&-
wait "$pid""#;

/// The Tansu binary: `$EMBEDDED_KAFKA_TANSU` if set, else `.broker-venv/bin/tansu` in the
/// repository root.
///
/// # Panics
///
/// If that binary does not exist or `tansu --version` fails, with a message saying to run
/// `scripts/setup-broker`. Checked once per test binary.
pub fn tansu() -> PathBuf {
    static TANSU: OnceLock<PathBuf> = OnceLock::new();
    TANSU.get_or_init(find_tansu).clone()
}

fn find_tansu() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (tansu, origin) = match std::env::var_os(TANSU_ENV) {
        Some(path) if !path.is_empty() => (PathBuf::from(path), format!("${TANSU_ENV}")),
        _ => (
            root.join(".broker-venv/bin/tansu"),
            "the default".to_owned(),
        ),
    };
    let fix = format!(
        "run `{}/scripts/setup-broker` to install the Tansu broker into .broker-venv \
         (or point ${TANSU_ENV} at a tansu binary)",
        root.display()
    );
    if !tansu.exists() {
        panic!(
            "no Tansu broker for the end-to-end tests: {} ({origin}) does not exist; {fix}",
            tansu.display()
        );
    }
    let output = Command::new(&tansu)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {fix}", tansu.display()));
    if !output.status.success() {
        panic!(
            "`{} --version` ({origin}) failed ({}): {}\n{fix}",
            tansu.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    tansu
}

/// How to start a [`Broker`] other than plainly.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The address Metadata responses advertise instead of the broker's own (for a proxy in
    /// front of it, which must then forward to [`Broker::addr`]).
    pub advertised: Option<SocketAddr>,
    /// Extra `tansu broker` arguments, e.g. `--authentication`.
    pub args: Vec<String>,
}

/// A running Tansu broker on `127.0.0.1`, with memory storage; stopped on drop.
#[derive(Debug)]
pub struct Broker {
    addr: SocketAddr,
    pid: u32,
    log: PathBuf,
    watchdog: Child,
    /// Closing this tells the watchdog to kill tansu.
    lifeline: Option<ChildStdin>,
}

impl Broker {
    /// Starts a private broker on a free port and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If Tansu is not installed ([`tansu`]) or does not come up within 10 s; the message
    /// carries the broker's log.
    pub fn start() -> Self {
        Self::start_with(&Options::default())
    }

    /// [`Broker::start`] with [`Options`].
    ///
    /// # Panics
    ///
    /// As [`Broker::start`].
    pub fn start_with(options: &Options) -> Self {
        let tansu = tansu();
        // The free port is found by binding port 0 and letting go of it; another process can
        // take it before tansu binds it, so a broker that dies at once is started again.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::launch(&tansu, port, options) {
                Ok(broker) => return broker,
                Err(log) => last_log = log,
            }
        }
        panic!("tansu exited before accepting connections, 5 times; last log:\n{last_log}");
    }

    /// One attempt on `port`: the broker, or its log if it exited before accepting.
    fn launch(tansu: &Path, port: u16, options: &Options) -> Result<Self, String> {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let advertised = options.advertised.unwrap_or(addr);
        let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tansu-{}-{port}.log", std::process::id()));
        let mut watchdog = Command::new("/bin/sh")
            .args(["-c", WATCHDOG, "tansu-watchdog"])
            .arg(tansu)
            .args(["broker", "--listener-url", &format!("tcp://{addr}")])
            .args(["--advertised-listener-url", &format!("tcp://{advertised}")])
            .args(["--storage-engine", "memory://tansu/"])
            .args(&options.args)
            .env("BROKER_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start /bin/sh to run {}: {e}", tansu.display()));
        let lifeline = watchdog.stdin.take();
        let mut pid_line = String::new();
        let stdout = watchdog.stdout.take().expect("stdout is piped");
        BufReader::new(stdout)
            .read_line(&mut pid_line)
            .unwrap_or_else(|e| panic!("reading tansu's pid from the watchdog shell: {e}"));
        let pid = pid_line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("the watchdog shell printed {pid_line:?} as a pid: {e}"));
        let mut broker = Self {
            addr,
            pid,
            log,
            watchdog,
            lifeline,
        };

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
                && broker.running()
            {
                return Ok(broker);
            }
            if !broker.running() {
                let log = broker.log();
                drop(broker);
                return Err(log);
            }
            if Instant::now() > deadline {
                panic!(
                    "tansu (pid {pid}) did not accept connections on {addr} within {START_TIMEOUT:?}; \
                     its log ({}):\n{}",
                    broker.log.display(),
                    broker.log()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A broker shared by the tests of this binary that call this: started by the first one,
    /// stopped when the last one still holding it drops it (a later call starts a new one, so
    /// topics may be gone: create what a test needs, or use a name of its own).
    pub fn shared() -> Arc<Self> {
        static SHARED: Mutex<Weak<Broker>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(broker) = shared.upgrade() {
            return broker;
        }
        let broker = Arc::new(Self::start());
        *shared = Arc::downgrade(&broker);
        broker
    }

    /// Where it listens: `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bootstrap address as clients write it: `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The tansu process id (to kill or stop it in a fault test).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the broker has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log.display()))
    }

    /// Whether the broker process is still running.
    pub fn running(&mut self) -> bool {
        // The watchdog shell exits when tansu does.
        matches!(self.watchdog.try_wait(), Ok(None))
    }

    /// Creates a topic with `partitions` partitions (`tansu topic create`).
    ///
    /// # Panics
    ///
    /// If that fails, for example because the topic exists.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let output = Command::new(tansu())
            .args([
                "topic",
                "create",
                "--broker",
                &format!("tcp://{}", self.addr),
            ])
            .args(["--partitions", &partitions.to_string(), name])
            .output()
            .unwrap_or_else(|e| panic!("cannot run tansu topic create: {e}"));
        if !output.status.success() {
            panic!(
                "tansu topic create {name} ({partitions} partitions) on {} failed ({}): {}{}",
                self.addr,
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // End of file on the watchdog's stdin: it kills tansu, and exits when tansu has.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.running() {
            let _ = Command::new("kill")
                .args(["-9", &self.pid.to_string()])
                .status();
            let _ = self.watchdog.kill();
            let _ = self.watchdog.wait();
        }
        // Keep the log of a failed test to read; drop the others.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
}
