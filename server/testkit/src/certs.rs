//! Certificates for TLS tests: a CA in a temp dir that issues server and client certificates
//! (ECDSA P-256, valid for `127.0.0.1` and `localhost`), as PEM files the nodes' `[security]`
//! keys point at.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A test CA and the directory its files go to.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    /// `ca.pem` (or the name given): the CA certificate, for `ssl-ca`.
    pub ca: PathBuf,
}

/// A certificate and key issued by a [`TestCa`], for `ssl-cert`/`ssl-key`.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its key (PEM, PKCS#8).
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name`, its certificate written to `<dir>/<name>.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let ca = dir.join(format!("{name}.pem"));
        std::fs::write(&ca, issuer.pem()).expect("write CA");
        TestCa {
            issuer,
            dir: dir.to_path_buf(),
            ca,
        }
    }

    /// A certificate with subject CN `cn`, usable by servers and clients, written to
    /// `<dir>/<file>.pem` and `<dir>/<file>-key.pem` (overwriting: a rotation).
    pub fn issue(&self, cn: &str, file: &str) -> Issued {
        self.issue_valid(cn, file, false)
    }

    /// As [`TestCa::issue`], but valid only during the year 2000: expired.
    pub fn issue_expired(&self, cn: &str, file: &str) -> Issued {
        self.issue_valid(cn, file, true)
    }

    fn issue_valid(&self, cn: &str, file: &str, expired: bool) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let issued = Issued {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}-key.pem")),
        };
        std::fs::write(&issued.cert, cert.pem()).expect("write certificate");
        std::fs::write(&issued.key, key.serialize_pem()).expect("write key");
        issued
    }
}

impl Issued {
    /// A node's TLS with this certificate: its `[security]` section (the CA `ca`, the allowed
    /// CNs), and the client TLS a test speaks to it with, presenting `client` (whose CN must be
    /// allowed).
    pub fn node_tls(
        &self,
        ca: &Path,
        allowed_cn: &[&str],
        client: &Issued,
    ) -> crate::pump::NodeTls {
        crate::pump::NodeTls {
            toml: self.security_toml(ca, allowed_cn),
            client: client.client_tls(ca),
        }
    }

    /// A client's TLS presenting this certificate and trusting `ca`, its files checked.
    pub fn client_tls(&self, ca: &Path) -> binlog_node::tls::Tls {
        let tls = binlog_node::tls::Tls {
            ca: ca.to_path_buf(),
            identity: Some((self.cert.clone(), self.key.clone())),
            allowed_cn: Vec::new(),
        };
        tls.files().expect("the test certificates");
        tls
    }

    /// The `[security]` section of a node's TOML with this certificate, the CA `ca` and the
    /// allowed CNs.
    pub fn security_toml(&self, ca: &Path, allowed_cn: &[&str]) -> String {
        format!(
            "[security]\nssl-ca = {:?}\nssl-cert = {:?}\nssl-key = {:?}\ncert-allowed-cn = {:?}\n",
            ca.display().to_string(),
            self.cert.display().to_string(),
            self.key.display().to_string(),
            allowed_cn
        )
    }
}
