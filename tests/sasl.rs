//! The SASL mechanisms: RFC 5802's and RFC 7677's example exchanges byte for byte, full
//! exchanges against a scripted SCRAM server written with Python's own hashlib/hmac (an
//! implementation of the crypto no one here wrote), wrong passwords and users, and a hostile
//! server's messages, which must give typed errors and never a panic.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use embedded_kafka::sasl::{
    MAX_ITERATIONS, Mechanism, SaslError, Scram, ScramSha256, ScramSha512, ServerError, plain,
};
use hmac::digest::Digest;
use hmac::digest::block_api::BlockSizeUser;
use proptest::prelude::*;

#[test]
fn rfc5802_example_exchange_sha1() {
    let mut scram =
        Scram::<sha1::Sha1>::new("user", "pencil", "fyko+d2lbbFgONRv9qkxdawL").expect("valid");
    let mut buf = [0u8; 256];
    assert_eq!(
        scram.client_first(&mut buf).expect("first"),
        b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    );
    let server_first = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    assert_eq!(
        scram.client_final(server_first, &mut buf).expect("final"),
        &b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="[..]
    );
    scram
        .server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
        .expect("the RFC's server signature");
}

#[test]
fn rfc7677_example_exchange_sha256() {
    let mut scram = ScramSha256::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO").expect("valid");
    let mut buf = [0u8; 256];
    scram.client_first(&mut buf).expect("first");
    let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                         s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    assert_eq!(
        scram.client_final(server_first, &mut buf).expect("final"),
        &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
           p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..]
    );
    // One bit off in the server's signature: it does not know the password.
    assert_eq!(
        scram.server_final(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        Err(SaslError::ServerSignatureMismatch)
    );
}

/// One exchange against tests/python/scram_server.py.
fn against_python<D: Digest + BlockSizeUser + Clone>(
    hash: &str,
    user: &str,
    password: &str,
    server_user: &str,
    server_password: &str,
) -> Result<(), SaslError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/scram_server.py");
    let mut child = Command::new(common::python())
        .arg(script)
        .args([
            hash,
            server_user,
            server_password,
            "6b61666b612d73616c74",
            "4096",
            "srv%Nonce!",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut to = child.stdin.take().expect("stdin");
    let mut from = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();

    let result = (|| {
        let mut random = [0u8; 18];
        for (i, b) in random.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ user.len() as u8;
        }
        let mut nonce_buf = [0u8; 24];
        let nonce = Scram::<D>::nonce_from(&random, &mut nonce_buf).expect("nonce");
        let mut scram = Scram::<D>::new(user, password, nonce)?;
        let mut buf = [0u8; 512];
        to.write_all(scram.client_first(&mut buf)?).expect("write");
        to.write_all(b"\n").expect("write");
        from.read_line(&mut line).expect("server-first");
        let client_final = scram.client_final(line.trim_end().as_bytes(), &mut buf)?;
        to.write_all(client_final).expect("write");
        to.write_all(b"\n").expect("write");
        line.clear();
        from.read_line(&mut line).expect("server-final");
        scram.server_final(line.trim_end().as_bytes())
    })();
    // The server exits after its last line, or once its stdin closes if the client stopped.
    drop(to);
    let status = child.wait().expect("exit");
    assert!(status.success(), "the scripted server failed");
    result
}

#[test]
fn sha256_and_sha512_log_in_to_an_independent_server() {
    for (user, password) in [
        ("alice", "s3cret"),
        ("a=b,c", "pässwörd ✓"),
        ("sensor-node-7", ""),
    ] {
        against_python::<sha2::Sha256>("sha256", user, password, user, password)
            .unwrap_or_else(|e| panic!("SHA-256 {user}: {e}"));
        against_python::<sha2::Sha512>("sha512", user, password, user, password)
            .unwrap_or_else(|e| panic!("SHA-512 {user}: {e}"));
    }
}

#[test]
fn a_wrong_password_or_user_is_a_clear_error() {
    let e = against_python::<sha2::Sha512>("sha512", "alice", "wrong", "alice", "right")
        .expect_err("wrong password");
    assert_eq!(e, SaslError::Server(ServerError::InvalidProof));
    assert!(e.to_string().contains("wrong password"), "{e}");
    let e = against_python::<sha2::Sha256>("sha256", "bob", "x", "alice", "x")
        .expect_err("unknown user");
    assert_eq!(e, SaslError::Server(ServerError::UnknownUser));
    assert!(e.to_string().contains("no such user"), "{e}");
}

fn after_first(nonce: &str) -> (ScramSha256<'_>, [u8; 256]) {
    let mut scram = ScramSha256::new("user", "pencil", nonce).expect("valid");
    let mut buf = [0u8; 256];
    scram.client_first(&mut buf).expect("first");
    (scram, buf)
}

#[test]
fn hostile_server_first_messages_are_typed_errors() {
    let nonce = "clientnonce123";
    let cases: [(&[u8], SaslError); 8] = [
        (b"r=othernonce,s=c2FsdA==,i=4096", SaslError::NonceMismatch),
        (
            b"r=clientnonce123x,s=c2FsdA==,i=100000000",
            SaslError::IterationCount {
                iterations: 100_000_000,
                min: 4096,
                max: MAX_ITERATIONS,
            },
        ),
        (
            b"r=clientnonce123x,s=c2FsdA==,i=1",
            SaslError::IterationCount {
                iterations: 1,
                min: 4096,
                max: MAX_ITERATIONS,
            },
        ),
        (
            b"m=ext,r=clientnonce123x,s=c2FsdA==,i=4096",
            SaslError::Malformed {
                message: "server-first-message",
                why: "a mandatory extension (m=) this client does not know",
            },
        ),
        (
            b"r=clientnonce123x,i=4096",
            SaslError::Malformed {
                message: "server-first-message",
                why: "the salt (s=) must follow the nonce",
            },
        ),
        (
            b"r=clientnonce123x,s=!!!,i=4096",
            SaslError::Malformed {
                message: "server-first-message",
                why: "the salt is not base64",
            },
        ),
        (
            b"r=clientnonce123x,s=c2FsdA==,i=4k",
            SaslError::Malformed {
                message: "server-first-message",
                why: "the iteration count is not a number",
            },
        ),
        (b"e=other-error", SaslError::Server(ServerError::OtherError)),
    ];
    for (server_first, want) in cases {
        let (mut scram, mut buf) = after_first(nonce);
        assert_eq!(
            scram.client_final(server_first, &mut buf),
            Err(want),
            "{}",
            String::from_utf8_lossy(server_first)
        );
    }
    // A salt longer than the client keeps.
    let long_salt = format!("r={nonce}x,s={},i=4096", "QUFB".repeat(40));
    let (mut scram, mut buf) = after_first(nonce);
    assert!(matches!(
        scram.client_final(long_salt.as_bytes(), &mut buf),
        Err(SaslError::SaltTooLong { max: 64, .. })
    ));
}

#[test]
fn misuse_is_a_typed_error() {
    assert!(matches!(
        ScramSha256::new("", "p", "abcdefgh12"),
        Err(SaslError::InvalidCredentials { .. })
    ));
    assert!(matches!(
        ScramSha256::new("u", "p", "has,comma"),
        Err(SaslError::InvalidCredentials { .. })
    ));
    let mut scram = ScramSha512::new("user", "pencil", "abcdefgh12").expect("valid");
    let mut buf = [0u8; 256];
    assert_eq!(
        scram.client_final(b"r=x", &mut buf),
        Err(SaslError::OutOfOrder {
            step: "client_final",
            expected: "client_first"
        })
    );
    let mut small = [0u8; 8];
    assert_eq!(
        scram.client_first(&mut small),
        Err(SaslError::BufferTooSmall {
            needed: b"n,,n=user,r=abcdefgh12".len(),
            available: 8
        })
    );
    scram.client_first(&mut buf).expect("fits now");
    assert!(matches!(
        scram.client_first(&mut buf),
        Err(SaslError::OutOfOrder { .. })
    ));
    assert_eq!(
        plain("alice", "pw", &mut buf).expect("plain"),
        b"\0alice\0pw"
    );
    assert!(matches!(
        plain("al\0ice", "pw", &mut buf),
        Err(SaslError::InvalidCredentials { .. })
    ));
    assert_eq!(
        plain("alice", "pw", &mut small),
        Err(SaslError::BufferTooSmall {
            needed: 9,
            available: 8
        })
    );
    for m in [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ] {
        assert_eq!(Mechanism::parse(m.name()), Some(m));
    }
    assert_eq!(Mechanism::parse("scram-sha-256"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the server says, the client answers with a value, never a panic (server-first
    /// messages that pass every check would run 4096+ PBKDF2 rounds: rare and still fine).
    #[test]
    fn any_server_bytes_give_a_value_not_a_panic(
        first in proptest::collection::vec(any::<u8>(), 0..120),
        last in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let (mut scram, mut buf) = after_first("clientnonce123");
        let mut prefixed = b"r=clientnonce123".to_vec();
        prefixed.extend_from_slice(&first);
        let _ = scram.client_final(&first, &mut buf);
        let (mut scram, mut buf) = after_first("clientnonce123");
        if scram.client_final(&prefixed, &mut buf).is_ok() {
            let _ = scram.server_final(&last);
        }
    }
}
