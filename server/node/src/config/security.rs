//! `[security]`, as the original's `security.Config`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `[security]`, as the original's `security.Config`. TLS is on iff `ssl-ca` is set (see
/// [`crate::tls`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SecurityConfig {
    /// File of trusted CAs. Default none (an empty string counts as none).
    pub ssl_ca: Option<PathBuf>,
    /// This node's X509 certificate (PEM). Default none.
    pub ssl_cert: Option<PathBuf>,
    /// This node's X509 key (PEM). Default none.
    pub ssl_key: Option<PathBuf>,
    /// Common names allowed to connect. Default empty.
    pub cert_allowed_cn: Vec<String>,
}

impl SecurityConfig {
    /// Empty paths count as none, as in the original.
    pub fn adjust(&mut self) {
        for path in [&mut self.ssl_ca, &mut self.ssl_cert, &mut self.ssl_key] {
            if path
                .as_ref()
                .is_some_and(|path| path.as_os_str().is_empty())
            {
                *path = None;
            }
        }
    }

    /// A node serves TLS when `ssl-ca` is set, so `ssl-cert` and `ssl-key` are required then.
    /// The files are read and checked when the node starts ([`crate::tls::Tls::for_server`]).
    pub fn sanitize(&self) -> Result<()> {
        if self.ssl_ca.is_some() && (self.ssl_cert.is_none() || self.ssl_key.is_none()) {
            return Err(Error::InvalidConfig(
                "[security] ssl-ca is set, so this node serves TLS: set ssl-cert and ssl-key too"
                    .into(),
            ));
        }
        Ok(())
    }
}
