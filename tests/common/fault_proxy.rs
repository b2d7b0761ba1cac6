//! A fault-injection TCP proxy on loopback (std threads and sockets) between a client and a
//! broker, for the fault campaign (`tests/fault_campaign.rs`).
//!
//! It forwards whole Kafka frames (read by their 4-byte size) in each direction, and before
//! each frame asks its schedule what to do with it. The faults model what real networks and
//! brokers do; none of them rewrites or duplicates bytes inside the stream (that would model a
//! broken TCP, not a broken network):
//!
//! - `reset`: part of the frame (0 to all but one byte) is forwarded, then the client's side is
//!   reset (RST: `SO_LINGER` 0 and close) and the broker's side closed;
//! - `close`: the frame is dropped and both sides closed with a FIN (a request that never
//!   reached the broker, or a response lost after the broker stored the records);
//! - `cut`: a response cut mid-frame (part of it forwarded), then both sides closed (FIN);
//! - `delay`: the frame is held 1 to 30 ms, then forwarded;
//! - `stall`: the response is never forwarded and the connection kept open, until the client
//!   gives up on it (its request timeout) and closes it;
//! - `refuse`: at a new connection, the listener is closed for 20 to 300 ms (connects in that
//!   window are refused), then opened again on the same port.
//!
//! The schedule is derived from a seed: connection `n`'s direction `d` draws from
//! `XorShift64(seed ^ mix(n, d))`, one draw per frame, and connection `n`'s refusal from
//! another stream of the same seed. Which frame a draw meets depends on what the client sends,
//! so a run is reproducible in its faults per connection and frame, not in its timing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::XorShift64;

/// The kinds of fault, in the order of [`FaultProxy::counts`].
pub const KINDS: [&str; 6] = ["reset", "close", "cut", "delay", "stall", "refuse"];

/// How often each fault happens: per 10,000 frames (or, for `refuse`, connections).
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Part of a frame in either direction, then RST.
    pub reset: u32,
    /// A frame in either direction dropped, both sides closed.
    pub close: u32,
    /// A response cut mid-frame, then closed.
    pub cut: u32,
    /// A frame in either direction delayed 1-30 ms.
    pub delay: u32,
    /// A response held until the client times out.
    pub stall: u32,
    /// The listener closed for 20-300 ms when a connection comes.
    pub refuse: u32,
}

impl Rates {
    /// No faults.
    pub const NONE: Self = Self {
        reset: 0,
        close: 0,
        cut: 0,
        delay: 0,
        stall: 0,
        refuse: 0,
    };
}

/// What the schedule says to do with one frame (prefix lengths and delays in bytes and ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Reset(usize),
    Close,
    Cut(usize),
    Delay(u64),
    Stall,
}

/// The direction of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Request,
    Response,
}

struct Shared {
    upstream: SocketAddr,
    seed: AtomicU64,
    rates: Mutex<Rates>,
    enabled: AtomicBool,
    connections: AtomicU64,
    counts: [AtomicU64; 6],
    live: Mutex<Vec<Weak<Conn>>>,
}

struct Conn {
    client: TcpStream,
    server: TcpStream,
    /// Set when either side has ended: a stalled forwarder gives up then.
    closed: AtomicBool,
}

impl Conn {
    /// Closes both sides with a FIN (the last handle dropped then frees the sockets).
    fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }

    /// Resets the client's side (RST once the last handle is dropped) and closes the
    /// broker's.
    fn reset(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        set_linger_zero(&self.client);
        // Wake both forwarders (their reads end); neither writes again. Only the read half of
        // the client is shut: shutting its write half would send a FIN before the RST.
        let _ = self.client.shutdown(Shutdown::Read);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

/// `SO_LINGER` with a zero timeout: closing the socket then sends RST instead of FIN.
fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let linger = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd owned by `stream`, a pointer to a live `struct linger` and its size.
    let rc = unsafe {
        setsockopt(
            stream.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &linger,
            std::mem::size_of::<Linger>() as u32,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

/// The proxy: listens on a loopback port until dropped (the threads end with the process).
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts forwarding from `listener` to `upstream`, with no faults until [`arm`](Self::arm).
    pub fn start(listener: TcpListener, upstream: SocketAddr) -> Self {
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            seed: AtomicU64::new(0),
            rates: Mutex::new(Rates::NONE),
            enabled: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            counts: Default::default(),
            live: Mutex::default(),
        });
        let s = shared.clone();
        std::thread::spawn(move || accept_loop(listener, addr, s));
        Self { addr, shared }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every open connection, resets the counts, and injects faults at `rates` from now
    /// on, on a schedule derived from `seed`.
    pub fn arm(&self, seed: u64, rates: Rates) {
        self.cut_all();
        *self.shared.rates.lock().expect("lock") = rates;
        self.shared.seed.store(seed, Ordering::SeqCst);
        self.shared.connections.store(0, Ordering::SeqCst);
        for c in &self.shared.counts {
            c.store(0, Ordering::SeqCst);
        }
        self.shared.enabled.store(true, Ordering::SeqCst);
    }

    /// No more faults (connections made from now on, and frames from now on, pass cleanly);
    /// open connections are cut.
    pub fn disarm(&self) {
        self.shared.enabled.store(false, Ordering::SeqCst);
        self.cut_all();
    }

    fn cut_all(&self) {
        let live = std::mem::take(&mut *self.shared.live.lock().expect("lock"));
        for conn in live.iter().filter_map(Weak::upgrade) {
            conn.close();
        }
    }

    /// Faults injected since [`arm`](Self::arm), by kind ([`KINDS`]).
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        KINDS
            .iter()
            .zip(&self.shared.counts)
            .map(|(k, c)| (*k, c.load(Ordering::SeqCst)))
            .collect()
    }

    /// Connections accepted since [`arm`](Self::arm).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

/// The schedule, as the proxy follows it: what connection `conn` (0 = the first accepted
/// after [`FaultProxy::arm`]) does to its frames in direction `dir`, given their lengths (size
/// field included), and whether that connection is refused.
pub fn schedule(
    seed: u64,
    rates: &Rates,
    conn: u64,
    dir: Dir,
    frame_lens: &[usize],
) -> (bool, Vec<Fault>) {
    let mut refusal = XorShift64::new(seed ^ mix(conn, 3));
    let refused = rates.refuse > 0 && refusal.next_u32() % 10_000 < rates.refuse;
    let mut rng = XorShift64::new(seed ^ mix(conn, dir as u64 + 1));
    let faults = frame_lens
        .iter()
        .map(|&len| draw(&mut rng, rates, dir, len))
        .collect();
    (refused, faults)
}

fn mix(n: u64, k: u64) -> u64 {
    (n.wrapping_add(1))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(17)
        ^ k.wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

fn accept_loop(mut listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept() else {
            continue;
        };
        let n = shared.connections.fetch_add(1, Ordering::SeqCst);
        let enabled = shared.enabled.load(Ordering::SeqCst);
        let seed = shared.seed.load(Ordering::SeqCst);
        let rates = *shared.rates.lock().expect("lock");
        let mut rng = XorShift64::new(seed ^ mix(n, 3));
        if enabled && rates.refuse > 0 && rng.next_u32() % 10_000 < rates.refuse {
            shared.counts[5].fetch_add(1, Ordering::SeqCst);
            // This connection is reset; the port is closed for a while (refused), then open.
            set_linger_zero(&client);
            drop(client);
            drop(listener);
            std::thread::sleep(Duration::from_millis(20 + u64::from(rng.next_u32() % 281)));
            listener = rebind(addr);
            continue;
        }
        let Ok(server) = TcpStream::connect(shared.upstream) else {
            drop(client);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let conn = Arc::new(Conn {
            client,
            server,
            closed: AtomicBool::new(false),
        });
        {
            let mut live = shared.live.lock().expect("lock");
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&conn));
        }
        for dir in [Dir::Request, Dir::Response] {
            let (conn, shared) = (conn.clone(), shared.clone());
            let stream_seed = seed ^ mix(n, dir as u64 + 1);
            std::thread::spawn(move || forward(&conn, &shared, dir, stream_seed));
        }
    }
}

fn rebind(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr) {
            Ok(l) => return l,
            Err(e) if Instant::now() > deadline => panic!("fault proxy: rebinding {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// What the schedule says for the next frame of `len` bytes (size included).
fn draw(rng: &mut XorShift64, rates: &Rates, dir: Dir, len: usize) -> Fault {
    let roll = rng.next_u32() % 10_000;
    let arg = rng.next_u64();
    // A proper prefix of the frame: 0 .. len-1 bytes.
    let prefix = (arg % len as u64) as usize;
    let mut edge = 0;
    let mut hit = |rate: u32| {
        edge += rate;
        roll < edge
    };
    if hit(rates.reset) {
        Fault::Reset(prefix)
    } else if hit(rates.close) {
        Fault::Close
    } else if dir == Dir::Response && hit(rates.cut) {
        // At least one byte: a response begun and not finished.
        Fault::Cut(prefix.max(1))
    } else if hit(rates.delay) {
        Fault::Delay(1 + arg % 30)
    } else if dir == Dir::Response && hit(rates.stall) {
        Fault::Stall
    } else {
        Fault::None
    }
}

fn forward(conn: &Conn, shared: &Shared, dir: Dir, seed: u64) {
    let (mut from, mut to) = match dir {
        Dir::Request => (&conn.client, &conn.server),
        Dir::Response => (&conn.server, &conn.client),
    };
    let mut rng = XorShift64::new(seed);
    while let Some(frame) = read_frame(&mut from) {
        let fault = if shared.enabled.load(Ordering::SeqCst) {
            draw(
                &mut rng,
                &shared.rates.lock().expect("lock"),
                dir,
                frame.len(),
            )
        } else {
            Fault::None
        };
        let count = |i: usize| {
            shared.counts[i].fetch_add(1, Ordering::SeqCst);
        };
        match fault {
            Fault::None => {}
            Fault::Delay(ms) => {
                count(3);
                std::thread::sleep(Duration::from_millis(ms));
            }
            Fault::Reset(prefix) => {
                count(0);
                let _ = to.write_all(&frame[..prefix]);
                conn.reset();
                return;
            }
            Fault::Close => {
                count(1);
                conn.close();
                return;
            }
            Fault::Cut(prefix) => {
                count(2);
                let _ = to.write_all(&frame[..prefix]);
                conn.close();
                return;
            }
            Fault::Stall => {
                count(4);
                // Held until the client closes the connection (its request timeout); an upper
                // bound only so that a client that never does cannot keep the thread forever.
                let deadline = Instant::now() + Duration::from_secs(300);
                while !conn.closed.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                conn.close();
                return;
            }
        }
        if to.write_all(&frame).is_err() {
            break;
        }
    }
    // One side ended: end the other too (a stalled forwarder sees `closed`).
    conn.close();
}

/// One Kafka frame (the 4-byte size included), or `None` at end of stream or on a size that is
/// not a frame's.
fn read_frame(from: &mut &TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    from.read_exact(&mut size).ok()?;
    let len = usize::try_from(i32::from_be_bytes(size)).ok()?;
    let mut frame = vec![0u8; 4 + len];
    frame[..4].copy_from_slice(&size);
    from.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}
