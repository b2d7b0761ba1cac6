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

// Unit tests may use `std` (vectors for test data) in every feature set: the test harness
// links it anyway.
#[cfg(any(feature = "std", test))]
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
