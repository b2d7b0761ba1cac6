//! Variable-length integers: unsigned LEB128 (`UNSIGNED_VARINT`) and the zigzag-signed
//! `VARINT` / `VARLONG` of the record format (borrowed from protobuf).

/// Most bytes a 32-bit varint takes.
pub const MAX_LEN_32: usize = 5;
/// Most bytes a 64-bit varint takes.
pub const MAX_LEN_64: usize = 10;

/// Zigzag-maps a signed 32-bit integer so small magnitudes get short encodings.
#[inline]
pub const fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Inverse of [`zigzag32`].
#[inline]
pub const fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Zigzag-maps a signed 64-bit integer.
#[inline]
pub const fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag64`].
#[inline]
pub const fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encoded size of an unsigned 32-bit varint.
#[inline]
pub const fn uvarint_len(v: u32) -> usize {
    // ceil(bits / 7), with 0 taking one byte; (9 * bits + 64) / 64 is the same for every
    // bits in 1..=64, one multiply-add and a shift where `div_ceil(7)` takes two multiplies.
    let bits = 32 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) >> 6
}

/// Encoded size of an unsigned 64-bit varint.
#[inline]
pub const fn uvarlong_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) >> 6
}

/// Encoded size of a zigzag `VARINT`.
#[inline]
pub const fn varint_len(v: i32) -> usize {
    uvarint_len(zigzag32(v))
}

/// Encoded size of a zigzag `VARLONG`.
#[inline]
pub const fn varlong_len(v: i64) -> usize {
    uvarlong_len(zigzag64(v))
}

/// Writes `v` as LEB128 into `out`, returning the byte count.
#[inline]
pub(crate) fn encode_u32(mut v: u32, out: &mut [u8; MAX_LEN_32]) -> usize {
    let mut n = 0;
    for slot in out.iter_mut() {
        n += 1;
        if v < 0x80 {
            *slot = v as u8;
            break;
        }
        *slot = (v as u8) | 0x80;
        v >>= 7;
    }
    n
}

/// Writes `v` as LEB128 into `out`, returning the byte count.
/// The reference the writer's direct LEB128 output is tested against.
#[cfg(test)]
pub(crate) fn encode_u64(mut v: u64, out: &mut [u8; MAX_LEN_64]) -> usize {
    let mut n = 0;
    for slot in out.iter_mut() {
        n += 1;
        if v < 0x80 {
            *slot = v as u8;
            break;
        }
        *slot = (v as u8) | 0x80;
        v >>= 7;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_encoding() {
        for v in [
            0u32,
            1,
            127,
            128,
            16383,
            16384,
            (1 << 21) - 1,
            1 << 21,
            (1 << 28) - 1,
            1 << 28,
            u32::MAX,
        ] {
            let mut b = [0; MAX_LEN_32];
            assert_eq!(encode_u32(v, &mut b), uvarint_len(v), "{v}");
        }
        for v in [
            0u64,
            127,
            128,
            u32::MAX as u64,
            1 << 56,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX,
        ] {
            let mut b = [0; MAX_LEN_64];
            assert_eq!(encode_u64(v, &mut b), uvarlong_len(v), "{v}");
        }
    }

    #[test]
    fn zigzag_matches_protobuf() {
        // Table from the protobuf encoding guide, which Kafka's record format follows.
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(-2), 3);
        assert_eq!(zigzag32(i32::MAX), 0xffff_fffe);
        assert_eq!(zigzag32(i32::MIN), 0xffff_ffff);
        assert_eq!(zigzag64(i64::MIN), u64::MAX);
        for v in [0, 1, -1, i32::MAX, i32::MIN, 12345, -98765] {
            assert_eq!(unzigzag32(zigzag32(v)), v);
            assert_eq!(unzigzag64(zigzag64(v as i64)), v as i64);
        }
    }
}
