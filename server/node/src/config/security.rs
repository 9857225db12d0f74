//! `[security]`, as the original's `security.Config`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `[security]`, as the original's `security.Config`. TLS is on iff `ssl-ca` is set, which this
/// build rejects for now; the other keys are accepted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

    /// TLS is not supported yet: a CA set is an error that says so.
    pub fn sanitize(&self) -> Result<()> {
        match &self.ssl_ca {
            Some(ca) => Err(Error::InvalidConfig(format!(
                "[security] ssl-ca = {:?}: TLS is not supported by this build yet; remove the \
                 [security] settings to serve plain HTTP",
                ca.display()
            ))),
            None => Ok(()),
        }
    }
}
