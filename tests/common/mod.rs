//! Helpers shared by the integration tests (`mod common;` in each test crate).
//!
//! The differential tests run independent peers written in Python (kafka-python, pinned by
//! `scripts/setup-python`) and compare their answers with ours. A missing or broken Python
//! environment fails those tests loudly with the fix in the message; it never skips them.
//! The same goes for the real broker of the end-to-end tests ([`broker`], installed by
//! `scripts/setup-broker`). [`fixtures`] lists the exchanges captured with that broker.
#![allow(dead_code)] // each test crate uses its own subset

pub mod broker;
pub mod fault_proxy;
pub mod fixtures;
pub mod hostile;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Names the interpreter to use instead of `.venv/bin/python`.
pub const PYTHON_ENV: &str = "EMBEDDED_KAFKA_PYTHON";

/// The Python interpreter of the differential tests: `$EMBEDDED_KAFKA_PYTHON` if set, else
/// `.venv/bin/python` in the repository root.
///
/// # Panics
///
/// If that interpreter does not exist or cannot `import kafka`, with a message saying to run
/// `scripts/setup-python`. Checked once per test binary.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(find_python).clone()
}

fn find_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (python, origin) = match std::env::var_os(PYTHON_ENV) {
        Some(path) if !path.is_empty() => (PathBuf::from(path), format!("${PYTHON_ENV}")),
        _ => (root.join(".venv/bin/python"), "the default".to_owned()),
    };
    let fix = format!(
        "run `{}/scripts/setup-python` to create .venv with the pinned kafka-python \
         (or point ${PYTHON_ENV} at an interpreter that has it)",
        root.display()
    );
    if !python.exists() {
        panic!(
            "no Python for the differential tests: {} ({origin}) does not exist; {fix}",
            python.display()
        );
    }
    let output = Command::new(&python)
        .args(["-c", "import kafka; print(kafka.__version__)"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {fix}", python.display()));
    if !output.status.success() {
        panic!(
            "{} ({origin}) cannot `import kafka`: {}\n{fix}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    python
}

/// Runs `script` (a path under `tests/python/`, or an absolute path) with [`python()`],
/// feeds it `stdin`, and returns what it printed on stdout.
///
/// # Panics
///
/// If the script cannot be started or exits unsuccessfully; the message carries its stderr.
pub fn run_python(script: impl AsRef<Path>, stdin: &[u8]) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script.as_ref());
    let python = python();
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} {}: {e}",
                python.display(),
                script.display()
            )
        });

    // Feed stdin from another thread so a script that writes as it reads cannot deadlock on a
    // full stdout pipe.
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&input));

    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {}: {e}", script.display()));
    let written = writer.join().expect("stdin writer thread panicked");
    if !output.status.success() {
        panic!(
            "{} failed ({}):\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    written.unwrap_or_else(|e| panic!("writing stdin of {}: {e}", script.display()));
    output.stdout
}

/// A small deterministic PRNG (xorshift64*) for generating test inputs and driving the
/// strategies that take a [`rand_core::RngCore`].
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// Seeds it; any seed works (0 is remapped, as xorshift would stay at 0 forever).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }
}

impl rand_core::RngCore for XorShift64 {
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

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bytes of a hex string. Panics on malformed hex (test data only).
pub fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("hex {hex:?}: {e}"))
        })
        .collect()
}
