//! A small HTTP/1.1 load generator for loopback benchmarks of the service: keep-alive
//! connections, a bounded number of requests, latency percentiles. It speaks just enough
//! HTTP for our own server (Content-Length bodies) and is used by `sbd bench serve`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    pub method: &'static str,
    pub path: String,
    pub body: Vec<u8>,
    pub token: Option<String>,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Total requests across all connections.
    pub requests: usize,
    /// Give up on a response after this long.
    pub timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub requests: usize,
    /// Responses by status code.
    pub status: BTreeMap<u16, usize>,
    /// Connection or protocol failures (no status).
    pub transport_errors: usize,
    pub seconds: f64,
    /// Latencies of all responses, in milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        if self.seconds > 0.0 { self.requests as f64 / self.seconds } else { 0.0 }
    }
    /// The `q` quantile (0–1) of latency in ms.
    pub fn percentile(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * q).round() as usize;
        self.latencies_ms[i.min(self.latencies_ms.len() - 1)]
    }
    pub fn count(&self, status: u16) -> usize {
        self.status.get(&status).copied().unwrap_or(0)
    }
    /// Everything that is not a 2xx response.
    pub fn errors(&self) -> usize {
        self.transport_errors
            + self.status.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum::<usize>()
    }
}

/// Sends one request (head and body, in one write as HTTP clients do: two writes on a
/// `TCP_NODELAY` socket are two segments, and the server reads twice) on `stream` and reads
/// the response; returns the status.
pub async fn request(stream: &mut BufReader<TcpStream>, message: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    stream.get_mut().write_all(message).await?;
    let mut status_line = String::new();
    if stream.read_line(&mut status_line).await? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad status line {status_line:?}"))
    })?;
    let mut length = 0usize;
    let mut close = false;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "headers cut off"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                close = true;
            }
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    if close {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            format!("server closed after {status}"),
        ));
    }
    Ok((status, body))
}

/// The whole request message for a spec: head, then body.
pub fn message(spec: &LoadSpec) -> Vec<u8> {
    let mut h = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        spec.method,
        spec.path,
        spec.addr,
        spec.body.len()
    );
    if !spec.body.is_empty() {
        h.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = &spec.token {
        h.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    h.push_str("\r\n");
    let mut m = h.into_bytes();
    m.extend_from_slice(&spec.body);
    m
}

/// Runs the load and collects the results.
pub async fn run(spec: LoadSpec) -> LoadResult {
    let spec = Arc::new(spec);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..spec.connections.max(1) {
        let spec = spec.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let message = message(&spec);
            let mut out = LoadResult::default();
            let mut conn: Option<BufReader<TcpStream>> = None;
            while next.fetch_add(1, Ordering::Relaxed) < spec.requests {
                if conn.is_none() {
                    match TcpStream::connect(spec.addr).await {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            conn = Some(BufReader::new(s));
                        }
                        Err(_) => {
                            out.transport_errors += 1;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                let t = Instant::now();
                let mut result = tokio::time::timeout(spec.timeout, request(c, &message)).await;
                // A kept-alive connection the server closed meanwhile (it does after refusing a
                // request whose body it did not read): retry once on a fresh connection, as HTTP
                // clients do when nothing of the response arrived.
                if matches!(&result, Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof || e.kind() == std::io::ErrorKind::BrokenPipe || e.kind() == std::io::ErrorKind::ConnectionReset)
                    && let Ok(s) = TcpStream::connect(spec.addr).await {
                        let _ = s.set_nodelay(true);
                        conn = Some(BufReader::new(s));
                        if let Some(c) = conn.as_mut() {
                            result = tokio::time::timeout(spec.timeout, request(c, &message)).await;
                        }
                    }
                match result {
                    Ok(Ok((status, _))) => {
                        *out.status.entry(status).or_default() += 1;
                        out.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionAborted => {
                        // A complete response followed by close: count it, reconnect.
                        let status = e.to_string().rsplit(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0);
                        *out.status.entry(status).or_default() += 1;
                        out.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        conn = None;
                    }
                    _ => {
                        out.transport_errors += 1;
                        conn = None;
                    }
                }
            }
            out
        }));
    }
    let mut total = LoadResult::default();
    for t in tasks {
        if let Ok(r) = t.await {
            for (s, n) in r.status {
                *total.status.entry(s).or_default() += n;
            }
            total.transport_errors += r.transport_errors;
            total.latencies_ms.extend(r.latencies_ms);
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    total.requests = total.status.values().sum::<usize>() + total.transport_errors;
    total.latencies_ms.sort_by(|a, b| a.total_cmp(b));
    total
}
