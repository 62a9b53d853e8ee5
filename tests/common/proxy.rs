//! A fault-injecting HTTP proxy for the S3 tests: it sits between vault and
//! the real S3 server and fails or delays a share of requests, or (after an
//! outage begins) every request. One request per connection: every answer
//! carries `Connection: close`, so the client opens a fresh connection for
//! the next request and no keep-alive state needs handling.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Rng;

/// What the proxy does to requests.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Share of requests answered `503 Slow Down` without reaching the
    /// server, in thousandths.
    pub fail_per_mille: u64,
    /// Share of requests answered `500 Internal Error` without reaching
    /// the server, in thousandths.
    pub error_per_mille: u64,
    /// Share of requests held back for `delay` before forwarding, in
    /// thousandths.
    pub delay_per_mille: u64,
    /// How long a delayed request waits.
    pub delay: Duration,
    /// After this many uploads to `data/` (pack puts, or parts of one),
    /// fail every request: a permanent outage in the middle of a backup.
    pub outage_after_data_puts: Option<u64>,
    /// Answer every request as S3 does a request signed with a wrong key.
    pub deny: bool,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub failed: AtomicU64,
    pub delayed: AtomicU64,
    pub forwarded: AtomicU64,
    /// Uploads to `data/`.
    pub data_puts: AtomicU64,
    /// Requests of a multipart upload (their query names an `uploadId` or
    /// asks for one with `?uploads`).
    pub multipart: AtomicU64,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Listen on a free loopback port, forwarding to `upstream`.
    pub fn start(upstream: SocketAddr, faults: Faults, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let rng = Arc::new(Mutex::new(Rng::new(seed)));
        let (c, s) = (counts.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (c, rng, faults) = (c.clone(), rng.clone(), faults.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &faults, &c, &rng);
                });
            }
        });
        FaultProxy { addr, counts, stop }
    }

    /// The endpoint URL to give vault (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self, which: fn(&Counts) -> &AtomicU64) -> u64 {
        which(&self.counts).load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// The upstream address of an `http://host:port` endpoint URL.
pub fn upstream_of(endpoint: &str) -> SocketAddr {
    let hostport = endpoint
        .strip_prefix("http://")
        .expect("the S3 test endpoint is plain http")
        .trim_end_matches('/');
    hostport
        .to_socket_addrs()
        .expect("resolve S3 endpoint")
        .next()
        .expect("an address for the S3 endpoint")
}

/// Read one request (head and Content-Length body).
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<(Vec<String>, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut length = 0usize;
    for h in &head[1..] {
        let (name, value) = h.split_once(':').unwrap_or((h, ""));
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().unwrap_or(0);
        }
        assert!(
            !(name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")),
            "the test proxy does not handle chunked request bodies"
        );
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    faults: &Faults,
    counts: &Counts,
    rng: &Mutex<Rng>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some((head, body)) = read_request(&mut reader)? else {
        return Ok(());
    };
    counts.requests.fetch_add(1, Ordering::SeqCst);
    let request_line = head.first().map(String::as_str).unwrap_or("");
    if request_line.contains("uploadId=") || request_line.contains("?uploads") {
        counts.multipart.fetch_add(1, Ordering::SeqCst);
    }
    let outage = faults
        .outage_after_data_puts
        .is_some_and(|after| counts.data_puts.load(Ordering::SeqCst) >= after);
    if request_line.starts_with("PUT ") && request_line.contains("/data/") {
        counts.data_puts.fetch_add(1, Ordering::SeqCst);
    }
    let roll = rng.lock().expect("proxy rng").next_u64() % 1000;
    let answer = |status: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    };
    if faults.deny {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>";
        let answer = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(answer.as_bytes())?;
        return client.shutdown(Shutdown::Both);
    }
    if outage || roll < faults.fail_per_mille {
        counts.failed.fetch_add(1, Ordering::SeqCst);
        client.write_all(answer("503 Slow Down").as_bytes())?;
        return client.shutdown(Shutdown::Both);
    }
    if roll < faults.fail_per_mille + faults.error_per_mille {
        counts.failed.fetch_add(1, Ordering::SeqCst);
        client.write_all(answer("500 Internal Server Error").as_bytes())?;
        return client.shutdown(Shutdown::Both);
    }
    if roll < faults.fail_per_mille + faults.error_per_mille + faults.delay_per_mille {
        counts.delayed.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(faults.delay);
    }
    let mut server = TcpStream::connect(upstream)?;
    server.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request = Vec::new();
    for (i, line) in head.iter().enumerate() {
        let name = line.split_once(':').map(|(n, _)| n).unwrap_or("");
        if i > 0 && name.eq_ignore_ascii_case("connection") {
            continue;
        }
        request.extend_from_slice(line.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(&body);
    server.write_all(&request)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    counts.forwarded.fetch_add(1, Ordering::SeqCst);
    client.write_all(&response)?;
    client.shutdown(Shutdown::Both)
}
