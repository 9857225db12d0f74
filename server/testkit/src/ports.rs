//! Free loopback ports: bound, then released, so a node can bind them next. Another process may
//! take one in between; the starters retry or fail with the node's log.

use std::net::TcpListener;

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// `127.0.0.1:<free port>`.
pub fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}
