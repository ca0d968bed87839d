//! [`Relay`]: a loopback TCP relay that counts round trips on the wire.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A TCP relay on a random loopback port in front of a server, counting the round trips
/// its clients make: a client's bytes that follow an answer from the server (or open the
/// connection) start one, however many commands they hold. A pipeline (several commands
/// written at once, their answers read after) is one round trip; a command sent only
/// after the previous one was answered is another. [`crate::testing::CommandMonitor`]
/// says which commands were sent; this says how many times a client waited for Redis.
///
/// New connections go to the target set last ([`Relay::retarget`]), as a name moved to
/// another server would; connections are relayed until either side closes them, or the
/// relay is dropped.
#[derive(Debug)]
pub struct Relay {
    port: u16,
    target: Arc<AtomicU16>,
    round_trips: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

/// Who sent bytes last on one relayed connection.
const NOBODY: u8 = 0;
const CLIENT: u8 = 1;
const SERVER: u8 = 2;

impl Relay {
    /// Relays a new loopback port to `127.0.0.1:<target>`.
    pub fn start(target: u16) -> Self {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a loopback port for the relay");
        let port = listener.local_addr().expect("an address").port();
        let round_trips = Arc::new(AtomicU64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let target = Arc::new(AtomicU16::new(target));
        let acceptor = {
            let target = Arc::clone(&target);
            let round_trips = Arc::clone(&round_trips);
            let stopping = Arc::clone(&stopping);
            let streams = Arc::clone(&streams);
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let to = target.load(Ordering::SeqCst);
                    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, to)) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let last = Arc::new(AtomicU8::new(NOBODY));
                    if let (Ok(client_copy), Ok(server_copy)) =
                        (client.try_clone(), server.try_clone())
                    {
                        let mut kept = streams.lock().unwrap_or_else(|p| p.into_inner());
                        kept.push(client_copy);
                        kept.push(server_copy);
                    }
                    let (Ok(client_reader), Ok(server_reader)) =
                        (client.try_clone(), server.try_clone())
                    else {
                        continue;
                    };
                    {
                        let last = Arc::clone(&last);
                        let round_trips = Arc::clone(&round_trips);
                        std::thread::spawn(move || {
                            pump(client_reader, server, &last, CLIENT, Some(&round_trips));
                        });
                    }
                    std::thread::spawn(move || pump(server_reader, client, &last, SERVER, None));
                }
            })
        };
        Self {
            port,
            target,
            round_trips,
            stopping,
            streams,
            acceptor: Some(acceptor),
        }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends new connections to `127.0.0.1:<target>`; open ones stay where they are.
    pub fn retarget(&self, target: u16) {
        self.target.store(target, Ordering::SeqCst);
    }

    /// Round trips made through the relay so far, on every connection.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until either closes, marking `side` as the last to send; a
/// client's bytes after anything else start a round trip.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    last: &AtomicU8,
    side: u8,
    round_trips: Option<&AtomicU64>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if last.swap(side, Ordering::SeqCst) != side
            && let Some(round_trips) = round_trips
        {
            round_trips.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor up.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
