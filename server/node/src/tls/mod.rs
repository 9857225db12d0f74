//! TLS as the original's `[security]` (`pkg/security`): on iff `ssl-ca` is set; then a node
//! serves its one port (gRPC and HTTP) over TLS only, requires a client certificate signed by
//! `ssl-ca` and, with `cert-allowed-cn`, one whose subject common name is listed; and its
//! clients (to pumps, drainers, etcd, TiDB's status port) present `ssl-cert`/`ssl-key` and
//! trust `ssl-ca`. rustls on ring.
//!
//! Module map:
//! - [`files`]: the PEM files read and checked (readable, parseable, in their validity period,
//!   key matching certificate), errors naming the file and the reason.
//! - [`allowed_cn`]: the client-certificate check: signed by the CA, CN in the list.
//! - [`reload`]: the server configuration, rebuilt when a file changes on disk (a failed reload
//!   keeps the previous one and says why, once).
//! - [`listener`]: the TLS listener the one-port server accepts from.
//! - [`http_client`]: the TLS of the blocking HTTP client (`ureq`): binlogctl's calls to nodes,
//!   the drainer's to TiDB's status port.

pub mod allowed_cn;
pub mod files;
pub mod http_client;
pub mod listener;
pub mod reload;

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::security::SecurityConfig;
use crate::error::{Error, Result};
pub use files::TlsFiles;
pub use http_client::http_agent;
pub use listener::TlsListener;
pub use reload::ReloadingServerConfig;

/// A node's TLS settings: the files, re-read whenever a configuration is made from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// The CA bundle clients and servers are checked against.
    pub ca: PathBuf,
    /// This node's certificate and key, when it has them (a server must).
    pub identity: Option<(PathBuf, PathBuf)>,
    /// Client CNs allowed in; empty allows every certificate the CA signed.
    pub allowed_cn: Vec<String>,
}

impl Tls {
    /// The TLS settings of `security`, `None` when `ssl-ca` is unset (plain text). The files
    /// are read and checked now, so a bad file stops the start with its name and the reason.
    pub fn from_config(security: &SecurityConfig) -> Result<Option<Tls>> {
        Tls::from_section(security, "[security]")
    }

    /// As [`Tls::from_config`] for a client-only section named `section` in messages (such as
    /// `[syncer.to.security]`, the drainer's TLS to its destination). Empty paths count as
    /// unset, as in the original.
    pub fn from_section(security: &SecurityConfig, section: &str) -> Result<Option<Tls>> {
        let mut security = security.clone();
        security.adjust();
        let Some(ca) = security.ssl_ca.clone() else {
            return Ok(None);
        };
        let identity = match (&security.ssl_cert, &security.ssl_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::InvalidConfig(format!(
                    "{section} ssl-cert and ssl-key go together: set both or neither"
                )))
            }
        };
        let tls = Tls {
            ca,
            identity,
            allowed_cn: security.cert_allowed_cn.clone(),
        };
        tls.files()?;
        Ok(Some(tls))
    }

    /// A node's TLS (it serves TLS, so it needs a certificate and key): the checks of
    /// [`SecurityConfig::sanitize`], then [`Tls::from_config`].
    pub fn for_server(security: &SecurityConfig) -> Result<Option<Tls>> {
        security.sanitize()?;
        Tls::from_config(security)
    }

    /// The files, read and checked.
    pub fn files(&self) -> Result<TlsFiles> {
        TlsFiles::read(&self.ca, self.identity.as_ref())
    }

    /// A server configuration from the files as they are now: a certificate and key are
    /// required, and so is a client certificate the CA signed (with a listed CN).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let files = self.files()?;
        let Some((chain, key)) = files.identity else {
            return Err(Error::InvalidConfig(
                "[security] ssl-ca is set, so this node serves TLS: set ssl-cert and ssl-key \
                 too"
                .into(),
            ));
        };
        let verifier = allowed_cn::AllowedCnVerifier::new(files.roots, self.allowed_cn.clone())?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(chain, key)
            .map_err(tls_error)?;
        // gRPC needs HTTP/2; HTTP clients may speak either.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A client configuration from the files as they are now: trusts the CA, presents the
    /// certificate when there is one.
    pub fn client_config(&self) -> Result<rustls::ClientConfig> {
        let files = self.files()?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(files.roots);
        match files.identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(tls_error),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    /// tonic's client TLS settings from the files as they are now (for gRPC clients).
    pub fn tonic_client(&self) -> Result<tonic::transport::ClientTlsConfig> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| Error::io("cannot read TLS file", path, e))
        };
        self.files()?;
        let mut config = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(read(&self.ca)?));
        if let Some((cert, key)) = &self.identity {
            config = config.identity(tonic::transport::Identity::from_pem(
                read(cert)?,
                read(key)?,
            ));
        }
        Ok(config)
    }
}

/// A gRPC endpoint for `host` (`host:port`): `https://` with `tls` (its files read now, so a
/// new connection uses the current certificate), else `http://`.
pub fn grpc_endpoint(host: &str, tls: Option<&Tls>) -> Result<tonic::transport::Endpoint> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{host}"))
        .map_err(|e| Error::InvalidConfig(format!("{host}: not a gRPC address: {e}")))?;
    match tls {
        Some(tls) => endpoint
            .tls_config(tls.tonic_client()?)
            .map_err(|e| Error::InvalidConfig(format!("[security]: {e}"))),
        None => Ok(endpoint),
    }
}

/// `addr` as a URL: as given when it names its scheme, else `https://` with TLS and `http://`
/// without. As the original's etcd client, the scheme decides: an explicit `http://` stays
/// plain text even with TLS configured, and `https://` without TLS is an error, since there
/// would be no CA to check the server against. `what` names the setting in the error.
pub fn url_with_scheme(addr: &str, tls: Option<&Tls>, what: &str) -> Result<String> {
    if addr.starts_with("https://") && tls.is_none() {
        return Err(Error::InvalidConfig(format!(
            "{what} {addr}: https:// needs TLS settings (ssl-ca, and ssl-cert/ssl-key when the \
             server asks for a client certificate)"
        )));
    }
    Ok(if addr.contains("://") {
        addr.to_owned()
    } else if tls.is_some() {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    })
}

/// The crypto provider: ring. rustls 0.23.48 deprecates it for lacking post-quantum key
/// exchange, which only aws-lc-rs offers; aws-lc-rs compiles C with cmake in every clean build
/// (minutes on CI's 2 cores), and the peers this TLS talks to (TiDB, PD, etcd, the original's Go
/// nodes) offer classical groups anyway.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(error: rustls::Error) -> Error {
    Error::InvalidConfig(format!("[security]: {error}"))
}
