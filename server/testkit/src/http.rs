//! A minimal HTTP/1.1 client for tests: one request per connection, the raw status and body
//! (and the raw header block), so tests see exactly what a node answered, chunked or not; in
//! plain text or over TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use binlog_node::tls::Tls;

/// A minimal HTTP/1.1 client (one request per connection).
pub fn http_request(addr: &str, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    https_request(addr, method, path, None)
}

/// [`http_request`], over TLS with `tls` (its server name `127.0.0.1`) when given.
pub fn https_request(
    addr: &str,
    method: &str,
    path: &str,
    tls: Option<&Tls>,
) -> std::io::Result<(u16, String)> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut response = Vec::new();
    match tls {
        None => {
            let mut stream = tcp;
            stream.write_all(request.as_bytes())?;
            stream.read_to_end(&mut response)?;
        }
        Some(tls) => {
            let config = tls.client_config().map_err(std::io::Error::other)?;
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("IP name");
            let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
                .map_err(std::io::Error::other)?;
            let mut stream = rustls::StreamOwned::new(connection, tcp);
            stream.write_all(request.as_bytes())?;
            stream.read_to_end(&mut response)?;
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// The header block of a response, for content-type checks.
pub fn http_headers(addr: &str, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase()
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
