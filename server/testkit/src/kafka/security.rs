//! How a test [`Kafka`](super::Kafka) broker secures the listener its clients use: TLS that
//! requires a client certificate (`SSL`), SASL with PLAIN and SCRAM-SHA-256 (`SASL_PLAINTEXT`),
//! or both (`SASL_SSL`). The broker's inter-broker and controller listeners stay PLAINTEXT on
//! ports of their own. Also the client properties the kit's Kafka tools reach it with.
//!
//! Kafka reads the PEM files [`crate::certs::TestCa`] writes as they are: the trust store is the
//! CA's PEM (`ssl.truststore.type=PEM`), the key store one file holding the PKCS#8 key then the
//! certificate (`ssl.keystore.type=PEM`, no password for an unencrypted key).

use std::path::{Path, PathBuf};

use crate::certs::Issued;

/// The listener clients use when it is secured.
const CLIENT_LISTENER: &str = "CLIENT";
/// The tools' SASL mechanism (the broker enables PLAIN too).
const TOOLS_MECHANISM: &str = "SCRAM-SHA-256";

/// What secures a test broker's client listener; the default, nothing, is PLAINTEXT.
#[derive(Clone, Debug, Default)]
pub struct KafkaSecurity {
    /// TLS, client certificates required (`ssl.client.auth=required`).
    pub tls: Option<KafkaTls>,
    /// SASL users, `(name, password)`, known to PLAIN and SCRAM-SHA-256; empty for no SASL.
    /// The kit's tools log in as the first, with SCRAM-SHA-256.
    pub sasl_users: Vec<(String, String)>,
}

/// The TLS of a test broker.
#[derive(Clone, Debug)]
pub struct KafkaTls {
    /// The CA (PEM) client certificates must be signed by.
    pub ca: PathBuf,
    /// The broker's certificate and key (its clients must trust their issuer).
    pub broker: Issued,
    /// The certificate the kit's tools present, signed by `ca`; they trust `ca` for the
    /// broker's, so it should be `broker`'s issuer too.
    pub client: Issued,
}

impl KafkaSecurity {
    /// Whether the client listener is secured at all.
    fn is_on(&self) -> bool {
        self.tls.is_some() || !self.sasl_users.is_empty()
    }

    /// The client listener's security protocol.
    fn protocol(&self) -> &'static str {
        match (self.tls.is_some(), !self.sasl_users.is_empty()) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        }
    }

    /// The listener lines of `server.properties`: clients on `port`, the broker's own traffic
    /// on `internal_port` when the client listener is secured, the controller on
    /// `controller_port`; then the client listener's TLS and SASL settings, its key store
    /// written into `dir`.
    pub(super) fn listener_properties(
        &self,
        dir: &Path,
        port: u16,
        internal_port: u16,
        controller_port: u16,
    ) -> String {
        let controller = format!("CONTROLLER://127.0.0.1:{controller_port}");
        if !self.is_on() {
            return format!(
                "listeners=PLAINTEXT://127.0.0.1:{port},{controller}\n\
                 advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
                 inter.broker.listener.name=PLAINTEXT\n\
                 listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
            );
        }
        let endpoints =
            format!("{CLIENT_LISTENER}://127.0.0.1:{port},PLAINTEXT://127.0.0.1:{internal_port}");
        let mut properties = format!(
            "listeners={endpoints},{controller}\n\
             advertised.listeners={endpoints}\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map={CLIENT_LISTENER}:{},PLAINTEXT:PLAINTEXT,\
             CONTROLLER:PLAINTEXT\n",
            self.protocol()
        );
        // Listener-prefixed: Kafka applies ssl.client.auth to a SASL_SSL listener only so.
        let prefix = format!("listener.name.{}", CLIENT_LISTENER.to_lowercase());
        if let Some(tls) = &self.tls {
            let keystore = key_store(dir, "broker", &tls.broker);
            properties += &format!(
                "{prefix}.ssl.client.auth=required\n\
                 {prefix}.ssl.keystore.type=PEM\n\
                 {prefix}.ssl.keystore.location={}\n\
                 {prefix}.ssl.truststore.type=PEM\n\
                 {prefix}.ssl.truststore.location={}\n",
                keystore.display(),
                tls.ca.display()
            );
        }
        if !self.sasl_users.is_empty() {
            let plain_users: String = self
                .sasl_users
                .iter()
                .map(|(name, password)| format!(" user_{name}=\"{password}\""))
                .collect();
            properties += &format!(
                "{prefix}.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256\n\
                 {prefix}.plain.sasl.jaas.config=\
                 org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};\n\
                 {prefix}.scram-sha-256.sasl.jaas.config=\
                 org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            );
        }
        properties
    }

    /// The arguments of `kafka-storage format` that create the SCRAM-SHA-256 users (with
    /// KRaft, SCRAM credentials live in the metadata log, written at format time).
    pub(super) fn format_args(&self) -> Vec<String> {
        self.sasl_users
            .iter()
            .flat_map(|(name, password)| {
                [
                    "--add-scram".to_owned(),
                    format!("SCRAM-SHA-256=[name={name},password={password}]"),
                ]
            })
            .collect()
    }

    /// The properties a Kafka client (the kit's tools: `--consumer.config`,
    /// `--command-config`) reaches the client listener with, its key store written into
    /// `dir`; `None` when the listener is PLAINTEXT.
    pub(super) fn client_properties(&self, dir: &Path) -> Option<String> {
        if !self.is_on() {
            return None;
        }
        let mut properties = format!("security.protocol={}\n", self.protocol());
        if let Some(tls) = &self.tls {
            let keystore = key_store(dir, "client", &tls.client);
            properties += &format!(
                "ssl.keystore.type=PEM\n\
                 ssl.keystore.location={}\n\
                 ssl.truststore.type=PEM\n\
                 ssl.truststore.location={}\n",
                keystore.display(),
                tls.ca.display()
            );
        }
        if let Some((name, password)) = self.sasl_users.first() {
            properties += &format!(
                "sasl.mechanism={TOOLS_MECHANISM}\n\
                 sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
                 required username=\"{name}\" password=\"{password}\";\n"
            );
        }
        Some(properties)
    }
}

/// Writes `<dir>/<name>-keystore.pem`, Kafka's PEM key store: `issued`'s PKCS#8 key, then its
/// certificate; returns its path.
fn key_store(dir: &Path, name: &str, issued: &Issued) -> PathBuf {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    };
    let path = dir.join(format!("{name}-keystore.pem"));
    let pem = read(&issued.key) + &read(&issued.cert);
    std::fs::write(&path, pem).expect("write a Kafka key store");
    path
}
