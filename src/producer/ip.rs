//! Brokers' host strings read as IP addresses (a Metadata response names each broker by host
//! and port: an address literal, or a name for the resolver). `core`'s `IpAddr` parser is
//! general (it parses socket addresses, scope ids and partial input too) and took about 2 KiB
//! of a firmware's flash; this one reads exactly the two literal forms, and the tests hold it
//! to the same answers as `core`'s on every input they try.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `host` as an IPv4 (dotted decimal) or IPv6 (RFC 4291 text, `::` and a trailing IPv4
/// included) address, if it is one.
pub(super) fn parse(host: &str) -> Option<IpAddr> {
    let s = host.as_bytes();
    if s.contains(&b':') {
        ipv6(s).map(IpAddr::V6)
    } else {
        ipv4(s).map(|a| IpAddr::V4(Ipv4Addr::from(a)))
    }
}

/// Four decimal octets separated by dots, without leading zeros (as `core` reads them).
fn ipv4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for octet in &mut out {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.first() == Some(&b'0')) {
            return None;
        }
        let mut v = 0u16;
        for &d in part {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u16::from(d - b'0');
        }
        *octet = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Eight groups of up to four hex digits separated by colons, a run of zero groups written
/// `::` at most once, the last two groups possibly written as an IPv4 address.
fn ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    let gap = s.windows(2).position(|w| w == b"::");
    let mut groups = [0u16; 8];
    let (head, tail) = match gap {
        Some(at) => (s.get(..at)?, s.get(at + 2..)?),
        None => (s, &[][..]),
    };
    let n_head = groups_of(head, &mut groups, gap.is_none())?;
    let n = match gap {
        None if n_head == 8 => 8,
        None => return None,
        Some(_) => {
            let mut rest = [0u16; 8];
            // The gap stands for one group at least.
            let room = rest.get_mut(..7usize.checked_sub(n_head)?)?;
            let n_tail = groups_of(tail, room, true)?;
            let start = 8 - n_tail;
            for (g, &v) in groups.iter_mut().skip(start).zip(rest.iter()) {
                *g = v;
            }
            8
        }
    };
    (n == 8).then(|| Ipv6Addr::from(groups))
}

/// Reads colon-separated groups of `s` into `out` (an empty `s` is no group), the last one
/// possibly an IPv4 address (two groups) if `last` (nothing follows `s`). How many groups.
fn groups_of(s: &[u8], out: &mut [u16], last: bool) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let mut parts = s.split(|&b| b == b':').peekable();
    while let Some(part) = parts.next() {
        if last && parts.peek().is_none() && part.contains(&b'.') {
            let [a, b, c, d] = ipv4(part)?;
            *out.get_mut(n)? = u16::from_be_bytes([a, b]);
            *out.get_mut(n + 1)? = u16::from_be_bytes([c, d]);
            return Some(n + 2);
        }
        if part.is_empty() || part.len() > 4 {
            return None;
        }
        let mut v = 0u16;
        for &d in part {
            v = (v << 4) | u16::from(char::from(d).to_digit(16)? as u8);
        }
        *out.get_mut(n)? = v;
        n += 1;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core_parse(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn reads_what_core_reads() {
        let cases = [
            "127.0.0.1",
            "10.42.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..3.4",
            "1.2.3.4 ",
            "",
            "kafka-1",
            "localhost",
            "::",
            "::1",
            "1::",
            "fe80::1",
            "2001:db8::8a2e:370:7334",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7::",
            "::1:2:3:4:5:6:7",
            "1::2::3",
            ":::",
            ":1::",
            "::1:",
            "12345::",
            "g::",
            "::ffff:10.0.0.1",
            "::ffff:10.0.0",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3.4",
            "1.2.3.4::",
            "[::1]",
            "::1%eth0",
            "FFFF::abcd",
            "+1::",
            "1.2.3.+4",
            "0::0:0",
        ];
        for s in cases {
            assert_eq!(parse(s), core_parse(s), "{s:?}");
        }
        // Random strings over the characters that matter.
        let alphabet = b"0123456789abcdefABCDEFg:.:.";
        let mut state = 0x2545_f491_u32;
        let mut buf = [0u8; 24];
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = (state % 24) as usize;
            for b in buf.iter_mut().take(len) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *b = alphabet[(state % alphabet.len() as u32) as usize];
            }
            let s = core::str::from_utf8(&buf[..len]).unwrap();
            assert_eq!(parse(s), core_parse(s), "{s:?}");
        }
    }
}
