//! TLS on Tokio with rustls (feature `tls-rustls`): [`TokioTls`] is a `TcpConnect` whose
//! connections are TLS 1.2 or 1.3 streams, for the CLI and servers. Boards use the `tls`
//! module (embedded-tls, TLS 1.3, no heap) instead.
//!
//! What it checks, as Kafka's Java client with `security.protocol=SSL` does by default
//! (`ssl.endpoint.identification.algorithm=https`): the broker's certificate chains to the
//! configured CA (`ssl.ca.location`; there is no system trust store here) and is valid now, and
//! it carries the broker's host name. The producer hands the connector a `SocketAddr` only, so
//! the name comes from [`TokioTls::with_server_name`] (every broker) and
//! [`TokioTls::with_server_name_for`] (one address); with neither, the certificate must carry
//! the address itself as an IP-address SAN. A client certificate and key
//! (`ssl.certificate.location`, `ssl.key.location`) are sent when the broker asks for one.
//!
//! A refused handshake is an `std::io::Error` whose message names the broker, the expected
//! name and rustls's reason (`UnknownIssuer`, `Expired`, `NotValidForName`, a
//! `CertificateRequired` alert for a missing client certificate).

use core::net::SocketAddr;
use std::path::Path;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;
use std::{fmt, format, io};

use ::tokio::net::TcpStream;
use embedded_io_adapters::tokio_1::FromTokio;
use embedded_nal_async::TcpConnect;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Opens TLS connections over Tokio TCP connections (with `TCP_NODELAY`, as
/// [`TokioTcp`](super::TokioTcp)).
#[derive(Clone)]
pub struct TokioTls {
    connector: TlsConnector,
    default_name: Option<ServerName<'static>>,
    by_addr: Vec<(SocketAddr, ServerName<'static>)>,
}

impl fmt::Debug for TokioTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioTls")
            .field("default_name", &self.default_name)
            .field("by_addr", &self.by_addr)
            .finish_non_exhaustive()
    }
}

/// A [`TokioTls`] that cannot be set up: which file or setting, and why.
#[derive(Debug)]
pub enum TlsSetupError {
    /// A PEM file could not be read or holds nothing of the kind needed.
    Pem {
        /// What the file was to hold (`CA certificate`, `client certificate`, `client key`).
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        error: rustls::pki_types::pem::Error,
    },
    /// rustls refused the configuration (e.g. a client key that does not match its
    /// certificate, or a CA certificate it cannot parse).
    Rustls {
        /// What was being configured.
        what: &'static str,
        /// rustls's error.
        error: rustls::Error,
    },
    /// Not a valid DNS name or IP address for a server name.
    Name(String),
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem { what, path, error } => {
                write!(f, "cannot read the {what} (PEM) from {path}: {error:?}")
            }
            Self::Rustls { what, error } => write!(f, "TLS {what}: {error}"),
            Self::Name(name) => write!(f, "{name:?} is not a DNS name or IP address"),
        }
    }
}

impl std::error::Error for TlsSetupError {}

impl TokioTls {
    /// A connector with a rustls configuration of the caller's.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self {
            connector: TlsConnector::from(config),
            default_name: None,
            by_addr: Vec::new(),
        }
    }

    /// Trusts the CA certificates in the PEM file `ca` (`ssl.ca.location`) and, with
    /// `client = Some((certificate, key))`, presents that certificate chain and private key
    /// (PEM: `ssl.certificate.location`, `ssl.key.location`; PKCS#8, PKCS#1 or SEC1 keys).
    /// TLS 1.2 and 1.3, rustls's default cipher suites (ring).
    pub fn from_pem_files(
        ca: &Path,
        client: Option<(&Path, &Path)>,
    ) -> Result<Self, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs("CA certificate", ca)? {
            roots.add(cert).map_err(|error| TlsSetupError::Rustls {
                what: "CA certificate",
                error,
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsSetupError::Rustls {
                what: "protocol versions",
                error,
            })?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs("client certificate", cert)?;
                let key =
                    PrivateKeyDer::from_pem_file(key).map_err(|error| TlsSetupError::Pem {
                        what: "client key",
                        path: key.display().to_string(),
                        error,
                    })?;
                builder.with_client_auth_cert(chain, key).map_err(|error| {
                    TlsSetupError::Rustls {
                        what: "client certificate and key",
                        error,
                    }
                })?
            }
        };
        Ok(Self::new(Arc::new(config)))
    }

    /// Every broker must present a certificate for `name` (a DNS name, or an IP address for an
    /// IP-address SAN), unless [`with_server_name_for`](Self::with_server_name_for) names it.
    pub fn with_server_name(mut self, name: &str) -> Result<Self, TlsSetupError> {
        self.default_name = Some(parse_name(name)?);
        Ok(self)
    }

    /// The broker at `addr` must present a certificate for `name` (with leaders advertised by
    /// name: the address the name resolves to, and the name).
    pub fn with_server_name_for(
        mut self,
        addr: SocketAddr,
        name: &str,
    ) -> Result<Self, TlsSetupError> {
        let name = parse_name(name)?;
        self.by_addr.retain(|(a, _)| *a != addr);
        self.by_addr.push((addr, name));
        Ok(self)
    }

    /// The name the broker at `addr` must present a certificate for.
    pub fn name_for(&self, addr: SocketAddr) -> ServerName<'static> {
        self.by_addr
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, name)| name.clone())
            .or_else(|| self.default_name.clone())
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()))
    }
}

fn parse_name(name: &str) -> Result<ServerName<'static>, TlsSetupError> {
    ServerName::try_from(name.to_string()).map_err(|_| TlsSetupError::Name(name.to_string()))
}

fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem_error = |error| TlsSetupError::Pem {
        what,
        path: path.display().to_string(),
        error,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(pem_error(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

impl TcpConnect for TokioTls {
    type Error = io::Error;
    type Connection<'a>
        = FromTokio<TlsStream<TcpStream>>
    where
        Self: 'a;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let stream = TcpStream::connect(remote).await?;
        stream.set_nodelay(true)?;
        let name = self.name_for(remote);
        let expected = name.to_str().into_owned();
        let tls = self.connector.connect(name, stream).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "TLS handshake with {remote} (expecting a certificate for {expected}) \
                         failed: {e}"
                ),
            )
        })?;
        Ok(FromTokio::new(tls))
    }
}
