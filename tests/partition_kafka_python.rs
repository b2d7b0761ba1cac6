//! Differential test: our murmur2 and keyed partitioning against kafka-python's, key by key.
//!
//! kafka-python (pinned by `scripts/setup-python`) is an independent Python transcription of
//! the Java client's `Utils.murmur2`; its `DefaultPartitioner` picks
//! `sorted(partitions)[(murmur2(key) & 0x7fffffff) % len(partitions)]`. Its `murmur2` returns
//! the hash as an *unsigned* 32-bit number (0..2³²), where Java and our `murmur2` return the
//! same 32 bits as a signed `i32`; we compare `murmur2(key) as u32` (a bit-for-bit
//! reinterpretation) with kafka-python's number, which must parse as a `u32`.
//!
//! The keys: the Java client's own test vectors (tests/vectors/murmur2_java.txt, whose expected
//! values kafka-python must reproduce too), hand-picked edge cases, and 10,000 keys of random
//! bytes and random length 0..=64 from a fixed seed. All go to one Python run.

mod common;

use embedded_kafka::partition::{murmur2, partition_for_key};

/// The partition counts every key is partitioned for.
const PARTITION_COUNTS: [u32; 7] = [1, 2, 3, 7, 16, 100, 1000];
/// How many random keys, and the seed that makes them the same every run.
const RANDOM_KEYS: usize = 10_000;
const SEED: u64 = 0x6b61_666b_615f_6d32; // "kafka_m2"

/// The Java client's vectors: (key, Java's signed murmur2).
fn java_vectors() -> Vec<(Vec<u8>, i32)> {
    include_str!("vectors/murmur2_java.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split_whitespace();
            let key = common::unhex(fields.next().expect("hex key"));
            let expected = fields
                .next()
                .expect("expected value")
                .parse()
                .expect("an i32");
            (key, expected)
        })
        .collect()
}

/// Keys chosen to hit every tail length and every byte that a sign-extension or shift mistake
/// would treat differently.
fn edge_keys() -> Vec<Vec<u8>> {
    let mut keys = vec![Vec::new()];
    for len in [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 31, 32, 33] {
        for byte in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
            keys.push(vec![byte; len]);
        }
    }
    // All-0xff keys of every length up to 64 (every byte sign-extends in Java).
    keys.extend((0..=64).map(|len| vec![0xff; len]));
    // Alternating high/low bytes, so each block mixes signs.
    for len in 1..=12 {
        keys.push(
            (0..len)
                .map(|i| if i % 2 == 0 { 0x80 } else { 0x7f })
                .collect(),
        );
        keys.push(
            (0..len)
                .map(|i| if i % 2 == 0 { 0xff } else { 0x00 })
                .collect(),
        );
    }
    // Non-ASCII text, as a serializer would produce it (UTF-8).
    for text in [
        "ключ",
        "鍵",
        "🔑",
        "sensor-µ°C",
        "Zürich/温度/🌡️",
        "\u{0}",
        "\u{7f}\u{80}\u{ff}",
    ] {
        keys.push(text.as_bytes().to_vec());
    }
    // Typical keys: a UUID string, a MAC address, numbers.
    keys.push(b"123e4567-e89b-12d3-a456-426614174000".to_vec());
    keys.push(b"00:1b:63:84:45:e6".to_vec());
    keys.extend((0..100u32).map(|i| i.to_string().into_bytes()));
    keys.extend((0..16u32).map(|i| i.to_le_bytes().to_vec()));
    keys
}

fn random_keys() -> Vec<Vec<u8>> {
    use rand_core::RngCore;
    let mut rng = common::XorShift64::new(SEED);
    (0..RANDOM_KEYS)
        .map(|_| {
            let len = (rng.next_u32() % 65) as usize;
            let mut key = vec![0; len];
            rng.fill_bytes(&mut key);
            key
        })
        .collect()
}

#[test]
fn murmur2_and_default_partitioner_agree_with_kafka_python() {
    let java = java_vectors();
    assert_eq!(java.len(), 6, "UtilsTest.testMurmur2 has six vectors");
    let mut keys: Vec<Vec<u8>> = java.iter().map(|(key, _)| key.clone()).collect();
    keys.extend(edge_keys());
    keys.extend(random_keys());

    let mut input = String::from("partitions");
    for n in PARTITION_COUNTS {
        input.push_str(&format!(" {n}"));
    }
    input.push('\n');
    for key in &keys {
        input.push_str(&common::hex(key));
        input.push('\n');
    }

    let output = common::run_python("murmur2.py", input.as_bytes());
    let output = String::from_utf8(output).expect("murmur2.py prints ASCII");
    let mut lines = output.lines();
    assert_eq!(
        lines.next(),
        Some("kafka-python 3.0.12"),
        "the peer is not the pinned kafka-python; run scripts/setup-python"
    );

    let mut compared = 0usize;
    for (i, key) in keys.iter().enumerate() {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("murmur2.py stopped after {i} keys"));
        let mut fields = line.split(' ');
        let theirs: u32 = fields
            .next()
            .and_then(|h| h.parse().ok())
            .unwrap_or_else(|| panic!("bad murmur2 field in {line:?}"));
        let ours = murmur2(key);
        assert_eq!(
            ours.cast_unsigned(),
            theirs,
            "murmur2 of key #{i} {} (len {}): ours {ours} ({:#010x}), kafka-python {theirs} ({theirs:#010x})",
            common::hex(key),
            key.len(),
            ours.cast_unsigned(),
        );
        compared += 1;

        for n in PARTITION_COUNTS {
            let theirs: u32 = fields
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("bad partition field for {n} partitions in {line:?}"));
            assert_eq!(
                partition_for_key(key, n),
                theirs,
                "partition of key #{i} {} among {n}",
                common::hex(key)
            );
            compared += 1;
        }
        assert_eq!(fields.next(), None, "extra fields in {line:?}");
    }
    assert_eq!(
        lines.next(),
        None,
        "murmur2.py printed more lines than keys"
    );

    // The Java vectors, through kafka-python too: both peers and we agree.
    for (key, expected) in &java {
        assert_eq!(murmur2(key), *expected);
    }

    assert!(keys.len() >= RANDOM_KEYS + 200, "only {} keys", keys.len());
    eprintln!(
        "compared {compared} values for {} keys with kafka-python",
        keys.len()
    );
}
