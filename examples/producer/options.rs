//! The command line and the configuration file of `examples/producer`, parsed by hand (a few
//! flags do not justify an argument-parsing dependency).
//!
//! Every producer setting is a Kafka property (`acks`, `linger.ms`, …): a flag is a spelling of
//! one (`--linger-ms 5` is `linger.ms=5`), and `--config FILE` gives them in Java properties
//! form or in the seed's YAML layout. The file is applied first and the flags after it, so
//! flags win, as in Kafka's own command-line tools.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use embedded_kafka::producer::{Acks, Config, MAX_IN_FLIGHT_SUPPORTED};
use embedded_kafka::record::Compression;
use embedded_kafka::sasl::Mechanism;

/// The largest `batch.size` this program accepts: the size of its batch buffers (the
/// producer's `BATCH`), Kafka's default `max.request.size` of 1 MiB.
pub const MAX_BATCH: usize = 1 << 20;

/// The issue that brings SASL; named by the error for the SASL security protocols.
pub const SECURITY_ISSUE: &str = "not a security protocol Kafka has";

/// The `ssl.*` properties `security.protocol=SSL` uses (librdkafka's names; the seed's YAML
/// `ssl_cafile`, `ssl_certfile`, `ssl_keyfile` map to the first three).
pub const SSL_PROPERTIES: [&str; 4] = [
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
];

pub const HELP: &str = "\
producer: the seed's producer.py in Rust. Sends N deterministic records and reports how many
were delivered and how fast.

usage: cargo run --release --example producer --features tokio -- [FLAGS]

  --bootstrap HOST:PORT[,HOST:PORT...]  brokers to bootstrap from (bootstrap.servers)
  --topic NAME            topic to produce to (default: test)
  --messages N            records to send (default: 10)
  --acks 0|1|all|-1       acknowledgements (acks; default: all). With acks=0 a record counts
                          as delivered once it is written to the connection, as in Kafka:
                          the broker sends nothing back
  --max-in-flight N       max.in.flight.requests.per.connection (default: 5, or the most this
                          version implements if lower)
  --wait                  wait for each record's delivery before sending the next
  --create-keys           key each record with its index as a decimal string (\"0\", \"1\", ...),
                          so murmur2 picks its partition
  --value-size BYTES      pad each value with spaces to BYTES (default: 100); the value is
                          the seed's JSON {\"number\": I}, unpadded if longer
  --linger-ms MS          linger.ms (default: 5)
  --batch-size BYTES      batch.size (default: 16384; at most 1048576)
  --idempotence           enable.idempotence=true (needs acks=all)
  --compression-type none|gzip|snappy|lz4|zstd
                          compression.type (default: none); the codec's feature must be
                          built in (--features tokio,lz4 and so on)
  --partition N           send every record to partition N (else the partitioner picks:
                          murmur2 for keys, sticky for keyless records)
  --client-id ID          client.id (default: embedded-kafka-producer)
  -X, --property KEY=VALUE  any Kafka property below
  --config FILE           Kafka properties (key=value lines), or the seed's YAML layout
                          (brokers: - ip/port, ssl_config:); flags override the file
  --json                  print the result as one JSON object, the last line of stdout
  -h, --help              this text

Kafka properties understood: bootstrap.servers, acks, client.id, linger.ms, batch.size,
compression.type, enable.idempotence, max.in.flight.requests.per.connection, retries, retry.backoff.ms,
retry.backoff.max.ms, request.timeout.ms, delivery.timeout.ms, metadata.max.age.ms,
security.protocol (PLAINTEXT, SASL_PLAINTEXT, or SSL and SASL_SSL with a build with the
tls-rustls feature), sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), sasl.username,
sasl.password (or sasl.jaas.config with username=\"…\" password=\"…\"),
ssl.ca.location (PEM; required with SSL), ssl.certificate.location and ssl.key.location (PEM,
both or neither), ssl.endpoint.identification.algorithm (https only: the broker's certificate
must carry the bootstrap host name, or its IP address when the bootstrap is an address).

Exit status: 0 when every record was delivered, 1 when one was not or the broker could not be
reached, 2 for a bad command line or configuration.";

/// What the program does, from the command line and the configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bootstrap: Vec<Bootstrap>,
    pub topic: String,
    pub messages: u64,
    pub wait: bool,
    pub create_keys: bool,
    pub value_size: usize,
    pub partition: Option<u32>,
    pub json: bool,
    pub client_id: String,
    pub acks: Acks,
    pub linger_ms: u32,
    pub batch_size: usize,
    pub max_in_flight: u8,
    pub retries: u32,
    pub retry_backoff_ms: u32,
    pub retry_backoff_max_ms: u32,
    pub request_timeout_ms: u32,
    pub delivery_timeout_ms: u32,
    pub metadata_max_age_ms: u32,
    pub enable_idempotence: bool,
    pub compression: Compression,
    pub security_protocol: String,
    /// `ssl.*` and `sasl.*` properties: `ssl.*` take effect with SSL and SASL_SSL, `sasl.*`
    /// with SASL_PLAINTEXT and SASL_SSL.
    pub security: Vec<(String, String)>,
    /// Where the settings came from, for the printed configuration.
    pub config_file: Option<PathBuf>,
    /// Properties that were not understood (a warning, as the Java client gives).
    pub unknown: Vec<String>,
}

/// A bootstrap server: an address, or a host name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    Addr(SocketAddr),
    Host(String, u16),
}

impl std::fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Addr(a) => write!(f, "{a}"),
            Self::Host(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Run(Box<Settings>),
}

impl Default for Settings {
    fn default() -> Self {
        let kafka = Config::new(&[]);
        Self {
            bootstrap: Vec::new(),
            topic: "test".to_owned(),
            messages: 10,
            wait: false,
            create_keys: false,
            value_size: 100,
            partition: None,
            json: false,
            client_id: "embedded-kafka-producer".to_owned(),
            acks: kafka.acks,
            linger_ms: kafka.linger_ms,
            batch_size: kafka.batch_size,
            // Kafka's default, 5, as far as this version of the producer goes.
            max_in_flight: 5.min(MAX_IN_FLIGHT_SUPPORTED),
            retries: kafka.retries,
            retry_backoff_ms: kafka.retry_backoff_ms,
            retry_backoff_max_ms: kafka.retry_backoff_max_ms,
            request_timeout_ms: kafka.request_timeout_ms,
            delivery_timeout_ms: kafka.delivery_timeout_ms,
            metadata_max_age_ms: kafka.metadata_max_age_ms,
            enable_idempotence: kafka.enable_idempotence,
            compression: kafka.compression,
            security_protocol: "PLAINTEXT".to_owned(),
            security: Vec::new(),
            config_file: None,
            unknown: Vec::new(),
        }
    }
}

/// Parses the command line (without the program name), reading `--config` if given.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut settings = Settings::default();
    // Flags that are properties are applied after the file, in order.
    let mut properties: Vec<(String, String)> = Vec::new();
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        // The seed spells flags with underscores (--create_keys); both are accepted.
        let flag = if flag.starts_with("--") {
            flag.replace('_', "-")
        } else {
            flag
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        let property = match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--wait" => {
                settings.wait = true;
                continue;
            }
            "--create-keys" => {
                settings.create_keys = true;
                continue;
            }
            "--json" => {
                settings.json = true;
                continue;
            }
            "--idempotence" => ("enable.idempotence", "true".to_owned()),
            "--topic" => {
                settings.topic = value(&flag)?;
                if settings.topic.is_empty() {
                    return Err("--topic needs a name".to_owned());
                }
                continue;
            }
            "--messages" => {
                settings.messages = number(&flag, &value(&flag)?)?;
                continue;
            }
            "--value-size" => {
                settings.value_size = number(&flag, &value(&flag)?)?;
                continue;
            }
            "--partition" => {
                settings.partition = Some(number(&flag, &value(&flag)?)?);
                continue;
            }
            "--config" => {
                config = Some(PathBuf::from(value(&flag)?));
                continue;
            }
            "--bootstrap" | "--bootstrap-server" | "--bootstrap-servers" => {
                ("bootstrap.servers", value(&flag)?)
            }
            "--acks" | "--ack" => ("acks", value(&flag)?),
            "--max-in-flight" | "--max-in-flight-requests-per-connection" => {
                ("max.in.flight.requests.per.connection", value(&flag)?)
            }
            "--linger-ms" => ("linger.ms", value(&flag)?),
            "--batch-size" => ("batch.size", value(&flag)?),
            "--compression-type" | "--compression" => ("compression.type", value(&flag)?),
            "--client-id" => ("client.id", value(&flag)?),
            "-X" | "--property" => {
                let kv = value(&flag)?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("{flag} takes KEY=VALUE, not {kv:?}"))?;
                properties.push((k.trim().to_owned(), v.trim().to_owned()));
                continue;
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        };
        properties.push((property.0.to_owned(), property.1));
    }
    if let Some(path) = config {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read --config {}: {e}", path.display()))?;
        let from_file = parse_config_file(&path, &text)
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        for (k, v) in &from_file {
            settings
                .apply(k, v)
                .map_err(|e| format!("--config {}: {e}", path.display()))?;
        }
        settings.config_file = Some(path);
    }
    for (k, v) in &properties {
        settings.apply(k, v)?;
    }
    settings.check()?;
    Ok(Command::Run(Box::new(settings)))
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.trim().parse().map_err(|e| format!("{what} = {s:?}: {e}"))
}

fn boolean(what: &str, s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{what} = {s:?}: expected true or false")),
    }
}

/// `HOST:PORT[,HOST:PORT...]`; IPv6 addresses in brackets.
pub fn parse_bootstrap(list: &str) -> Result<Vec<Bootstrap>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        // Kafka accepts an optional scheme-like prefix in listener names; clients do not.
        if let Ok(addr) = item.parse::<SocketAddr>() {
            out.push(Bootstrap::Addr(addr));
            continue;
        }
        let (host, port) = item
            .rsplit_once(':')
            .ok_or_else(|| format!("bootstrap server {item:?} is not HOST:PORT"))?;
        let port = port
            .parse::<u16>()
            .map_err(|e| format!("bootstrap server {item:?}: port {port:?}: {e}"))?;
        if host.is_empty() || host.contains(':') {
            return Err(format!("bootstrap server {item:?} is not HOST:PORT"));
        }
        out.push(Bootstrap::Host(host.to_owned(), port));
    }
    if out.is_empty() {
        return Err(format!("bootstrap.servers = {list:?} names no server"));
    }
    Ok(out)
}

impl Settings {
    /// Sets one Kafka property.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        match key {
            "bootstrap.servers" => self.bootstrap = parse_bootstrap(v)?,
            "acks" => {
                self.acks = Acks::parse(v)
                    .ok_or_else(|| format!("acks = {v:?}: expected 0, 1, all or -1"))?;
            }
            "client.id" => self.client_id = v.to_owned(),
            "linger.ms" => self.linger_ms = number(key, v)?,
            "batch.size" => self.batch_size = number(key, v)?,
            "enable.idempotence" => self.enable_idempotence = boolean(key, v)?,
            "compression.type" => {
                self.compression =
                    Compression::parse(&v.to_ascii_lowercase()).ok_or_else(|| {
                        format!(
                            "compression.type = {v:?}: expected none, gzip, snappy, lz4 or zstd"
                        )
                    })?;
            }
            "max.in.flight.requests.per.connection" => self.max_in_flight = number(key, v)?,
            "retries" => self.retries = number(key, v)?,
            "retry.backoff.ms" => self.retry_backoff_ms = number(key, v)?,
            "retry.backoff.max.ms" => self.retry_backoff_max_ms = number(key, v)?,
            "request.timeout.ms" => self.request_timeout_ms = number(key, v)?,
            "delivery.timeout.ms" => self.delivery_timeout_ms = number(key, v)?,
            "metadata.max.age.ms" => self.metadata_max_age_ms = number(key, v)?,
            "security.protocol" => self.security_protocol = v.to_ascii_uppercase(),
            k if k.starts_with("ssl.") || k.starts_with("sasl.") => {
                self.security.retain(|(old, _)| old != k);
                self.security.push((k.to_owned(), v.to_owned()));
            }
            k => {
                if !self.unknown.iter().any(|u| u == k) {
                    self.unknown.push(k.to_owned());
                }
            }
        }
        Ok(())
    }

    /// What the producer cannot be given: checked once everything is applied.
    fn check(&self) -> Result<(), String> {
        if self.bootstrap.is_empty() {
            return Err(
                "no bootstrap servers: give --bootstrap HOST:PORT (or bootstrap.servers in --config)"
                    .to_owned(),
            );
        }
        match self.security_protocol.as_str() {
            "PLAINTEXT" | "SASL_PLAINTEXT" => {}
            "SSL" | "SASL_SSL" => self.check_ssl()?,
            other => {
                return Err(format!(
                    "security.protocol={other} is {SECURITY_ISSUE}; PLAINTEXT, SSL, SASL_PLAINTEXT \
                     and SASL_SSL work today"
                ));
            }
        }
        self.sasl()?;
        if self.batch_size > MAX_BATCH {
            return Err(format!(
                "batch.size = {}: larger than this program's {MAX_BATCH}-byte batch buffers",
                self.batch_size
            ));
        }
        Ok(())
    }

    /// The value of an `ssl.*` or `sasl.*` property, if set.
    pub fn security(&self, key: &str) -> Option<&str> {
        self.security
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// With `security.protocol=SASL_PLAINTEXT`: the mechanism, user name and password, from
    /// `sasl.mechanism` and `sasl.username`/`sasl.password` (librdkafka's names) or the Java
    /// client's `sasl.jaas.config` (`username="…" password="…"`).
    pub fn sasl(&self) -> Result<Option<(Mechanism, String, String)>, String> {
        if !self.security_protocol.starts_with("SASL_") {
            return Ok(None);
        }
        let name = self.security("sasl.mechanism").ok_or(
            "security.protocol=SASL_* needs sasl.mechanism (PLAIN, SCRAM-SHA-256 or \
             SCRAM-SHA-512)",
        )?;
        let mechanism = Mechanism::parse(&name.to_ascii_uppercase()).ok_or_else(|| {
            format!("sasl.mechanism={name}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
        })?;
        let jaas = self.security("sasl.jaas.config").unwrap_or_default();
        let user = self
            .security("sasl.username")
            .map(str::to_owned)
            .or_else(|| jaas_option(jaas, "username"));
        let password = self
            .security("sasl.password")
            .map(str::to_owned)
            .or_else(|| jaas_option(jaas, "password"));
        match (user, password) {
            (Some(user), Some(password)) if !user.is_empty() => {
                Ok(Some((mechanism, user, password)))
            }
            _ => Err(
                "security.protocol=SASL_* needs sasl.username and sasl.password \
                      (or sasl.jaas.config with username=\"…\" password=\"…\")"
                    .to_owned(),
            ),
        }
    }

    /// What `security.protocol=SSL` needs: a CA file, a certificate and key together, host
    /// name checks, and no `ssl.*` property this program would silently ignore.
    fn check_ssl(&self) -> Result<(), String> {
        if let Some((k, _)) = self
            .security
            .iter()
            .find(|(k, _)| k.starts_with("ssl.") && !SSL_PROPERTIES.contains(&k.as_str()))
        {
            return Err(format!(
                "{k} is not supported (with security.protocol=SSL this program understands {})",
                SSL_PROPERTIES.join(", ")
            ));
        }
        if self.security("ssl.ca.location").is_none_or(str::is_empty) {
            return Err(
                "security.protocol=SSL needs ssl.ca.location (the CA certificate, PEM): there \
                 is no system trust store here"
                    .to_owned(),
            );
        }
        let cert = self
            .security("ssl.certificate.location")
            .filter(|v| !v.is_empty());
        let key = self.security("ssl.key.location").filter(|v| !v.is_empty());
        if cert.is_some() != key.is_some() {
            return Err(
                "ssl.certificate.location and ssl.key.location go together: give both or neither"
                    .to_owned(),
            );
        }
        match self.security("ssl.endpoint.identification.algorithm") {
            None | Some("https") => Ok(()),
            Some(other) => Err(format!(
                "ssl.endpoint.identification.algorithm={other:?}: only https (host name \
                 checks, Kafka's default) is supported"
            )),
        }
    }

    /// The configuration used, one `key=value` a line, as the seed prints its producer's.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let servers: Vec<String> = self.bootstrap.iter().map(ToString::to_string).collect();
        let acks = match self.acks {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        };
        let _ = writeln!(s, "producer configuration:");
        if let Some(path) = &self.config_file {
            let _ = writeln!(s, "  (from {} and the command line)", path.display());
        }
        let rows: [(&str, String); 15] = [
            ("bootstrap.servers", servers.join(",")),
            ("client.id", self.client_id.clone()),
            ("acks", acks.to_owned()),
            (
                "max.in.flight.requests.per.connection",
                self.max_in_flight.to_string(),
            ),
            ("linger.ms", self.linger_ms.to_string()),
            ("batch.size", self.batch_size.to_string()),
            ("enable.idempotence", self.enable_idempotence.to_string()),
            ("compression.type", self.compression.name().to_owned()),
            ("retries", self.retries.to_string()),
            ("retry.backoff.ms", self.retry_backoff_ms.to_string()),
            (
                "retry.backoff.max.ms",
                self.retry_backoff_max_ms.to_string(),
            ),
            ("request.timeout.ms", self.request_timeout_ms.to_string()),
            ("delivery.timeout.ms", self.delivery_timeout_ms.to_string()),
            ("metadata.max.age.ms", self.metadata_max_age_ms.to_string()),
            ("security.protocol", self.security_protocol.clone()),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "  {k}={v}");
        }
        for (k, v) in &self.security {
            // Secrets are not printed.
            let v = if k == "sasl.password" || k == "sasl.jaas.config" {
                "[hidden]"
            } else {
                v.as_str()
            };
            let _ = writeln!(s, "  {k}={v}");
        }
        let _ = writeln!(
            s,
            "  topic={} messages={} value.size={} keys={} wait={} partition={}",
            self.topic,
            self.messages,
            self.value_size,
            self.create_keys,
            self.wait,
            self.partition
                .map_or_else(|| "(partitioner)".to_owned(), |p| p.to_string())
        );
        s
    }
}

/// The properties a configuration file gives: YAML (the seed's layout) if the name ends in
/// `.yaml`/`.yml`, or if no line has a `=`; else Java properties.
pub fn parse_config_file(path: &Path, text: &str) -> Result<Vec<(String, String)>, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let yaml = ext == "yaml"
        || ext == "yml"
        || (ext != "properties"
            && !text.lines().any(|l| {
                let l = l.trim();
                !l.starts_with('#') && !l.starts_with('!') && l.contains('=')
            }));
    if yaml {
        parse_seed_yaml(text)
    } else {
        Ok(parse_properties(text))
    }
}

/// Java properties, the simple subset: `key=value`, `key: value` or `key value` a line,
/// `#`/`!` comments, surrounding blanks trimmed. (No line continuations or escapes: no Kafka
/// client property needs them.)
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| {
            let at = l
                .find(['=', ':'])
                .or_else(|| l.find(char::is_whitespace))
                .unwrap_or(l.len());
            let (k, v) = l.split_at(at);
            let v = v.get(1..).unwrap_or("");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// A node of the YAML subset the seed's `config.yaml` uses: block mappings, block sequences,
/// plain or quoted scalars, and `[a, b]` flow sequences of scalars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yaml {
    Scalar(String),
    List(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn scalar(&self) -> Option<&str> {
        match self {
            Self::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses the YAML subset into a tree.
pub fn parse_yaml(text: &str) -> Result<Yaml, String> {
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let lead = raw.get(..raw.len() - raw.trim_start().len()).unwrap_or("");
        if lead.contains('\t') {
            return Err(format!("line {}: tabs are not YAML indentation", n + 1));
        }
        let content = strip_comment(raw).trim_end();
        if content.trim().is_empty() || content.trim() == "---" {
            continue;
        }
        let indent = content.len() - content.trim_start().len();
        lines.push((n + 1, indent, content.trim_start().to_owned()));
    }
    let mut at = 0;
    let Some(&(_, indent, _)) = lines.first() else {
        return Ok(Yaml::Map(Vec::new()));
    };
    let node = block(&mut lines, &mut at, indent)?;
    if let Some((n, _, _)) = lines.get(at) {
        return Err(format!("line {n}: unexpected indentation"));
    }
    Ok(node)
}

/// Drops a `#` comment (at the start, or after a blank, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_blank => return line.get(..i).unwrap_or(line),
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    line
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    s.to_owned()
}

fn scalar_or_flow(s: &str) -> Yaml {
    let s = s.trim();
    match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => Yaml::List(
            inner
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Yaml::Scalar(unquote(x)))
                .collect(),
        ),
        None => Yaml::Scalar(unquote(s)),
    }
}

/// `key: rest` (a colon followed by a blank or the end of the line, outside quotes).
fn split_key(content: &str) -> Option<(String, &str)> {
    let bytes = content.as_bytes();
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') if i == 0 => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b':') if bytes.get(i + 1).is_none_or(|c| c.is_ascii_whitespace()) => {
                let key = unquote(content.get(..i)?);
                return Some((key, content.get(i + 1..).unwrap_or("").trim()));
            }
            _ => {}
        }
    }
    None
}

type Lines = Vec<(usize, usize, String)>;

/// The block starting at `lines[*at]`, whose lines are indented by `indent`.
fn block(lines: &mut Lines, at: &mut usize, indent: usize) -> Result<Yaml, String> {
    let is_item = |c: &str| c == "-" || c.starts_with("- ");
    let Some((_, _, first)) = lines.get(*at) else {
        return Ok(Yaml::Scalar(String::new()));
    };
    if is_item(first) {
        let mut items = Vec::new();
        while let Some((n, ind, content)) = lines.get(*at).cloned() {
            if ind != indent || !is_item(&content) {
                if ind > indent {
                    return Err(format!("line {n}: unexpected indentation"));
                }
                break;
            }
            let rest = content.get(1..).unwrap_or("");
            let text = rest.trim_start();
            if text.is_empty() {
                *at += 1;
                match lines.get(*at) {
                    Some(&(_, deeper, _)) if deeper > indent => {
                        items.push(block(lines, at, deeper)?);
                    }
                    _ => items.push(Yaml::Scalar(String::new())),
                }
            } else if split_key(text).is_some() || is_item(text) {
                // `- key: value` opens a mapping whose keys line up with `key`.
                let column = indent + 1 + (rest.len() - text.len());
                if let Some(line) = lines.get_mut(*at) {
                    *line = (n, column, text.to_owned());
                }
                items.push(block(lines, at, column)?);
            } else {
                items.push(scalar_or_flow(text));
                *at += 1;
            }
        }
        return Ok(Yaml::List(items));
    }
    let mut entries = Vec::new();
    while let Some((n, ind, content)) = lines.get(*at).cloned() {
        if ind < indent {
            break;
        }
        if ind > indent {
            return Err(format!("line {n}: unexpected indentation"));
        }
        if is_item(&content) {
            break;
        }
        let (key, rest) =
            split_key(&content).ok_or_else(|| format!("line {n}: expected `key: value`"))?;
        *at += 1;
        let value = if rest.is_empty() {
            match lines.get(*at) {
                Some((_, deeper, _)) if *deeper > indent => {
                    let deeper = *deeper;
                    block(lines, at, deeper)?
                }
                // `key:` followed by `- item` at the same indentation is a list too.
                Some((_, same, c)) if *same == indent && is_item(c) => block(lines, at, indent)?,
                _ => Yaml::Scalar(String::new()),
            }
        } else {
            scalar_or_flow(rest)
        };
        entries.push((key, value));
    }
    Ok(Yaml::Map(entries))
}

/// The properties the seed's `config.yaml` stands for:
///
/// ```yaml
/// brokers:
///     - name: broker1
///       ip: 10.100.0.11
///       port: "9093"
/// ssl_config:
///       ssl_cafile: /path/ca.crt
///       ssl_certfile: /path/client.crt
///       ssl_keyfile: /path/client.rsa
/// ```
///
/// `brokers` (items with `ip` or `host` or `name`, and `port`; or `HOST:PORT` strings) becomes
/// `bootstrap.servers`; a non-empty `ssl_config` means `security.protocol=SSL` with librdkafka's
/// `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`. Any other top-level
/// `key: value` is a Kafka property, with kafka-python's spelling (`linger_ms`) accepted too.
pub fn parse_seed_yaml(text: &str) -> Result<Vec<(String, String)>, String> {
    let root = parse_yaml(text)?;
    let Yaml::Map(entries) = &root else {
        return Err("expected a mapping at the top (brokers:, ssl_config:, ...)".to_owned());
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        match (key.as_str(), value) {
            ("brokers", Yaml::List(items)) => {
                let mut servers = Vec::new();
                for item in items {
                    servers.push(match item {
                        Yaml::Scalar(s) => s.clone(),
                        Yaml::Map(_) => {
                            let host = ["ip", "host", "name"]
                                .iter()
                                .find_map(|k| item.get(k).and_then(Yaml::scalar))
                                .ok_or("a broker needs ip (or host, or name)")?;
                            let port = item
                                .get("port")
                                .and_then(Yaml::scalar)
                                .ok_or("a broker needs a port")?;
                            if host.contains(':') {
                                format!("[{host}]:{port}")
                            } else {
                                format!("{host}:{port}")
                            }
                        }
                        Yaml::List(_) => return Err("brokers: an item is a list".to_owned()),
                    });
                }
                out.push(("bootstrap.servers".to_owned(), servers.join(",")));
            }
            ("brokers", Yaml::Scalar(s)) => out.push(("bootstrap.servers".to_owned(), s.clone())),
            ("ssl_config", Yaml::Map(ssl)) => {
                if !ssl.is_empty() {
                    out.push(("security.protocol".to_owned(), "SSL".to_owned()));
                }
                for (k, v) in ssl {
                    let name = match k.as_str() {
                        "ssl_cafile" => "ssl.ca.location".to_owned(),
                        "ssl_certfile" => "ssl.certificate.location".to_owned(),
                        "ssl_keyfile" => "ssl.key.location".to_owned(),
                        other => other.replace('_', "."),
                    };
                    out.push((name, v.scalar().unwrap_or("").to_owned()));
                }
            }
            ("ssl_config", Yaml::Scalar(s)) if s.is_empty() => {}
            (k, Yaml::Scalar(v)) => out.push((kafka_name(k), v.clone())),
            (k, Yaml::List(items)) if k == "bootstrap_servers" || k == "bootstrap.servers" => {
                let list: Vec<&str> = items.iter().filter_map(Yaml::scalar).collect();
                out.push(("bootstrap.servers".to_owned(), list.join(",")));
            }
            (k, _) => return Err(format!("{k}: expected a value, not a block")),
        }
    }
    Ok(out)
}

/// kafka-python's `snake_case` keyword names as Kafka property names (`linger_ms` →
/// `linger.ms`); a name with dots is already one.
fn kafka_name(key: &str) -> String {
    if key.contains('.') {
        key.to_owned()
    } else {
        key.replace('_', ".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn run(s: &str) -> Settings {
        match parse_args(args(s)) {
            Ok(Command::Run(settings)) => *settings,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn flags_set_properties() {
        let s = run(
            "--bootstrap 127.0.0.1:9092,broker2:9093 --messages 10000 --acks 0 --wait \
             --create-keys --value-size 200 --linger-ms 7 --batch-size=65536 --idempotence \
             --partition 1 --topic t --json --max-in-flight 1 -X retries=3",
        );
        assert_eq!(
            s.bootstrap,
            vec![
                Bootstrap::Addr("127.0.0.1:9092".parse().unwrap()),
                Bootstrap::Host("broker2".to_owned(), 9093)
            ]
        );
        assert_eq!(s.messages, 10_000);
        assert_eq!(s.acks, Acks::None);
        assert!(s.wait && s.create_keys && s.json && s.enable_idempotence);
        assert_eq!((s.value_size, s.linger_ms, s.batch_size), (200, 7, 65536));
        assert_eq!((s.partition, s.topic.as_str()), (Some(1), "t"));
        assert_eq!((s.max_in_flight, s.retries), (1, 3));
    }

    #[test]
    fn seed_spellings() {
        let s = run("--bootstrap [::1]:9092 --messages=5 --ack=-1 \
             --max_in_flight_requests_per_connection=1 --create_keys");
        assert_eq!(
            s.bootstrap,
            vec![Bootstrap::Addr("[::1]:9092".parse().unwrap())]
        );
        assert_eq!(
            (s.acks, s.max_in_flight, s.create_keys),
            (Acks::All, 1, true)
        );
    }

    #[test]
    fn defaults_are_kafkas() {
        let s = run("--bootstrap localhost:9092");
        assert_eq!(s.topic, "test");
        assert_eq!(s.acks, Acks::All);
        assert_eq!(s.batch_size, 16_384);
        assert_eq!(s.max_in_flight, 5.min(MAX_IN_FLIGHT_SUPPORTED));
        assert_eq!(s.compression, Compression::None);
    }

    #[test]
    fn compression_type_flag_and_property() {
        let s = run("--bootstrap h:1 --compression-type lz4");
        assert_eq!(s.compression, Compression::Lz4);
        let s = run("--bootstrap h:1 -X compression.type=ZSTD");
        assert_eq!(s.compression, Compression::Zstd);
        assert!(s.describe().contains("compression.type=zstd"));
        let err = parse_args(args("--bootstrap h:1 --compression-type brotli")).unwrap_err();
        assert!(
            err.contains("compression.type") && err.contains("lz4"),
            "{err}"
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |s: &str| parse_args(args(s)).unwrap_err();
        assert!(err("--messages 10").contains("no bootstrap servers"));
        assert!(err("--bootstrap h:1 --acks 2").contains("acks"));
        assert!(err("--bootstrap h:1 --messages x").contains("--messages"));
        assert!(err("--bootstrap nohost").contains("HOST:PORT"));
        assert!(err("--bootstrap h:99999").contains("port"));
        assert!(err("--bootstrap h:1 --frobnicate").contains("unknown argument"));
        assert!(err("--bootstrap h:1 --batch-size 2000000").contains("batch buffers"));
        assert!(err("--bootstrap h:1 --topic").contains("needs a value"));
        assert!(
            err("--bootstrap h:1 -X security.protocol=sasl_ssl").contains("needs ssl.ca.location")
        );
        assert!(err("--bootstrap h:1 -X security.protocol=ssl").contains("needs ssl.ca.location"));
        assert!(
            err(
                "--bootstrap h:1 -X security.protocol=ssl -X ssl.ca.location=ca.pem \
                 -X ssl.key.location=k.pem"
            )
            .contains("go together")
        );
        assert!(
            err(
                "--bootstrap h:1 -X security.protocol=ssl -X ssl.ca.location=ca.pem \
                 -X ssl.key.password=x"
            )
            .contains("ssl.key.password is not supported")
        );
        assert!(
            err(
                "--bootstrap h:1 -X security.protocol=ssl -X ssl.ca.location=ca.pem \
                 -X ssl.endpoint.identification.algorithm=none"
            )
            .contains("only https")
        );
        let s = run("--bootstrap h:1 -X security.protocol=SSL -X ssl.ca.location=ca.pem");
        assert_eq!(s.security("ssl.ca.location"), Some("ca.pem"));
        assert!(err("--bootstrap h:1 -X nonsense").contains("KEY=VALUE"));
        assert!(matches!(parse_args(args("--help")), Ok(Command::Help)));
    }

    #[test]
    fn properties_file() {
        let text = "# a comment\n! another\nbootstrap.servers = 10.0.0.1:9092, 10.0.0.2:9092\n\
                    acks=1\nlinger.ms: 20\nclient.id producer-7\nenable.idempotence=false\n";
        let props = parse_config_file(Path::new("client.properties"), text).unwrap();
        assert_eq!(
            props,
            [
                ("bootstrap.servers", "10.0.0.1:9092, 10.0.0.2:9092"),
                ("acks", "1"),
                ("linger.ms", "20"),
                ("client.id", "producer-7"),
                ("enable.idempotence", "false"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    const SEED: &str = "\
brokers:
    - name: broker1
      ip: 10.100.0.11
      port: \"9093\"
    - name: broker2
      ip: 10.100.0.12
      port: \"9093\"  # the SSL listener
ssl_config:
      ssl_cafile: /home/kafka/.state/ca/ca.crt
      ssl_certfile: /home/kafka/.state/certs/client.crt
      ssl_keyfile: '/home/kafka/.state/certs/client.rsa'
";

    #[test]
    fn seed_yaml() {
        let props = parse_config_file(Path::new("config.yaml"), SEED).unwrap();
        assert_eq!(
            props,
            [
                ("bootstrap.servers", "10.100.0.11:9093,10.100.0.12:9093"),
                ("security.protocol", "SSL"),
                ("ssl.ca.location", "/home/kafka/.state/ca/ca.crt"),
                (
                    "ssl.certificate.location",
                    "/home/kafka/.state/certs/client.crt"
                ),
                ("ssl.key.location", "/home/kafka/.state/certs/client.rsa"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn yaml_without_ssl_and_with_properties() {
        // No extension, no `=`: sniffed as YAML. Lists at the key's indentation, flow lists,
        // scalar items, kafka-python spellings.
        let text = "---\nbrokers:\n- 127.0.0.1:9092\n- \"host-b:9093\"\nlinger_ms: 3\n\
                    acks: all\nbootstrap_servers: [a:1, 'b:2']\n";
        let props = parse_config_file(Path::new("cfg"), text).unwrap();
        assert_eq!(
            props,
            [
                ("bootstrap.servers", "127.0.0.1:9092,host-b:9093"),
                ("linger.ms", "3"),
                ("acks", "all"),
                ("bootstrap.servers", "a:1,b:2"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn yaml_tree() {
        let y = parse_yaml(
            "a:\n  b: 1\n  c:\n    - x: 1\n      y: '#2'\n    -\n      z: 3\nd: e # c\n",
        )
        .unwrap();
        let s = |v: &str| Yaml::Scalar(v.to_owned());
        assert_eq!(
            y,
            Yaml::Map(vec![
                (
                    "a".to_owned(),
                    Yaml::Map(vec![
                        ("b".to_owned(), s("1")),
                        (
                            "c".to_owned(),
                            Yaml::List(vec![
                                Yaml::Map(vec![
                                    ("x".to_owned(), s("1")),
                                    ("y".to_owned(), s("#2"))
                                ]),
                                Yaml::Map(vec![("z".to_owned(), s("3"))]),
                            ])
                        ),
                    ])
                ),
                ("d".to_owned(), s("e")),
            ])
        );
    }

    #[test]
    fn yaml_errors() {
        assert!(
            parse_yaml("a: 1\n   b: 2\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            parse_yaml("a: 1\njust text\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(parse_seed_yaml("brokers:\n  - port: 1\n").is_err());
        assert!(parse_seed_yaml("- a\n- b\n").is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("ek-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=10.0.0.1:1\nacks=0\nlinger.ms=50\n",
        )
        .unwrap();
        let s = run(&format!("--config {} --acks 1", file.display()));
        assert_eq!(s.acks, Acks::Leader, "the flag wins");
        assert_eq!(s.linger_ms, 50, "the file's value stays");
        let yaml = dir.join("seed.yaml");
        std::fs::write(&yaml, SEED).unwrap();
        let s = run(&format!("--config {}", yaml.display()));
        assert_eq!(s.security_protocol, "SSL");
        assert_eq!(
            s.security("ssl.key.location"),
            Some("/home/kafka/.state/certs/client.rsa")
        );
        // Overriding the protocol is allowed; the ssl.* locations are then shown, unused.
        let s = run(&format!(
            "--config {} -X security.protocol=plaintext",
            yaml.display()
        ));
        assert_eq!(s.bootstrap.len(), 2);
        assert_eq!(s.security.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The value of `key="…"` in a JAAS configuration line (`… required username="alice"
/// password="secret";`).
fn jaas_option(jaas: &str, key: &str) -> Option<String> {
    let mut rest = jaas;
    while let Some(at) = rest.find(key) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + key.len()..].trim_start();
        if before.is_none_or(char::is_whitespace)
            && let Some(value) = after.strip_prefix('=')
            && let Some(quoted) = value.trim_start().strip_prefix('"')
            && let Some(end) = quoted.find('"')
        {
            return Some(quoted[..end].to_owned());
        }
        rest = &rest[at + key.len()..];
    }
    None
}

#[cfg(test)]
mod sasl_tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn sasl_plaintext_takes_the_mechanism_and_credentials() {
        let run = |s: &str| match parse_args(args(s)) {
            Ok(Command::Run(settings)) => settings,
            other => panic!("{other:?}"),
        };
        let s = run("--bootstrap h:1 -X security.protocol=SASL_PLAINTEXT \
                     -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=alice \
                     -X sasl.password=s3cret");
        assert_eq!(
            s.sasl(),
            Ok(Some((
                Mechanism::ScramSha512,
                "alice".to_owned(),
                "s3cret".to_owned()
            )))
        );
        assert!(
            !s.describe().contains("s3cret"),
            "the password is not printed"
        );
        let mut s = Settings::default();
        for (k, v) in [
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"bob\" password=\"pw\";",
            ),
        ] {
            s.apply(k, v).unwrap();
        }
        assert_eq!(
            s.sasl(),
            Ok(Some((Mechanism::Plain, "bob".to_owned(), "pw".to_owned())))
        );
        let err = |s: &str| parse_args(args(s)).unwrap_err();
        assert!(
            err("--bootstrap h:1 -X security.protocol=SASL_PLAINTEXT").contains("sasl.mechanism")
        );
        assert!(
            err("--bootstrap h:1 -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=GSSAPI")
                .contains("GSSAPI")
        );
        assert!(
            err("--bootstrap h:1 -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN")
                .contains("sasl.username")
        );
        assert!(
            err("--bootstrap h:1 -X security.protocol=SASL_SSL").contains("needs ssl.ca.location")
        );
        assert!(
            err("--bootstrap h:1 -X security.protocol=TLS").contains("not a security protocol")
        );
    }
}
