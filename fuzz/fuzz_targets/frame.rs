//! Framing on arbitrary bytes, read in arbitrary pieces: `FrameReader` must never panic, never
//! hand out a window larger than the current frame still needs (so never past its buffer), and
//! find exactly the frames, and stop at exactly the error, that `parse_frame` finds walking the
//! whole stream at once.
//!
//! Input: `cap_hi cap_lo k f_1 … f_k stream…`, where `cap` (mod 4096) is the reader's buffer
//! size and the `f_i` are the sizes of successive reads, cycled (0: a read that returned
//! nothing; 255: also try committing more than the window, which must change nothing).
#![no_main]

use embedded_kafka::protocol::{FrameError, FrameReader, parse_frame, response_correlation_id};
use embedded_kafka::wire::Status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [cap_hi, cap_lo, k, rest @ ..] = data else {
        return;
    };
    let cap = usize::from(u16::from_be_bytes([*cap_hi, *cap_lo])) % 4096;
    let k = usize::from(*k % 16).min(rest.len());
    let (fragments, stream) = rest.split_at(k);
    let fragments: &[u8] = if fragments.iter().any(|&f| f > 0) {
        fragments
    } else {
        &[1]
    };

    let expected = walk_with_parse_frame(stream, cap);
    let got = walk_with_reader(stream, cap, fragments);
    assert_eq!(got, expected);
});

#[derive(Debug, PartialEq)]
struct Walk<'a> {
    bodies: Vec<&'a [u8]>,
    /// The error that stopped the walk, or the bytes of a last partial frame.
    end: Result<usize, FrameError>,
}

fn walk_with_parse_frame(stream: &[u8], max: usize) -> Walk<'_> {
    let mut bodies = Vec::new();
    let mut at = 0;
    loop {
        match parse_frame(&stream[at..], max) {
            Ok(Status::Complete { value, consumed }) => {
                assert_eq!(consumed, 4 + value.len());
                assert!(value.len() <= max);
                assert_eq!(&stream[at + 4..at + consumed], value);
                assert_eq!(
                    response_correlation_id(value),
                    Ok(i32::from_be_bytes(value[..4].try_into().unwrap()))
                );
                bodies.push(value);
                at += consumed;
            }
            Ok(Status::Incomplete { needed }) => {
                let have = stream.len() - at;
                assert!(needed > 0);
                if have >= 4 {
                    // Exact once the size is in.
                    let size = i32::from_be_bytes(stream[at..at + 4].try_into().unwrap());
                    assert_eq!(have + needed, 4 + size as usize);
                } else {
                    assert_eq!(needed, 4 - have);
                }
                return Walk {
                    bodies,
                    end: Ok(have),
                };
            }
            Err(e) => {
                return Walk {
                    bodies,
                    end: Err(e),
                };
            }
        }
    }
}

fn walk_with_reader<'a>(stream: &'a [u8], cap: usize, fragments: &[u8]) -> Walk<'a> {
    let mut buf = vec![0u8; cap];
    let mut reader = FrameReader::new(&mut buf);
    let mut bodies = Vec::new();
    let mut at = 0;
    let mut frame_start = 0;
    for &fragment in fragments.iter().cycle() {
        let window = reader.receive_buffer();
        let window_len = window.len();
        if window_len == 0 {
            let e = reader
                .error()
                .expect("an empty window between frames means failure");
            return Walk {
                bodies,
                end: Err(to_parse_frame_error(e)),
            };
        }
        let in_frame = at - frame_start;
        // Never past the size field, then never past the body the size field announced.
        if in_frame < 4 {
            assert_eq!(window_len, 4 - in_frame);
        } else {
            let size = i32::from_be_bytes(stream[frame_start..frame_start + 4].try_into().unwrap());
            assert_eq!(in_frame + window_len, 4 + size as usize);
            assert!(window_len <= cap);
        }
        if at == stream.len() {
            assert_eq!(reader.buffered(), in_frame);
            return Walk {
                bodies,
                end: Ok(in_frame),
            };
        }
        let n = window_len.min(usize::from(fragment)).min(stream.len() - at);
        window[..n].copy_from_slice(&stream[at..at + n]);
        if fragment == 255 {
            let before = reader.buffered();
            assert_eq!(
                reader.commit(window_len + 1),
                Err(FrameError::CommitOverrun {
                    committed: window_len + 1,
                    window: window_len
                })
            );
            assert_eq!(reader.buffered(), before);
            assert_eq!(reader.error(), None);
        }
        at += n;
        match reader.commit(n) {
            Ok(Status::Complete { value, consumed }) => {
                assert_eq!(frame_start + consumed, at, "read past the frame");
                assert_eq!(value, &stream[frame_start + 4..at]);
                bodies.push(&stream[frame_start + 4..at]);
                assert_eq!(reader.frame(), Some(&stream[frame_start + 4..at]));
                assert!(reader.receive_buffer().is_empty());
                reader.consume();
                assert_eq!(reader.buffered(), 0);
                frame_start = at;
            }
            Ok(Status::Incomplete { needed }) => {
                assert_eq!(reader.receive_buffer().len(), needed);
                assert_eq!(reader.buffered(), at - frame_start);
            }
            Err(e) => {
                assert_eq!(at - frame_start, 4, "failed other than on a size field");
                assert_eq!(reader.error(), Some(e));
                assert_eq!(reader.commit(0), Err(e), "failure is sticky");
                return Walk {
                    bodies,
                    end: Err(to_parse_frame_error(e)),
                };
            }
        }
    }
    unreachable!("cycle() is endless")
}

/// The reader reports a frame over its buffer as `BufferTooSmall`; `parse_frame` with the same
/// maximum says `TooLarge`.
fn to_parse_frame_error(e: FrameError) -> FrameError {
    match e {
        FrameError::BufferTooSmall { needed, available } => FrameError::TooLarge {
            size: i32::try_from(needed).unwrap(),
            max: available,
        },
        e => e,
    }
}
