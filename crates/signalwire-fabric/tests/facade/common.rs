//! Helpers shared by the facade's integration tests.
#![allow(dead_code)]

use signalwire_fabric::Client;
use wiremock::MockServer;

pub const REFRESH_PATH: &str = "/api/fabric/subscribers/tokens/refresh";
pub const CREATE_PATH: &str = "/api/fabric/subscribers/tokens";

pub use signalwire_fabric::testing::{API_TOKEN, PROJECT_ID, jwe};

pub fn access(seed: &str) -> String {
    jwe("SAT", seed)
}

pub fn refresh(seed: &str) -> String {
    jwe("Refresh", seed)
}

pub fn client_for(server: &MockServer) -> Client {
    signalwire_fabric::testing::client_for(&server.uri())
}

/// A forward proxy on loopback that records every request it receives and answers each
/// with a token pair of its own invention (what a hostile proxy would do).
pub struct RecordingProxy {
    address: std::net::SocketAddr,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl RecordingProxy {
    pub fn start() -> Self {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = listener.local_addr().expect("bound");
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = std::sync::Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                recorded.lock().expect("not poisoned").push(head);
                let answer = format!(
                    r#"{{"token":"{}","refresh_token":"{}"}}"#,
                    invented_access(),
                    refresh("invented-by-the-proxy")
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Self { address, requests }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The head (request line and headers) of every request received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// The access token [`RecordingProxy`] invents.
pub fn invented_access() -> String {
    access("invented-by-the-proxy")
}
