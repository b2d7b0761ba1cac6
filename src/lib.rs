#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod fmt;

pub mod partition;
#[cfg(feature = "producer")]
pub mod producer;
pub mod protocol;
pub mod record;
pub mod sasl;
#[cfg(any(feature = "json", feature = "postcard", feature = "cbor"))]
pub mod serialize;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "producer")]
pub mod transport;
pub mod wire;
