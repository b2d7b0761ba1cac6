//! Round trips and edge cases for every wire primitive: what the writer emits, the parsers read
//! back; every proper prefix of an encoding is "incomplete", never an error or a wrong value.

use embedded_kafka::wire::{DecodeError, EncodeError, Writer, decode, varint};
use proptest::prelude::*;

/// Encodes with `put`, checks the parser reads the same value back consuming everything, that
/// every proper prefix is `Incomplete`, and that a too-small buffer fails cleanly.
macro_rules! round_trip {
    ($put:expr, $parse:expr, $expected:expr) => {{
        let put = $put;
        let parse = $parse;
        let mut buf = vec![0xa5u8; 1 << 17];
        let mut w = Writer::new(&mut buf);
        put(&mut w).expect("fits");
        let n = w.position();
        let bytes = buf[..n].to_vec();

        let (rest, v) = parse(&bytes).expect("parses");
        assert!(rest.is_empty(), "parser left {} bytes", rest.len());
        assert_eq!(v, $expected);

        // Trailing bytes are left for the next parser.
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"xyz");
        let (rest, _) = parse(&longer).expect("parses with trailing bytes");
        assert_eq!(rest, b"xyz");

        for cut in 0..n {
            match parse(&bytes[..cut]) {
                Err(nom::Err::Incomplete(_)) => {}
                other => panic!("prefix of {cut}/{n} bytes gave {other:?}"),
            }
        }

        // One byte too few: an error naming the size needed, and nothing left behind.
        if n > 0 {
            let mut small = vec![0u8; n - 1];
            let mut w = Writer::new(&mut small);
            let err: EncodeError = put(&mut w).expect_err("must not fit");
            assert!(
                matches!(err, EncodeError::BufferTooSmall { needed, available } if needed >= n && available == n - 1),
                "{err:?}"
            );
            assert_eq!(w.position(), 0, "a failed write must leave nothing behind");
        }
    }};
}

proptest! {
    #[test]
    fn ints(a: i8, b: i16, c: i32, d: i64, e: u16, f: u32, g: f64, h: bool, u: [u8; 16]) {
        round_trip!(|w: &mut Writer<'_>| w.put_i8(a), decode::i8, a);
        round_trip!(|w: &mut Writer<'_>| w.put_i16(b), decode::i16, b);
        round_trip!(|w: &mut Writer<'_>| w.put_i32(c), decode::i32, c);
        round_trip!(|w: &mut Writer<'_>| w.put_i64(d), decode::i64, d);
        round_trip!(|w: &mut Writer<'_>| w.put_u16(e), decode::u16, e);
        round_trip!(|w: &mut Writer<'_>| w.put_u32(f), decode::u32, f);
        if !g.is_nan() {
            round_trip!(|w: &mut Writer<'_>| w.put_f64(g), decode::f64, g);
        }
        round_trip!(|w: &mut Writer<'_>| w.put_bool(h), decode::bool, h);
        round_trip!(|w: &mut Writer<'_>| w.put_uuid(&u), decode::uuid, u);
    }

    #[test]
    fn varints(a: u32, b: i32, c: i64, d: u64) {
        round_trip!(|w: &mut Writer<'_>| w.put_uvarint(a), decode::uvarint, a);
        round_trip!(|w: &mut Writer<'_>| w.put_varint(b), decode::varint, b);
        round_trip!(|w: &mut Writer<'_>| w.put_varlong(c), decode::varlong, c);
        round_trip!(|w: &mut Writer<'_>| w.put_uvarlong(d), decode::uvarlong, d);
        let mut buf = [0u8; 10];
        let mut w = Writer::new(&mut buf);
        w.put_varlong(c).unwrap();
        prop_assert_eq!(w.position(), varint::varlong_len(c));
        let mut w = Writer::new(&mut buf);
        w.put_varint(b).unwrap();
        prop_assert_eq!(w.position(), varint::varint_len(b));
    }

    #[test]
    fn strings(s in ".{0,300}", null: bool) {
        let s = s.as_str();
        let opt = if null { None } else { Some(s) };
        round_trip!(|w: &mut Writer<'_>| w.put_string(s), decode::string, s);
        round_trip!(|w: &mut Writer<'_>| w.put_nullable_string(opt), decode::nullable_string, opt);
        round_trip!(|w: &mut Writer<'_>| w.put_compact_string(s), decode::compact_string, s);
        round_trip!(|w: &mut Writer<'_>| w.put_compact_nullable_string(opt), decode::compact_nullable_string, opt);
    }

    #[test]
    fn bytes(b in proptest::collection::vec(any::<u8>(), 0..300), null: bool) {
        let b = b.as_slice();
        let opt = if null { None } else { Some(b) };
        round_trip!(|w: &mut Writer<'_>| w.put_bytes(b), decode::bytes, b);
        round_trip!(|w: &mut Writer<'_>| w.put_nullable_bytes(opt), decode::nullable_bytes, opt);
        round_trip!(|w: &mut Writer<'_>| w.put_compact_bytes(b), decode::compact_bytes, b);
        round_trip!(|w: &mut Writer<'_>| w.put_compact_nullable_bytes(opt), decode::compact_nullable_bytes, opt);
        round_trip!(|w: &mut Writer<'_>| w.put_varint_bytes(opt), decode::varint_bytes, opt);
    }

    #[test]
    fn array_lengths(n in 0usize..=i32::MAX as usize, null: bool) {
        let opt = if null { None } else { Some(n) };
        round_trip!(|w: &mut Writer<'_>| w.put_array_len(n), decode::array_len, n);
        round_trip!(|w: &mut Writer<'_>| w.put_nullable_array_len(opt), decode::nullable_array_len, opt);
        round_trip!(|w: &mut Writer<'_>| w.put_compact_array_len(n), decode::compact_array_len, n);
        round_trip!(|w: &mut Writer<'_>| w.put_compact_nullable_array_len(opt), decode::compact_nullable_array_len, opt);
    }

    #[test]
    fn tagged_fields(mut tags in proptest::collection::btree_set(any::<u32>(), 0..6),
                     data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 6)) {
        let tags: Vec<u32> = core::mem::take(&mut tags).into_iter().collect();
        let fields: Vec<(u32, &[u8])> = tags.iter().zip(&data).map(|(&t, d)| (t, d.as_slice())).collect();
        let mut buf = vec![0u8; 4096];
        let mut w = Writer::new(&mut buf);
        w.put_tagged_fields(&fields).unwrap();
        let n = w.position();
        let (rest, parsed) = decode::tagged_fields(&buf[..n]).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(parsed.len(), fields.len());
        prop_assert_eq!(parsed.iter().collect::<Vec<_>>(), fields.clone());
        for &(t, d) in &fields {
            prop_assert_eq!(parsed.get(t), Some(d));
        }
        for cut in 0..n {
            prop_assert!(matches!(decode::tagged_fields(&buf[..cut]), Err(nom::Err::Incomplete(_))));
        }
    }

    /// No input makes a parser panic, and whatever it accepts it consumed from the input.
    #[test]
    fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode::string(&input);
        let _ = decode::compact_nullable_string(&input);
        let _ = decode::nullable_bytes(&input);
        let _ = decode::compact_bytes(&input);
        let _ = decode::varint_bytes(&input);
        let _ = decode::varlong(&input);
        let _ = decode::compact_array_len(&input);
        if let Ok((rest, t)) = decode::tagged_fields(&input) {
            prop_assert!(rest.len() <= input.len());
            let _ = t.iter().count();
        }
    }
}

#[test]
fn known_encodings() {
    // Values from the protobuf/Kafka varint description and Kafka's ByteUtilsTest.
    let cases: &[(i64, &[u8])] = &[
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (-64, b"\x7f"),
        (64, b"\x80\x01"),
        (i32::MAX as i64, b"\xfe\xff\xff\xff\x0f"),
        (i32::MIN as i64, b"\xff\xff\xff\xff\x0f"),
    ];
    for &(v, enc) in cases {
        let mut buf = [0u8; 5];
        let mut w = Writer::new(&mut buf);
        w.put_varint(v as i32).unwrap();
        assert_eq!(w.written(), enc, "varint {v}");
        assert_eq!(decode::varint(enc).unwrap().1 as i64, v);
    }
    let mut buf = [0u8; 10];
    let mut w = Writer::new(&mut buf);
    w.put_varlong(i64::MIN).unwrap();
    assert_eq!(w.written(), b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");

    let mut buf = [0u8; 16];
    let mut w = Writer::new(&mut buf);
    w.put_nullable_string(None).unwrap();
    w.put_compact_nullable_string(None).unwrap();
    w.put_compact_string("").unwrap();
    w.put_nullable_bytes(None).unwrap();
    w.put_empty_tagged_fields().unwrap();
    assert_eq!(w.written(), b"\xff\xff\x00\x01\xff\xff\xff\xff\x00");
}

#[test]
fn malformed_inputs_are_named_errors() {
    let e = |r: decode::IResult<'_, _>| -> DecodeError {
        match r.map(|(_, v): (&[u8], ())| v) {
            Err(nom::Err::Error(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    };
    // Six-byte 32-bit varint and a fifth byte with bits past 32.
    assert_eq!(
        e(decode::uvarint(b"\x80\x80\x80\x80\x80\x01").map(|(r, _)| (r, ()))),
        DecodeError::InvalidVarint { max_bytes: 5 }
    );
    assert_eq!(
        e(decode::uvarint(b"\xff\xff\xff\xff\x10").map(|(r, _)| (r, ()))),
        DecodeError::InvalidVarint { max_bytes: 5 }
    );
    assert_eq!(
        decode::uvarint(b"\xff\xff\xff\xff\x0f").unwrap().1,
        u32::MAX
    );
    assert_eq!(
        e(decode::uvarlong(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02").map(|(r, _)| (r, ()))),
        DecodeError::InvalidVarint { max_bytes: 10 }
    );
    assert_eq!(
        e(decode::string(b"\xff\xfe").map(|(r, _)| (r, ()))),
        DecodeError::InvalidLength {
            what: "string",
            found: -2
        }
    );
    assert_eq!(
        e(decode::string(b"\xff\xff").map(|(r, _)| (r, ()))),
        DecodeError::UnexpectedNull { what: "string" }
    );
    assert_eq!(
        e(decode::compact_string(b"\x00").map(|(r, _)| (r, ()))),
        DecodeError::UnexpectedNull {
            what: "compact string"
        }
    );
    assert_eq!(
        e(decode::string(b"\x00\x02\xc3\x28").map(|(r, _)| (r, ()))),
        DecodeError::InvalidUtf8 { valid_up_to: 0 }
    );
    assert_eq!(
        e(decode::varint_bytes(b"\x03").map(|(r, _)| (r, ()))),
        DecodeError::InvalidLength {
            what: "record bytes",
            found: -2
        }
    );
    assert_eq!(
        e(decode::tagged_fields(b"\x02\x05\x00\x05\x00").map(|(r, _)| (r, ()))),
        DecodeError::TagOutOfOrder {
            previous: 5,
            found: 5
        }
    );
    // A length prefix promising 2 GiB is simply "incomplete": it asks for the bytes, it does
    // not allocate anything.
    assert!(
        matches!(decode::bytes(b"\x7f\xff\xff\xff"), Err(nom::Err::Incomplete(nom::Needed::Size(n))) if n.get() == i32::MAX as usize)
    );
    // Inside a complete container, running short is `Truncated`.
    assert_eq!(
        decode::within("key", decode::bytes(b"\x00\x00\x00\x05ab")).unwrap_err(),
        DecodeError::Truncated {
            what: "key",
            needed: 3
        }
    );
}

#[test]
fn writer_limits_and_patching() {
    let mut buf = [0u8; 8];
    let mut w = Writer::new(&mut buf);
    let long = "x".repeat(i16::MAX as usize + 1);
    assert_eq!(
        w.put_string(&long),
        Err(EncodeError::TooLong {
            what: "string",
            len: 32768,
            max: 32767
        })
    );
    let gap = w.reserve::<4>().unwrap();
    w.put_u16(7).unwrap();
    assert_eq!(
        w.put_i32(1),
        Err(EncodeError::BufferTooSmall {
            needed: 10,
            available: 8
        })
    );
    w.patch_i32(gap, 0x0102_0304).unwrap();
    assert_eq!(w.written(), b"\x01\x02\x03\x04\x00\x07");
    w.rollback(2);
    assert_eq!(
        w.patch_i32(gap, 0),
        Err(EncodeError::GapOutOfRange { at: 0, written: 2 })
    );
}

#[test]
fn varint_gap_is_filled_minimally() {
    for len in [0usize, 1, 63, 64, 127, 128, 300, 20_000] {
        let mut buf = vec![0u8; 32_000];
        let mut w = Writer::new(&mut buf);
        w.put_u8(0xee).unwrap();
        let gap = w.reserve_uvarint().unwrap();
        let body_start = w.position();
        w.put_slice(&vec![0x42; len]).unwrap();
        w.put_u8(0xdd).unwrap();
        let body = (w.position() - body_start) as i32;
        w.fill_varint(gap, body).unwrap();
        let out = w.written().to_vec();

        let mut expect = vec![0u8; 32_000];
        let mut e = Writer::new(&mut expect);
        e.put_u8(0xee).unwrap();
        e.put_varint(body).unwrap();
        e.put_slice(&vec![0x42; len]).unwrap();
        e.put_u8(0xdd).unwrap();
        assert_eq!(out, e.written(), "len {len}");
    }
}

#[test]
fn put_with_writes_in_place() {
    let mut buf = [0u8; 8];
    let mut w = Writer::new(&mut buf);
    w.put_u8(1).unwrap();
    let n = w
        .put_with(Some(4), |out: &mut [u8]| -> Result<usize, ()> {
            assert_eq!(out.len(), 4);
            out[..3].copy_from_slice(b"abc");
            Ok(3)
        })
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(w.written(), b"\x01abc");
    assert!(w.put_with(None, |_| Err::<usize, &str>("full")).is_err());
    assert_eq!(w.position(), 4);
    let e = w
        .put_with(None, |out: &mut [u8]| Ok::<usize, ()>(out.len() + 1))
        .unwrap_err();
    assert_eq!(
        e,
        embedded_kafka::wire::WithError::Encode(EncodeError::ClosureOverrun {
            claimed: 5,
            available: 4
        })
    );
    assert_eq!(w.position(), 4);
}

/// A one-byte count slot filled with a value that needs two bytes moves what follows forward,
/// if the buffer has the byte, and is `BufferTooSmall` (nothing moved) if not.
#[test]
fn small_varint_slots_grow_when_filled_wide() {
    let mut buf = [0u8; 4];
    let mut w = Writer::new(&mut buf);
    let gap = w.reserve_uvarint_small().unwrap();
    w.put_i16(-21829).unwrap(); // 0xAA 0xBB
    w.fill_uvarint_growing(gap, 200).unwrap();
    assert_eq!(w.written(), &[0xC8, 0x01, 0xAA, 0xBB]);

    let mut buf = [0u8; 3];
    let mut w = Writer::new(&mut buf);
    let gap = w.reserve_uvarint_small().unwrap();
    w.put_i16(-21829).unwrap(); // 0xAA 0xBB
    assert_eq!(
        w.fill_uvarint_growing(gap, 200),
        Err(EncodeError::BufferTooSmall {
            needed: 4,
            available: 3
        })
    );
    assert_eq!(w.written(), &[0x00, 0xAA, 0xBB]);
    // Below 128 it fits the byte as it is.
    w.fill_uvarint_growing(gap, 5).unwrap();
    assert_eq!(w.written(), &[0x05, 0xAA, 0xBB]);
}
