//! The PEM files of `[security]`, read and checked: each one readable and holding what it
//! should, every certificate within its validity period, the key matching the certificate.
//! Every error names the file and the reason, so a bad file stops a start (or a reload) with
//! something an operator can act on.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::RootCertStore;

use crate::error::{Error, Result};

/// The contents of the files, checked.
#[derive(Debug)]
pub struct TlsFiles {
    /// The CAs of `ssl-ca`.
    pub roots: std::sync::Arc<RootCertStore>,
    /// The same CA certificates as read (for clients that take certificates, not a store).
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// `ssl-cert`'s chain (end entity first) and `ssl-key`'s key, when set.
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl TlsFiles {
    /// Reads `ca` and, when given, the certificate and key files.
    pub fn read(ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> Result<TlsFiles> {
        let mut roots = RootCertStore::empty();
        let ca_certs = certificates(ca)?;
        for cert in &ca_certs {
            roots
                .add(cert.clone())
                .map_err(|e| bad(ca, format!("not a usable CA certificate: {e}")))?;
        }
        let identity = match identity {
            None => None,
            Some((cert, key)) => {
                let chain = certificates(cert)?;
                let private = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| bad(key, format!("no PEM private key: {e}")))?;
                let provider = super::provider();
                rustls::sign::CertifiedKey::from_der(chain.clone(), private.clone_key(), &provider)
                    .map_err(|e| {
                        bad(
                            key,
                            format!("does not go with the certificate {}: {e}", cert.display()),
                        )
                    })?;
                Some((chain, private))
            }
        };
        Ok(TlsFiles {
            roots: std::sync::Arc::new(roots),
            ca_certs,
            identity,
        })
    }
}

/// The certificates of a PEM file, each checked to be within its validity period.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read TLS file", path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad(path, "holds no PEM certificate".into()));
    }
    let now = UnixTime::now().as_secs() as i64;
    for cert in &certs {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert)
            .map_err(|e| bad(path, format!("a certificate does not parse: {e}")))?;
        let validity = parsed.validity();
        let subject = parsed.subject().to_string();
        if now > validity.not_after.timestamp() {
            return Err(bad(
                path,
                format!("certificate {subject:?} expired at {}", validity.not_after),
            ));
        }
        if now < validity.not_before.timestamp() {
            return Err(bad(
                path,
                format!(
                    "certificate {subject:?} is not valid before {}",
                    validity.not_before
                ),
            ));
        }
    }
    Ok(certs)
}

fn bad(path: &Path, reason: String) -> Error {
    Error::InvalidConfig(format!("[security] {}: {reason}", path.display()))
}
