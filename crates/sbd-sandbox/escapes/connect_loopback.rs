// Escape attempt: reach a TCP listener on the host's loopback. argv[1] = port.
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(1);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Ok(mut s) => {
            let _ = s.write_all(b"escaped\n");
            println!("CONNECTED to {addr}");
        }
        Err(e) => println!("denied {addr}: {e}"),
    }
}
