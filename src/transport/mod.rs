//! Transports: what gives the [`producer`](crate::producer) its connections, clock and delay.
//!
//! The producer needs an [`embedded_nal_async::TcpConnect`] (and later a
//! [`embedded_nal_async::Dns`]), a [`Clock`](crate::producer::Clock) and a
//! [`Delay`](crate::producer::Delay). On a board, embassy-net's `TcpClient` is the connector
//! (an adapter for its clock and DNS is to come). On a host, [`tokio`] (feature
//! `tokio`) provides all of them.

#[cfg(feature = "tokio")]
pub mod tokio;
