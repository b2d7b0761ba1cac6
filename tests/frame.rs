//! Framing over arbitrary streams: `FrameReader` fed in random fragmentations must find exactly
//! the frames, and stop at exactly the error, that `parse_frame` finds walking the whole stream;
//! its window never reaches past the current frame. Plus `InFlight` against a model queue.

use embedded_kafka::protocol::{
    ApiKey, CorrelationIds, FrameError, FrameReader, InFlight, InFlightFull, InFlightRequest,
    parse_frame, response_correlation_id,
};
use embedded_kafka::wire::Status;
use proptest::prelude::*;
use std::collections::VecDeque;

/// What `parse_frame` makes of a whole stream: the bodies, then either the error that stopped
/// it or how many bytes of a last partial frame were left.
#[derive(Debug, PartialEq)]
struct Walk {
    bodies: Vec<Vec<u8>>,
    end: Result<usize, FrameError>,
}

fn walk_with_parse_frame(stream: &[u8], max: usize) -> Walk {
    let mut bodies = Vec::new();
    let mut at = 0;
    loop {
        match parse_frame(&stream[at..], max) {
            Ok(Status::Complete { value, consumed }) => {
                assert_eq!(consumed, 4 + value.len());
                bodies.push(value.to_vec());
                at += consumed;
            }
            Ok(Status::Incomplete { .. }) => {
                return Walk {
                    bodies,
                    end: Ok(stream.len() - at),
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

/// Feeds `stream` to a reader over a `cap`-byte buffer, each read taking at most the next
/// fragment size (cycled; 0 means a read that returned nothing).
fn walk_with_reader(stream: &[u8], cap: usize, fragments: &[usize]) -> Walk {
    let mut buf = vec![0u8; cap];
    let mut reader = FrameReader::new(&mut buf);
    let mut bodies = Vec::new();
    let mut at = 0;
    let mut frame_start = 0;
    for &fragment in fragments.iter().cycle() {
        let window = reader.receive_buffer();
        if window.is_empty() {
            let e = reader
                .error()
                .expect("an empty window between frames means failure");
            return Walk {
                bodies,
                end: Err(e),
            };
        }
        if at == stream.len() {
            return Walk {
                bodies,
                end: Ok(reader.buffered()),
            };
        }
        let n = window.len().min(fragment).min(stream.len() - at);
        window[..n].copy_from_slice(&stream[at..at + n]);
        at += n;
        match reader.commit(n) {
            Ok(Status::Complete { value, consumed }) => {
                // The frame ends exactly where the stream position is: nothing of the next
                // frame was read.
                assert_eq!(frame_start + consumed, at);
                let body = value.to_vec();
                assert_eq!(reader.frame(), Some(&body[..]));
                bodies.push(body);
                reader.consume();
                frame_start = at;
            }
            Ok(Status::Incomplete { needed }) => {
                assert!(needed > 0);
                assert_eq!(reader.receive_buffer().len(), needed);
                assert_eq!(reader.buffered(), at - frame_start);
            }
            Err(e) => {
                // Only ever decided on the last byte of a size field.
                assert_eq!(at - frame_start, 4);
                let map = |e| match e {
                    FrameError::BufferTooSmall { needed, available } => FrameError::TooLarge {
                        size: needed as i32,
                        max: available,
                    },
                    e => e,
                };
                return Walk {
                    bodies,
                    end: Err(map(e)),
                };
            }
        }
    }
    unreachable!("cycle() is endless")
}

/// A frame: mostly valid sizes, sometimes hostile ones, and bodies that start with a
/// correlation id.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 4..80).prop_map(|body| {
            let mut f = (body.len() as i32).to_be_bytes().to_vec();
            f.extend(body);
            f
        }),
        1 => prop_oneof![
            Just(0i32),
            Just(1),
            Just(3),
            Just(-1),
            Just(i32::MIN),
            Just(i32::MAX),
            Just(1 << 30),
            any::<i32>(),
        ]
        .prop_map(|size| size.to_be_bytes().to_vec()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(frame(), 0..6), 0usize..8).prop_map(|(frames, cut)| {
        let mut s = frames.concat();
        // Sometimes end in the middle of a frame.
        s.truncate(s.len().saturating_sub(cut));
        s
    })
}

proptest! {
    #[test]
    fn reader_agrees_with_parse_frame_in_any_fragmentation(
        stream in stream(),
        cap in prop_oneof![Just(0usize), 4usize..100, 100usize..200],
        fragments in prop::collection::vec(prop_oneof![Just(0usize), 1usize..6, 1usize..300], 1..8)
            .prop_filter("some read must make progress", |f| f.iter().any(|&n| n > 0)),
    ) {
        let expected = walk_with_parse_frame(&stream, cap);
        prop_assert_eq!(walk_with_reader(&stream, cap, &fragments), expected);
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete(body in prop::collection::vec(any::<u8>(), 4..300)) {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend(&body);
        for cut in 0..f.len() {
            let needed = if cut < 4 { 4 - cut } else { f.len() - cut };
            prop_assert_eq!(parse_frame(&f[..cut], body.len()), Ok(Status::Incomplete { needed }));
        }
        prop_assert_eq!(
            parse_frame(&f, body.len()),
            Ok(Status::Complete { value: &body[..], consumed: f.len() })
        );
        prop_assert_eq!(
            response_correlation_id(&body),
            Ok(i32::from_be_bytes([body[0], body[1], body[2], body[3]]))
        );
    }

    /// `InFlight` behaves as a bounded FIFO (a `VecDeque` model) under any sequence of sends
    /// and responses, and a wrong response never changes it.
    #[test]
    fn in_flight_matches_a_model_queue(ops in prop::collection::vec(prop_oneof![
        3 => Just(None),
        2 => Just(Some(0i32)),
        1 => (-2i32..3).prop_map(Some),
    ], 0..200)) {
        let mut ids = CorrelationIds::new();
        let mut queue = InFlight::<5>::new();
        let mut model: VecDeque<InFlightRequest> = VecDeque::new();
        for op in ops {
            match op {
                None => {
                    let r = InFlightRequest {
                        correlation_id: ids.next_id(),
                        api_key: ApiKey::Metadata,
                        api_version: 12,
                        token: 7,
                    };
                    if model.len() == 5 {
                        prop_assert_eq!(queue.push(r), Err(InFlightFull { capacity: 5 }));
                    } else {
                        prop_assert_eq!(queue.push(r), Ok(()));
                        model.push_back(r);
                    }
                }
                // A response for the oldest request, shifted by `skew`.
                Some(skew) => {
                    let id = model.front().map_or(skew, |r| r.correlation_id + skew);
                    let before = queue.clone();
                    let got = queue.match_response(id);
                    match model.front() {
                        None => {
                            prop_assert_eq!(got, Err(FrameError::UnexpectedResponse { correlation_id: id }));
                            prop_assert_eq!(&queue, &before);
                        }
                        Some(oldest) if skew == 0 => {
                            prop_assert_eq!(got, Ok(*oldest));
                            model.pop_front();
                        }
                        Some(oldest) => {
                            prop_assert_eq!(
                                got,
                                Err(FrameError::CorrelationMismatch { expected: oldest.correlation_id, found: id })
                            );
                            prop_assert_eq!(&queue, &before);
                        }
                    }
                }
            }
            prop_assert_eq!(queue.len(), model.len());
            prop_assert_eq!(queue.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(queue.oldest(), model.front().copied());
        }
    }
}

#[test]
fn a_two_gib_frame_is_refused_without_waiting_for_it() {
    // 0x7fffffff: the largest size the field can hold.
    let mut buf = [0u8; 16 * 1024];
    let mut reader = FrameReader::new(&mut buf);
    reader
        .receive_buffer()
        .copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(
        reader.commit(4),
        Err(FrameError::BufferTooSmall {
            needed: i32::MAX as usize,
            available: 16 * 1024
        })
    );
    assert_eq!(
        reader.error().map(|e| e.to_string()).as_deref(),
        Some(
            "a frame of 2147483647 bytes does not fit the 16384-byte receive buffer: no Kafka \
             response is that large: the peer is probably not a Kafka broker, or the stream \
             lost its place"
        )
    );
    // 0x80000000 (2 GiB as an unsigned count) is i32::MIN on the wire: negative.
    assert_eq!(
        parse_frame(&[0x80, 0, 0, 0, 1, 2, 3], usize::MAX),
        Err(FrameError::NegativeSize { size: i32::MIN })
    );
    // Even an unlimited caller waits for no more than the announced body.
    assert_eq!(
        parse_frame(&[0x7f, 0xff, 0xff, 0xff, 0], usize::MAX),
        Ok(Status::Incomplete {
            needed: i32::MAX as usize - 1
        })
    );
}
