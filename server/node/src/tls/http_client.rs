//! The TLS settings of `ureq`, the blocking HTTP client binlogctl (its `PUT /state/...` to a
//! node) and the drainer (TiDB's status port) use: the same CA and client certificate as every
//! other client, on the same crypto provider.

use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use super::Tls;
use crate::error::{Error, Result};

impl Tls {
    /// ureq's TLS configuration from the files as they are now: trusts only the CA, presents
    /// the certificate when there is one.
    pub fn http_client(&self) -> Result<TlsConfig> {
        let files = self.files()?;
        let roots: Vec<Certificate<'static>> = files
            .ca_certs
            .iter()
            .map(|cert| Certificate::from_der(cert.as_ref()).to_owned())
            .collect();
        let client_cert = match (&files.identity, &self.identity) {
            (Some((chain, _)), Some((_, key_file))) => {
                let chain: Vec<Certificate<'static>> = chain
                    .iter()
                    .map(|cert| Certificate::from_der(cert.as_ref()).to_owned())
                    .collect();
                // ureq names key kinds with a type it does not export: it reads the PEM.
                let pem = std::fs::read(key_file)
                    .map_err(|e| Error::io("cannot read TLS file", key_file, e))?;
                let key = PrivateKey::from_pem(&pem).map_err(|e| {
                    Error::InvalidConfig(format!(
                        "[security] {}: no PEM private key: {e}",
                        key_file.display()
                    ))
                })?;
                Some(ClientCert::new_with_certs(&chain, key))
            }
            _ => None,
        };
        Ok(TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .client_cert(client_cert)
            .unversioned_rustls_crypto_provider(super::provider())
            .build())
    }
}

/// A ureq agent speaking TLS with `tls` when given, giving up on a request after `timeout`, and
/// returning non-2xx answers rather than errors (their bodies say why).
pub fn http_agent(tls: Option<&Tls>, timeout: Duration) -> Result<ureq::Agent> {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout));
    if let Some(tls) = tls {
        config = config.tls_config(tls.http_client()?);
    }
    Ok(config.build().into())
}
