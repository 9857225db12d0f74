//! The server's client-certificate check: the chain must lead to `ssl-ca` (rustls' WebPKI
//! verifier), and with `cert-allowed-cn` the certificate's subject common name must be listed
//! (the original's `VerifyPeerCertificate`). A refusal fails the handshake, so gRPC and HTTP
//! are refused alike, before any request.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

/// Signed by the CA, and a listed CN when there is a list.
#[derive(Debug)]
pub struct AllowedCnVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl AllowedCnVerifier {
    /// Requires a client certificate chaining to `roots` whose CN is in `allowed` (any CN
    /// when it is empty).
    pub fn new(roots: Arc<RootCertStore>, allowed: Vec<String>) -> Result<AllowedCnVerifier> {
        let inner = WebPkiClientVerifier::builder_with_provider(roots, super::provider())
            .build()
            .map_err(|e| Error::InvalidConfig(format!("[security] ssl-ca: {e}")))?;
        Ok(AllowedCnVerifier { inner, allowed })
    }
}

/// The subject common names of a DER certificate.
pub fn common_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    parsed
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect()
}

impl ClientCertVerifier for AllowedCnVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if self.allowed.is_empty() {
            return Ok(verified);
        }
        let names = common_names(end_entity);
        if names.iter().any(|cn| self.allowed.contains(cn)) {
            return Ok(verified);
        }
        Err(rustls::Error::General(format!(
            "client certificate CN {names:?} is not in cert-allowed-cn {:?}",
            self.allowed
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
