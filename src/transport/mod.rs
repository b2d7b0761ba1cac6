//! Transports: what gives the [`producer`](crate::producer) its connections, clock and delay.
//!
//! The producer needs an [`embedded_nal_async::TcpConnect`] (and, for brokers advertised by
//! name, an [`embedded_nal_async::Dns`]), a [`Clock`](crate::producer::Clock) and a
//! [`Delay`](crate::producer::Delay). On a board, `embassy_net` (feature `embassy-net`)
//! provides all of them over embassy-net and embassy-time, without `std` or a heap. On a host,
//! `tokio` (feature `tokio`) does.
//!
//! TLS is a connector wrapped around another, so the producer needs no change: on a board the
//! `tls` module's `TlsConnector` (feature `tls`: embedded-tls, TLS 1.3, no heap) wraps
//! embassy-net's connector; on a host `tokio::TokioTls` (feature `tls-rustls`: rustls, TLS
//! 1.2 and 1.3) replaces `TokioTcp`. Either checks the broker's host name, which the
//! producer does not pass along (it connects to addresses): the name comes from the connector's
//! configuration, one for all brokers or one per address, as their docs say. Every
//! (re)connection is a full handshake.

// The module names above are not links: each module exists only with its feature, and a link
// would break the docs of a build without it.

#[cfg(feature = "embassy-net")]
pub mod embassy_net;
#[cfg(feature = "tokio")]
pub mod tokio;
