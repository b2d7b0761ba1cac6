//! The generated `ErrorCode` table against `spec/kafka-protocol/errors.tsv`, read here at test
//! time with its own parser: a check of the generator's output that does not go through the
//! generator.

use embedded_kafka::protocol::ErrorCode;
use std::collections::HashSet;

struct Row {
    code: i16,
    name: String,
    retriable: bool,
    message: String,
}

fn table() -> Vec<Row> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/kafka-protocol/errors.tsv"
    );
    let text = std::fs::read_to_string(path).expect("errors.tsv is readable");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("code\tname\tretriable\tmessage"));
    lines
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "row {line:?}");
            Row {
                code: cols[0].parse().expect("code is an i16"),
                name: cols[1].to_owned(),
                retriable: match cols[2] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("retriable column {other:?}"),
                },
                message: cols[3].to_owned(),
            }
        })
        .collect()
}

/// `UPPER_SNAKE` to the variant's `CamelCase`, to compare with `Debug`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_row_round_trips_with_its_name_retriability_and_message() {
    let rows = table();
    assert!(rows.len() > 100, "only {} rows", rows.len());
    for row in &rows {
        let e = ErrorCode::from_code(row.code);
        assert!(
            !matches!(e, ErrorCode::Unknown(_)),
            "{} is Unknown",
            row.name
        );
        assert_eq!(e.code(), row.code, "{}", row.name);
        assert_eq!(i16::from(e), row.code);
        assert_eq!(ErrorCode::from(row.code), e);
        assert_eq!(e.name(), row.name);
        assert_eq!(format!("{e:?}"), camel(&row.name));
        assert_eq!(e.is_retriable(), row.retriable, "{}", row.name);
        assert_eq!(e.message(), row.message, "{}", row.name);
        assert_eq!(e.is_error(), row.code != 0);
        assert_eq!(
            e.to_string(),
            format!("{} ({}): {}", row.name, row.code, row.message)
        );
    }
}

#[test]
fn all_lists_exactly_the_table_in_code_order() {
    let mut rows = table();
    rows.sort_by_key(|r| r.code);
    let codes: Vec<i16> = ErrorCode::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(codes, rows.iter().map(|r| r.code).collect::<Vec<_>>());
    let distinct: HashSet<ErrorCode> = ErrorCode::ALL.into_iter().collect();
    assert_eq!(distinct.len(), ErrorCode::ALL.len());
}

#[test]
fn every_i16_round_trips_and_codes_outside_the_table_stay_unknown() {
    let known: HashSet<i16> = table().iter().map(|r| r.code).collect();
    for code in i16::MIN..=i16::MAX {
        let e = ErrorCode::from_code(code);
        assert_eq!(e.code(), code);
        assert_eq!(matches!(e, ErrorCode::Unknown(_)), !known.contains(&code));
        if !known.contains(&code) {
            assert_eq!(e, ErrorCode::Unknown(code));
            assert!(e.is_error());
            assert!(!e.is_retriable(), "Java treats unknown codes as fatal");
        }
    }
}

#[test]
fn display_names_the_code_and_explains_it() {
    assert_eq!(
        ErrorCode::NotLeaderOrFollower.to_string(),
        "NOT_LEADER_OR_FOLLOWER (6): For requests intended only for the leader, this error \
         indicates that the broker is not the current leader. For requests intended for any \
         replica, this error indicates that the broker is not a replica of the topic partition."
    );
    assert_eq!(ErrorCode::None.to_string(), "NONE (0): No error.");
    let unknown = ErrorCode::Unknown(-42).to_string();
    assert!(unknown.starts_with("UNKNOWN (-42): "), "{unknown}");
    let e: &dyn core::error::Error = &ErrorCode::RequestTimedOut;
    assert_eq!(
        e.to_string(),
        "REQUEST_TIMED_OUT (7): The request timed out."
    );
}

#[test]
fn producer_relevant_classification() {
    // The codes a producer acts on, spelled out (an independent reading of Errors.java).
    for e in [
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::RequestTimedOut,
        ErrorCode::NotEnoughReplicas,
        ErrorCode::NotEnoughReplicasAfterAppend,
        ErrorCode::CorruptMessage,
        ErrorCode::KafkaStorageError,
        ErrorCode::NetworkException,
    ] {
        assert!(e.is_retriable(), "{e}");
    }
    for e in [
        ErrorCode::MessageTooLarge,
        ErrorCode::RecordListTooLarge,
        ErrorCode::InvalidRecord,
        ErrorCode::TopicAuthorizationFailed,
        ErrorCode::ClusterAuthorizationFailed,
        ErrorCode::OutOfOrderSequenceNumber,
        ErrorCode::DuplicateSequenceNumber,
        ErrorCode::InvalidProducerEpoch,
        ErrorCode::UnsupportedVersion,
        ErrorCode::SaslAuthenticationFailed,
        ErrorCode::UnknownServerError,
    ] {
        assert!(!e.is_retriable(), "{e}");
    }
}
