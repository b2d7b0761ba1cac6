//! Every decoder that reads bytes from the network, on input the optimiser cannot see: record
//! batches (parse, CRC check, records, headers, control records, concatenated batches), legacy
//! message sets and mixed records fields (`RecordSets`), frames
//! (size prefix, the frame reader, correlation ids), request and response headers, and every
//! request and response message of every version the crate speaks, with their lazy arrays
//! walked; and the SCRAM client reading a server's messages. See Cargo.toml for how this proves panic-freedom.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use embedded_kafka::protocol::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse, FrameReader,
    InitProducerIdRequest, InitProducerIdResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, Request, Response, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, decode_request_header,
    parse_frame, response_correlation_id,
};
use embedded_kafka::record::{
    ControlRecord, LegacyMessage, LegacyMessages, RecordBatch, RecordBatches, RecordSet, RecordSets,
};
use embedded_kafka::sasl::{ScramSha256, ScramSha512};
use embedded_kafka::wire::Status;

/// The input: its contents and length are opaque to the optimiser (`black_box`), so every
/// branch of every decoder stays reachable.
static INPUT: [u8; 4096] = [0; 4096];

fn input() -> &'static [u8] {
    let len = black_box(INPUT.len());
    black_box(&INPUT).get(..len).unwrap_or_default()
}

/// Walks a record batch region: every batch, record and header.
fn records(bytes: &[u8]) -> usize {
    let mut n = 0;
    for batch in RecordBatches::new(bytes).flatten() {
        n += usize::from(batch.verify_crc().is_ok());
        let Ok(records) = batch.records() else {
            continue;
        };
        for record in records.flatten() {
            n += record.headers.iter().count();
            if let Some(key) = record.key {
                n += usize::from(ControlRecord::parse(key).is_ok());
            }
        }
    }
    n
}

/// LZ4 decompression of whatever the records section holds, into a stack buffer.
#[cfg(feature = "lz4")]
fn lz4(bytes: &[u8]) -> usize {
    let mut n = 0;
    for batch in RecordBatches::new_unverified(bytes).flatten() {
        n += batch.decompressed_len().unwrap_or_default();
        let mut out = [0u8; 8192];
        if let Ok(records) = batch.records_in(&mut out) {
            n += records.flatten().count();
        }
    }
    n
}

fn record_batches(bytes: &[u8]) -> usize {
    let mut n = records(bytes);
    #[cfg(feature = "lz4")]
    {
        n += lz4(bytes);
    }
    for parse in [RecordBatch::parse, RecordBatch::parse_unverified] {
        if let Ok(Status::Complete { value, .. }) = parse(bytes) {
            n += value.record_count() as usize;
        }
    }
    n
}

/// A Fetch response's records field whatever its formats: record batches walked as above,
/// legacy messages (magic 0 and 1) read to their key and value.
fn record_sets(bytes: &[u8]) -> usize {
    let mut n = 0;
    let mut sets = RecordSets::new(bytes);
    for entry in sets.by_ref().flatten() {
        n += match entry {
            RecordSet::Batch(batch) => records(batch.as_bytes()),
            RecordSet::Legacy(m) => legacy(&m),
        };
    }
    n += sets.partial().map_or(0, |(have, _)| have);
    for m in LegacyMessages::new(bytes).flatten() {
        n += legacy(&m);
    }
    for parse in [LegacyMessage::parse, LegacyMessage::parse_unverified] {
        if let Ok(Status::Complete { value, .. }) = parse(bytes) {
            n += legacy(&value);
        }
    }
    n
}

fn legacy(m: &LegacyMessage<'_>) -> usize {
    usize::from(m.verify_crc().is_ok())
        + m.key().map_or(0, <[u8]>::len)
        + m.value().map_or(0, <[u8]>::len)
        + m.timestamp().map_or(0, |t| t as usize)
        + usize::from(m.compression().code())
}

fn frames(bytes: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(Status::Complete { value, .. }) = parse_frame(bytes, black_box(1 << 20)) {
        n += value.len();
    }
    n += usize::from(response_correlation_id(bytes).is_ok());
    n += usize::from(decode_request_header(bytes).is_ok());
    let mut rx = [0u8; 512];
    let mut reader = FrameReader::new(&mut rx);
    for chunk in bytes.chunks(100) {
        let buf = reader.receive_buffer();
        let take = chunk.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..take), chunk.get(..take)) {
            dst.copy_from_slice(src);
        }
        if let Ok(Status::Complete { value, .. }) = reader.commit(take) {
            n += value.len();
            reader.consume();
        }
    }
    n
}

/// Every version of a request/response pair, both directions; `walk` visits a response's
/// nested arrays.
fn messages<'a, Q, S, F: Fn(&S) -> usize>(bytes: &'a [u8], api: ApiKey, walk: F) -> usize
where
    Q: Request + embedded_kafka::protocol::Decode<'a>,
    S: Response<'a>,
{
    let mut n = usize::from(Q::decode_request(bytes).is_ok());
    let Some(range) = api.supported() else {
        return n;
    };
    for version in range.min..=range.max {
        if let Ok((_, response)) = S::decode_response(bytes, version) {
            n += walk(&response);
        }
    }
    n
}

fn protocol(bytes: &[u8]) -> usize {
    let mut n = messages::<ProduceRequest, ProduceResponse, _>(bytes, ApiKey::Produce, |r| {
        r.responses
            .iter()
            .map(|t| t.partition_responses.iter().count())
            .sum()
    });
    if let Ok((_, request)) = ProduceRequest::decode_request(bytes) {
        for topic in request.topic_data.iter() {
            for partition in topic.partition_data.iter() {
                n += partition.records.map_or(0, records);
            }
        }
    }
    n += messages::<FetchRequest, FetchResponse, _>(bytes, ApiKey::Fetch, |r| {
        r.responses
            .iter()
            .map(|t| {
                t.partitions
                    .iter()
                    .map(|p| {
                        p.aborted_transactions.map_or(0, |a| a.iter().count())
                            + p.batches().flatten().count()
                            + p.records.map_or(0, record_sets)
                    })
                    .sum::<usize>()
            })
            .sum::<usize>()
            + r.node_endpoints.iter().count()
    });
    if let Ok((_, request)) = FetchRequest::decode_request(bytes) {
        for topic in request.topics.iter() {
            n += topic.partitions.iter().count();
        }
        for topic in request.forgotten_topics_data.iter() {
            n += topic.partitions.iter().count();
        }
    }
    n += messages::<MetadataRequest, MetadataResponse, _>(bytes, ApiKey::Metadata, |r| {
        r.brokers.iter().count()
            + r.topics
                .iter()
                .map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| p.replica_nodes.iter().count())
                        .sum::<usize>()
                })
                .sum::<usize>()
    });
    n += messages::<ApiVersionsRequest, ApiVersionsResponse, _>(bytes, ApiKey::ApiVersions, |r| {
        r.api_keys.iter().count()
    });
    n += messages::<InitProducerIdRequest, InitProducerIdResponse, _>(
        bytes,
        ApiKey::InitProducerId,
        |r| usize::from(r.error_code == 0),
    );
    n += messages::<SaslHandshakeRequest, SaslHandshakeResponse, _>(
        bytes,
        ApiKey::SaslHandshake,
        |r| r.mechanisms.iter().count(),
    );
    n += messages::<SaslAuthenticateRequest, SaslAuthenticateResponse, _>(
        bytes,
        ApiKey::SaslAuthenticate,
        |r| r.auth_bytes.len(),
    );
    n
}

/// Runs every decoder over the input (zeros when run; what matters is what the optimiser had
/// to keep).
/// The SCRAM client reading a server's messages (both hashes).
fn sasl(bytes: &[u8]) -> usize {
    let (first, last) = bytes.split_at(bytes.len() / 2);
    let mut out = [0u8; 256];
    let mut n = 0;
    if let Ok(mut scram) = ScramSha256::new("user", "pencil", "clientnonce") {
        n += scram.client_first(&mut out).map_or(0, |m| m.len());
        n += scram.client_final(first, &mut out).map_or(0, |m| m.len());
        n += usize::from(scram.server_final(last).is_ok());
    }
    if let Ok(mut scram) = ScramSha512::new("user", "pencil", "clientnonce") {
        n += scram.client_first(&mut out).map_or(0, |m| m.len());
        n += scram.client_final(first, &mut out).map_or(0, |m| m.len());
        n += usize::from(scram.server_final(last).is_ok());
    }
    n
}

fn run() -> usize {
    let bytes = input();
    #[allow(unused_mut)]
    let mut n =
        record_batches(bytes) + record_sets(bytes) + frames(bytes) + protocol(bytes) + sasl(bytes);
    #[cfg(feature = "prove-it-can-fail")]
    {
        // An index the optimiser cannot prove in bounds: a panic path.
        n += usize::from(bytes[black_box(5000)]);
    }
    black_box(n)
}

#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    core::arch::naked_asm!("xor ebp, ebp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

extern "C" fn main() -> ! {
    run();
    exit(0)
}

fn exit(code: u8) -> ! {
    // SAFETY: the Linux x86_64 `exit_group` system call; it does not return.
    unsafe {
        core::arch::asm!("syscall", in("rax") 231, in("rdi") code as usize, options(noreturn));
    }
}

unsafe extern "C" {
    /// Defined nowhere: a reference to it that survives optimisation is a link error.
    fn a_decoder_can_panic_on_some_input() -> !;
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    // SAFETY: never called, and never linked unless a panic path survives (then the link
    // fails, which is the point).
    unsafe { a_decoder_can_panic_on_some_input() }
}
