//! The serializers write values straight into record batches: each format reads back with its
//! own decoder, a value too large for the batch's room is `DoesNotFit` with nothing kept, and
//! sensor readings published as JSON through the producer are read back by kafka-python's
//! consumer with `json.loads` (the seed's `value_deserializer`).

mod common;

use common::broker::Broker;
use embedded_kafka::partition::{Murmur2, RoundRobin, partition_for_key};
use embedded_kafka::producer::{Acks, Buffers, Config, Producer, Record};
use embedded_kafka::record::{BatchHeader, RecordBatch, RecordBatchBuilder};
use embedded_kafka::serialize::{Cbor, Json, Postcard, SerializeError};
use embedded_kafka::transport::tokio::{TokioClock, TokioDelay, TokioTcp};
use embedded_kafka::wire::WithError;

#[derive(
    Debug,
    Clone,
    PartialEq,
    serde::Serialize,
    serde::Deserialize,
    minicbor::Encode,
    minicbor::Decode,
)]
struct Reading<'a> {
    #[n(0)]
    sensor: &'a str,
    #[n(1)]
    seq: u32,
    #[n(2)]
    temp_c: f32,
    #[n(3)]
    humidity: Option<u8>,
}

fn readings() -> Vec<Reading<'static>> {
    (0..20)
        .map(|i| Reading {
            sensor: ["node-1", "node-2", "greenhouse west"][i % 3],
            seq: i as u32,
            temp_c: 18.0 + i as f32 * 0.25,
            humidity: (i % 4 != 0).then_some(40 + i as u8),
        })
        .collect()
}

/// Builds one batch of `values` written by `payload`, then returns each record's value bytes.
fn round_trip<F>(values: &[Reading<'_>], mut payload: F) -> Vec<Vec<u8>>
where
    F: FnMut(&mut RecordBatchBuilder<'_>, &Reading<'_>) -> Result<(), WithError<SerializeError>>,
{
    let mut buf = vec![0u8; 8192];
    let mut batch = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).expect("header");
    for v in values {
        payload(&mut batch, v).expect("fits");
    }
    let bytes = batch.finish().expect("finish");
    let batch = RecordBatch::parse(bytes)
        .expect("valid")
        .complete()
        .expect("whole");
    batch
        .records()
        .expect("uncompressed")
        .map(|r| r.expect("record").value.expect("not null").to_vec())
        .collect()
}

#[test]
fn each_format_reads_back_with_its_own_decoder() {
    let values = readings();
    let json = round_trip(&values, |b, v| {
        b.append_with(1, None::<&[u8]>, Json(v), &[])
    });
    let post = round_trip(&values, |b, v| {
        b.append_with(1, None::<&[u8]>, Postcard(v), &[])
    });
    let cbor = round_trip(&values, |b, v| {
        b.append_with(1, None::<&[u8]>, Cbor(v), &[])
    });
    for (i, v) in values.iter().enumerate() {
        let (from_json, _) = serde_json_core::from_slice::<Reading<'_>>(&json[i]).expect("JSON");
        assert_eq!(&from_json, v);
        assert_eq!(
            &postcard::from_bytes::<Reading<'_>>(&post[i]).expect("postcard"),
            v
        );
        assert_eq!(&minicbor::decode::<Reading<'_>>(&cbor[i]).expect("CBOR"), v);
    }
    // Postcard and CBOR are the compact ones, as they should be.
    let total = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>();
    println!(
        "20 readings: JSON {} B, postcard {} B, CBOR {} B",
        total(&json),
        total(&post),
        total(&cbor)
    );
    assert!(total(&post) < total(&cbor) && total(&cbor) < total(&json));
}

#[test]
fn a_value_that_does_not_fit_is_does_not_fit_and_nothing_is_kept() {
    let big = Reading {
        sensor: &"x".repeat(300),
        seq: 1,
        temp_c: 1.0,
        humidity: None,
    };
    let mut buf = [0u8; 200];
    let mut batch = RecordBatchBuilder::new(&mut buf, BatchHeader::default()).expect("header");
    let small = &readings()[0];
    batch
        .append_with(1, None::<&[u8]>, Json(small), &[])
        .expect("the small one fits");
    let before = batch.len();
    assert_eq!(
        batch.append_with(1, None::<&[u8]>, Json(&big), &[]),
        Err(WithError::Closure(SerializeError::DoesNotFit))
    );
    assert_eq!(
        batch.append_with(1, None::<&[u8]>, Postcard(&big), &[]),
        Err(WithError::Closure(SerializeError::DoesNotFit))
    );
    assert_eq!(
        batch.append_with(1, None::<&[u8]>, Cbor(&big), &[]),
        Err(WithError::Closure(SerializeError::DoesNotFit))
    );
    assert_eq!(batch.len(), before, "nothing of the failed records is kept");
    assert_eq!(batch.record_count(), 1);
}

#[test]
fn json_readings_published_by_the_producer_read_back_by_kafka_python_as_json() {
    let broker = Broker::shared();
    let topic = "serialize-json";
    broker.create_topic(topic, 3);
    let values = readings();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let servers = [broker.addr()];
        let config = Config::new(&servers).acks(Acks::All).batch_size(512);
        let mut buffers = Buffers::<4096, 512, 512, 3>::new();
        let connector = TokioTcp;
        let mut producer: Producer<'_, _, _, _, _, 1, 3, 32> = Producer::new(
            &connector,
            TokioClock::new(),
            TokioDelay,
            Murmur2::new(RoundRobin::new()),
            config,
            &mut buffers,
        )
        .expect("config");
        for v in &values {
            // A 512-byte batch holds a few readings: the writer is called again in a new
            // batch whenever one fills (DoesNotFit).
            let record = Record::default().key(v.sensor.as_bytes());
            producer
                .send_with(topic, record, Json(v).writer())
                .await
                .expect("send");
        }
        let summary = producer.flush().await.expect("flush");
        assert_eq!(summary.failed_batches, 0);
    });
    let out = common::run_python(
        "consume_json.py",
        format!("{} {topic} {}\n", broker.bootstrap(), values.len()).as_bytes(),
    );
    let out = String::from_utf8(out).expect("utf-8");
    let mut seen: Vec<(u32, String, serde_json::Value)> = out
        .lines()
        .map(|l| {
            let (p, rest) = l.split_once(' ').expect("partition");
            // The key may contain spaces; the JSON starts at the first '{'.
            let at = rest.find('{').expect("json");
            (
                p.parse().expect("partition"),
                rest[..at].trim_end().to_owned(),
                serde_json::from_str(&rest[at..]).expect("json"),
            )
        })
        .collect();
    assert_eq!(seen.len(), values.len(), "every reading read back once");
    seen.sort_by_key(|(_, _, v)| v["seq"].as_u64());
    for (v, (partition, key, json)) in values.iter().zip(&seen) {
        assert_eq!(key, v.sensor);
        assert_eq!(*partition, partition_for_key(v.sensor.as_bytes(), 3));
        assert_eq!(json["sensor"], v.sensor);
        assert_eq!(json["seq"], v.seq);
        assert_eq!(json["temp_c"].as_f64(), Some(f64::from(v.temp_c)));
        assert_eq!(json["humidity"].as_u64(), v.humidity.map(u64::from));
    }
    println!(
        "{} JSON readings read back by kafka-python with json.loads",
        seen.len()
    );
}
