//! A refresh answered with arbitrary status, headers and body bytes, through the real
//! decoding and error mapping: must end in a pair or a typed error that keeps the status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalwire_fabric::fuzzing::{Answer, refresh_response};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let limit = match data[2] % 3 {
        0 => 64,
        1 => 4096,
        _ => 1 << 20,
    };
    // The rest: optional "header\nvalue\n" lines up to an empty line, then the body.
    let rest = &data[3..];
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (&[][..], rest),
    };
    let text = String::from_utf8_lossy(head);
    let lines: Vec<&str> = text.split('\n').collect();
    let headers = lines
        .chunks(2)
        .filter_map(|pair| Some((pair.first()?.to_string(), pair.get(1)?.to_string())))
        .collect();
    let answer = Answer {
        status,
        headers,
        body: body.to_vec(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    match runtime.block_on(refresh_response(answer, limit)) {
        Ok(_) => assert!(status == 200 || status == 201, "success from {status}"),
        Err(error) => {
            assert_eq!(error.status(), Some(status), "{error:?}");
            let _ = format!("{error} {error:?}");
        }
    }
});
