//! Publishes a few sensor readings to a Kafka broker with the async producer on Tokio.
//!
//! ```text
//! cargo run --example produce --features tokio -- 127.0.0.1:9092 [TOPIC] [ACKS]
//! ```
//!
//! TOPIC defaults to `readings` (a broker that auto-creates topics creates it), ACKS to `all`
//! (`0`, `1`, `all` or `-1`). Each reading is keyed by its sensor, so a sensor's readings stay
//! in order on one partition, and carries a `unit` header.

use std::net::SocketAddr;
use std::process::ExitCode;

use embedded_kafka::partition::{Murmur2, RoundRobin};
use embedded_kafka::producer::{Acks, Buffers, Config, DeliveryStatus, Producer, Record};
use embedded_kafka::record::Header;
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioDns, TokioTcp};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(Ok(broker)) = args.next().map(|a| a.parse::<SocketAddr>()) else {
        eprintln!("usage: produce BROKER_IP:PORT [TOPIC] [ACKS]");
        return ExitCode::from(2);
    };
    let topic = args.next().unwrap_or_else(|| "readings".to_owned());
    let Some(acks) = Acks::parse(&args.next().unwrap_or_else(|| "all".to_owned())) else {
        eprintln!("ACKS is one of 0, 1, all, -1");
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match runtime.block_on(run(broker, &topic, acks)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("produce: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(broker: SocketAddr, topic: &str, acks: Acks) -> Result<(), String> {
    let servers = [broker];
    let config = Config::new(&servers)
        .client_id("sensor-node")
        .acks(acks)
        .batch_size(1024);
    // 1 KiB to receive, 256 B for request headers, 2 batches of 1 KiB: 3.3 KiB in all.
    let mut buffers = Buffers::<1024, 256, 1024, 2>::new();
    let connector = TokioTcp;
    let mut producer: Producer<'_, _, _, _, _, 1, 2, 8, _> = Producer::new(
        &connector,
        TokioClock::new(),
        TokioDelay,
        Murmur2::new(RoundRobin::new()),
        config,
        &mut buffers,
    )
    .map_err(|e| e.to_string())?
    // Leaders that advertise host names are resolved with the system resolver.
    .with_dns(TokioDns);

    let readings = [
        ("greenhouse-1", "21.5"),
        ("greenhouse-2", "19.0"),
        ("greenhouse-1", "21.7"),
        ("cellar", "12.2"),
        ("greenhouse-2", "19.4"),
    ];
    let headers = [Header::new("unit", b"C")];
    let mut tickets = Vec::new();
    for (sensor, value) in readings {
        let record = Record::new(value.as_bytes())
            .key(sensor.as_bytes())
            .headers(&headers);
        tickets.push((
            sensor,
            producer
                .send(topic, record)
                .await
                .map_err(|e| e.to_string())?,
        ));
    }
    producer.flush().await.map_err(|e| e.to_string())?;
    for (sensor, ticket) in &tickets {
        match producer.delivery(ticket) {
            DeliveryStatus::Delivered(d) => match d.offset {
                Some(offset) => println!("{sensor}: {topic}/{} @ {offset}", d.partition),
                None => println!("{sensor}: {topic}/{} sent (acks=0)", d.partition),
            },
            other => return Err(format!("{sensor}: {other:?}")),
        }
    }
    Ok(())
}
