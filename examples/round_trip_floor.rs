//! The floor under "send one record and wait for its acknowledgement": one single-record
//! Produce request (v9, acks=all, to partition 0) at a time on a plain blocking socket, the
//! response read and checked, N times. No producer, no batching, no async runtime: what a
//! keyed acks=all, one-in-flight, wait-for-each producer (the seed's second scenario) cannot
//! beat per message on the same broker. `scripts/bench` reports scenario B against it.
//!
//! ```text
//! cargo run --release --example round_trip_floor -- 127.0.0.1:9092 TOPIC [N] [--json]
//! ```
//!
//! Prints the mean, median, 10th and 90th percentile round trip in microseconds (with
//! `--json`, one JSON object as the last line). The mean is what compares with a producer's
//! time per message (its run's elapsed time over its message count): both carry the
//! broker's slow round trips, which a median leaves out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Instant;

use embedded_kafka::protocol::{ProduceRequestWriter, ProduceResponse, RequestHeader, Response};
use embedded_kafka::record::BatchHeader;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(broker), Some(topic)) = (positional.first(), positional.get(1)) else {
        eprintln!("usage: round_trip_floor BROKER:PORT TOPIC [N] [--json]");
        return ExitCode::from(2);
    };
    let n: usize = match positional.get(2).map(|s| s.parse()) {
        None => 10_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("N is a positive number of round trips");
            return ExitCode::from(2);
        }
    };
    match run(broker, topic, n) {
        Ok(mut micros) => {
            micros.sort_unstable_by(f64::total_cmp);
            let pct = |p: usize| micros[(micros.len() - 1) * p / 100];
            let (p10, p50, p90) = (pct(10), pct(50), pct(90));
            let mean = micros.iter().sum::<f64>() / micros.len() as f64;
            println!(
                "{n} single-record acks=all Produce round trips: mean {mean:.1} µs, median {p50:.1} µs (p10 {p10:.1}, p90 {p90:.1})"
            );
            if json {
                println!(
                    "{{\"round_trips\":{n},\"mean_us\":{mean:.1},\"median_us\":{p50:.1},\"p10_us\":{p10:.1},\"p90_us\":{p90:.1}}}"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("round_trip_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(broker: &str, topic: &str, n: usize) -> Result<Vec<f64>, String> {
    let mut stream =
        TcpStream::connect(broker).map_err(|e| format!("cannot connect to {broker}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = [0u8; 512];
    let mut response = vec![0u8; 64 * 1024];
    let mut micros = Vec::with_capacity(n);
    for i in 0..n {
        let correlation_id = i32::try_from(i).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let frame = encode(&mut request, correlation_id, topic, i).map_err(|e| e.to_string())?;
        stream.write_all(frame).map_err(|e| format!("write: {e}"))?;
        let mut size = [0u8; 4];
        stream
            .read_exact(&mut size)
            .map_err(|e| format!("read: {e}"))?;
        let size = usize::try_from(i32::from_be_bytes(size)).map_err(|e| e.to_string())?;
        let body = response
            .get_mut(..size)
            .ok_or_else(|| format!("a {size}-byte response"))?;
        stream.read_exact(body).map_err(|e| format!("read: {e}"))?;
        micros.push(start.elapsed().as_secs_f64() * 1e6);
        let (header, produced) =
            ProduceResponse::decode_response(body, 9).map_err(|e| e.to_string())?;
        if header.correlation_id != correlation_id {
            return Err(format!(
                "correlation id {} for {correlation_id}",
                header.correlation_id
            ));
        }
        for t in produced.responses.iter() {
            for p in t.partition_responses.iter() {
                if p.error_code != 0 {
                    return Err(format!("round trip {i}: error code {}", p.error_code));
                }
            }
        }
    }
    Ok(micros)
}

/// One Produce v9 request, acks=all, one 100-byte record keyed by its index, to `topic`/0.
fn encode<'b>(
    buf: &'b mut [u8],
    correlation_id: i32,
    topic: &str,
    i: usize,
) -> Result<&'b mut [u8], embedded_kafka::wire::EncodeError> {
    let header = RequestHeader::new(correlation_id, Some("round-trip-floor"));
    let mut request = ProduceRequestWriter::begin(buf, 9, &header, None, -1, 30_000)?;
    let mut t = request.topic(topic)?;
    let mut p = t.partition(0, BatchHeader::default())?;
    let key = i.to_string();
    let mut value = [b' '; 100];
    let text = format!("{{\"number\": {i}}}");
    value[..text.len()].copy_from_slice(text.as_bytes());
    p.append(0, Some(key.as_bytes()), Some(&value), &[])?;
    p.finish()?;
    t.finish()?;
    request.finish()
}
