//! Transports: what gives the [`producer`](crate::producer) its connections, clock and delay.
//!
//! The producer needs an [`embedded_nal_async::TcpConnect`] (and, for brokers advertised by
//! name, an [`embedded_nal_async::Dns`]), a [`Clock`](crate::producer::Clock) and a
//! [`Delay`](crate::producer::Delay). On a board, `embassy_net` (feature `embassy-net`)
//! provides all of them over embassy-net and embassy-time, without `std` or a heap. On a host,
//! `tokio` (feature `tokio`) does.

// The module names above are not links: each module exists only with its feature, and a link
// would break the docs of a build without it.

#[cfg(feature = "embassy-net")]
pub mod embassy_net;
#[cfg(feature = "tokio")]
pub mod tokio;
