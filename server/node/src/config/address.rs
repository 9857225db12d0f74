//! Where a node is and what it is called, as the original writes it: `addr` and
//! `advertise-addr` (`http://host:port`), PD endpoints and the file registry's directory, the
//! default listen address and node ID.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::error::{Error, Result};

/// The scheme the original prefixes to `addr` and `advertise-addr` (without TLS).
pub const SCHEME: &str = "http://";

/// `addr` without the `http://` the original adds (accepted on input too, so that a config
/// written back out loads unchanged).
pub fn strip_scheme(addr: &str) -> &str {
    addr.strip_prefix(SCHEME).unwrap_or(addr)
}

/// Go's `net.SplitHostPort`, plus a numeric port: `host:port` or `[v6]:port`.
pub fn split_host_port(addr: &str) -> Result<(&str, u16), String> {
    let (host, port) = match addr.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| "missing ']' in address".to_owned())?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| "missing port in address".to_owned())?;
            (host, port)
        }
        None => {
            let (host, port) = addr
                .rsplit_once(':')
                .ok_or_else(|| "missing port in address".to_owned())?;
            if host.contains(':') {
                return Err("too many colons in address".into());
            }
            (host, port)
        }
    };
    let port = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    Ok((host, port))
}

/// Checks one PD endpoint as the original does (`types.NewURLs`): `http://` or `https://`
/// (whether `[security]` goes with `https://` is checked when connecting), `host:port`.
pub fn check_pd_url(url: &str) -> Result<(), String> {
    let Some(("http" | "https", rest)) = url.split_once("://") else {
        return Err(format!("URL scheme must be http or https: {url:?}"));
    };
    if rest.contains('/') {
        return Err(format!("URL must not contain a path: {url}"));
    }
    split_host_port(rest)
        .map(|_| ())
        .map_err(|_| format!("URL address does not have the form \"host:port\": {url}"))
}

/// Splits the original's comma-separated list; all blank is empty.
pub fn split_list(text: &str) -> Vec<String> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    text.split(',').map(|part| part.trim().to_owned()).collect()
}

/// The node ID the original gives a node without one: `<hostname>:<port>`.
pub fn default_node_id(port: u16) -> String {
    format!("{}:{port}", hostname())
}

/// The host name, as the original's default node ID uses it.
pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or fails.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Fills the addresses as the original does after parsing: an empty `addr` becomes `fallback`,
/// an empty `advertise-addr` becomes `addr`, and both get the scheme.
pub fn adjust_addresses(addr: &mut String, advertise_addr: &mut String, fallback: &str) {
    let listen = match strip_scheme(addr) {
        "" => fallback,
        listen => listen,
    }
    .to_owned();
    let advertise = match strip_scheme(advertise_addr) {
        "" => listen.as_str(),
        advertise => advertise,
    };
    *advertise_addr = format!("{SCHEME}{advertise}");
    *addr = format!("{SCHEME}{listen}");
}

/// Checks `addr` and the advertised address as the original's `validate` does: both
/// `host:port`, the advertised host neither empty nor `0.0.0.0`.
pub fn check_addresses(addr: &str, advertise_addr: &str) -> Result<()> {
    let invalid = |message: String| Err(Error::InvalidConfig(message));
    let listen = strip_scheme(addr);
    if let Err(reason) = split_host_port(listen) {
        return invalid(format!("bad ListenAddr host format: {listen}, {reason}"));
    }
    let advertise = advertise_host(addr, advertise_addr);
    match split_host_port(&advertise) {
        Err(reason) => invalid(format!(
            "bad AdvertiseAddr host format: {advertise}, {reason}"
        )),
        Ok((host, _)) if host.is_empty() || host == "0.0.0.0" => {
            invalid(format!("invalid advertiseAddr host: {host}"))
        }
        Ok(_) => Ok(()),
    }
}

/// The `host:port` to bind: `addr` without its scheme. An empty host (`:8250`), which Go
/// binds on every interface, becomes `0.0.0.0`.
pub fn listen_addr(addr: &str) -> String {
    let listen = strip_scheme(addr);
    if listen.starts_with(':') {
        format!("0.0.0.0{listen}")
    } else {
        listen.to_owned()
    }
}

/// The `host:port` other nodes reach this node at (the registry's `host`): `advertise-addr`
/// without its scheme, or `addr`'s when `advertise-addr` is empty.
pub fn advertise_host(addr: &str, advertise_addr: &str) -> String {
    match strip_scheme(advertise_addr) {
        "" => strip_scheme(addr),
        advertise => advertise,
    }
    .to_owned()
}

/// Checks `pd-urls` and, when it is empty, that the file registry has a directory.
pub fn check_registry(pd_urls: &[String], registry_dir: &Path) -> Result<()> {
    for url in pd_urls {
        check_pd_url(url).map_err(|reason| Error::InvalidConfig(format!("pd-urls: {reason}")))?;
    }
    if pd_urls.is_empty() && registry_dir.as_os_str().is_empty() {
        return Err(Error::InvalidConfig(
            "registry-dir must not be empty when pd-urls is empty".into(),
        ));
    }
    Ok(())
}

/// The original's default listen address: the first non-loopback IPv4 address of the host's
/// interfaces (`util.DefaultListenAddr`), else `127.0.0.1`, with `port`.
pub fn default_listen_addr(port: u16) -> String {
    let ip = first_non_loopback_ipv4().unwrap_or(Ipv4Addr::LOCALHOST);
    format!("{ip}:{port}")
}

/// The first IPv4 address, in interface order, that is neither loopback nor unspecified.
fn first_non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `getifaddrs` only writes the list head; the list is freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list `getifaddrs` returned, not yet freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: a non-null `ifa_addr` points at a sockaddr whose family says its layout.
        let family = unsafe { (*entry.ifa_addr).sa_family };
        if i32::from(family) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a `sockaddr_in`.
        let address = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
        let ip = Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr));
        if !ip.is_loopback() && !ip.is_unspecified() {
            found = Some(ip);
            break;
        }
    }
    // SAFETY: `list` came from `getifaddrs` and is freed once; no reference into it remains.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// Serde for a comma-separated string list (`pd-urls`).
pub mod comma_list {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Joins the list with commas.
    pub fn serialize<S: Serializer>(value: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.join(","))
    }

    /// Splits a comma-separated string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        String::deserialize(deserializer).map(|text| super::split_list(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_listen_addr_has_the_port() {
        let addr = default_listen_addr(8250);
        let (host, port) = addr.rsplit_once(':').unwrap();
        assert_eq!(port, "8250");
        let ip: Ipv4Addr = host.parse().unwrap();
        assert!(!ip.is_unspecified());
    }
}
