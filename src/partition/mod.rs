//! Which partition of a topic a record goes to, decided exactly as the Java client decides it.
//!
//! Kafka keeps the records of one key in order only within a partition, and consumers, stream
//! processors and compacted topics all rely on a key always landing on the same partition. A
//! producer that hashes keys differently from the Java client splits a key's records across
//! two partitions the moment both kinds of producer write to one topic. So keyed records go to
//! `(murmur2(key) & 0x7fffffff) % partitions` with Kafka's own murmur2 variant
//! ([`murmur2`], [`partition_for_key`]), checked against the Java client's test vectors and,
//! key by key, against kafka-python.
//!
//! Records without a key may go anywhere, and where they go is a throughput choice: a
//! [`Partitioner`] decides, given the topic, the key and the partition count:
//!
//! | strategy | keyed records | keyless records | as in |
//! |---|---|---|---|
//! | [`DefaultPartitioner`] = `Murmur2<Sticky<R>>` | murmur2 | sticky until the batch closes | Java's default (KIP-480, KIP-794) |
//! | `Murmur2<Random<R>>` | murmur2 | random | kafka-python's `DefaultPartitioner` |
//! | `Murmur2<RoundRobin>` | murmur2 | round robin | Java's default before 2.4 |
//! | [`Sticky`] | sticky | sticky | Java's `UniformStickyPartitioner` |
//! | [`RoundRobin`] | round robin | round robin | Java's `RoundRobinPartitioner` |
//! | [`Random`] | random | random | |
//! | [`Fixed`] | one partition | one partition | |
//! | a closure, [`FnPartitioner`] | yours | yours | a custom `Partitioner` class |
//!
//! A record that names its partition explicitly skips the partitioner; [`choose_partition`]
//! applies that rule and checks every answer against the partition count, so a bad partition
//! is a [`PartitionError`], never a panic or a produce request the broker rejects.
//!
//! Randomness comes from the caller, as a [`rand_core::RngCore`] (a hardware RNG on a
//! microcontroller), and every strategy keeps its state inline: nothing here allocates.
//!
//! # Example
//!
//! ```
//! use embedded_kafka::partition::{choose_partition, murmur2, partition_for_key, Murmur2, RoundRobin};
//!
//! assert_eq!(murmur2(b"foobar"), -790_332_482); // Java's Utils.murmur2, signed
//! assert_eq!(partition_for_key(b"foobar", 1_000), 166);
//!
//! let mut partitioner = Murmur2::new(RoundRobin::new());
//! assert_eq!(choose_partition(None, "readings", Some(b"foobar"), 1_000, &mut partitioner), Ok(166));
//! assert_eq!(choose_partition(Some(9), "readings", Some(b"foobar"), 1_000, &mut partitioner), Ok(9));
//! ```

mod error;
mod murmur2;
mod partitioner;
mod strategy;

pub use self::error::PartitionError;
pub use self::murmur2::{
    murmur2, partition_for_key, partition_for_key_nonzero, try_partition_for_key,
};
pub use self::partitioner::{FnPartitioner, Partitioner, choose_partition};
pub use self::strategy::{DefaultPartitioner, Fixed, Murmur2, Random, RoundRobin, Sticky};
