//! TLS end to end with certificates from the test kit's CA: a real etcd serving `https://` and
//! requiring client certificates as registry and TSO, a real pump and a real drainer serving
//! TLS (`[security]` with `cert-allowed-cn`), the drainer pulling over TLS, `binlog-load`
//! writing over TLS while the pump's certificate is rotated on disk, every acknowledged commit
//! delivered to the drainer's files; `binlogctl` listing the nodes from etcd and pausing the
//! pump over HTTPS; clients with a certificate from another CA, with a CN not allowed, or in
//! plain text refused, while the good clients keep being served and new connections get the
//! rotated certificate.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use binlog_archive::binlog_file::{decode_records, list_files};
use binlog_node::proto::Binlog;
use binlog_node::tls::Tls;
use binlog_testkit::certs::{Issued, TestCa};
use binlog_testkit::drainer::{start_drainer_tls, DrainerOptions};
use binlog_testkit::etcd::EtcdServer;
use binlog_testkit::http::https_request;
use binlog_testkit::poll::wait_for;
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use prost::Message;

/// Runs `binlog-load` against `pump` for `args`, with etcd at `pd_urls`, presenting `client`
/// (or plain text).
fn load(pump: &str, pd_urls: &str, ca: &Path, client: Option<&Issued>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_binlog-load"));
    command
        .args(["--quiet", "--pump", pump, "--pd-urls", pd_urls])
        .args(args)
        .stdin(Stdio::null());
    if let Some(client) = client {
        command.args(tls_flags("--", ca, client));
    }
    command.output().expect("run binlog-load")
}

/// `<dashes>ssl-ca ca <dashes>ssl-cert ... <dashes>ssl-key ...`.
fn tls_flags(dashes: &str, ca: &Path, client: &Issued) -> Vec<String> {
    [
        ("ssl-ca", ca),
        ("ssl-cert", &client.cert),
        ("ssl-key", &client.key),
    ]
    .into_iter()
    .flat_map(|(flag, path)| [format!("{dashes}{flag}"), path.display().to_string()])
    .collect()
}

/// Runs `binlogctl` on etcd at `pd_urls` with `args`, presenting `client` (or plain text).
fn binlogctl(pd_urls: &str, ca: &Path, client: Option<&Issued>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_binlogctl"));
    command
        .args(["-pd-urls", pd_urls])
        .args(args)
        .stdin(Stdio::null());
    if let Some(client) = client {
        command.args(tls_flags("-", ca, client));
    }
    command.output().expect("run binlogctl")
}

/// The commit TSs of the binlogs in the drainer's `file` destination (tipb payloads).
fn drained(dir: &Path) -> BTreeSet<i64> {
    let mut commits = BTreeSet::new();
    for (_, path) in list_files(dir).expect("list the binlog files") {
        let (records, _) = decode_records(&std::fs::read(path).expect("read a binlog file"));
        for record in records {
            let binlog = Binlog::decode(&record.payload[..]).expect("a tipb binlog");
            if !binlog.is_fake() {
                commits.insert(binlog.commit_ts);
            }
        }
    }
    commits
}

#[test]
fn pump_drainer_and_binlog_load_over_tls_with_rotation_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let ca = TestCa::new(&certs, "ca");
    let other_ca = TestCa::new(&certs, "other-ca");
    let registry = dir.path().join("registry");
    let etcd = EtcdServer::start_tls(&ca.ca, &ca.issue("etcd", "etcd"));
    let pd_urls = etcd.url();
    assert!(pd_urls.starts_with("https://"), "{pd_urls}");

    // What the test itself speaks HTTP to the nodes with.
    let test = ca.issue("test", "test");
    let pump_cert = ca.issue("pump", "pump");
    let pump_tls = pump_cert.node_tls(
        &ca.ca,
        &["drainer", "binlog-load", "binlogctl", "test"],
        &test,
    );
    let pump = PumpProcess::start_tls(
        &PumpOptions {
            data_dir: &dir.path().join("pump"),
            registry_dir: &registry,
            pd_urls,
            extra: &[],
            storage: None,
        },
        Some(&pump_tls),
    );
    let drainer_data = dir.path().join("drainer");
    let drainer_tls = ca
        .issue("drainer", "drainer")
        .node_tls(&ca.ca, &["pump", "test"], &test);
    let drainer = start_drainer_tls(
        &DrainerOptions {
            data_dir: &drainer_data,
            registry_dir: &registry,
            pd_urls,
            node_id: "drainer-tls",
            extra: &["-initial-commit-ts", "0"],
            stdout: None,
            config: None,
        },
        Some(&drainer_tls),
    );

    // binlog-load writes for 4 s; the pump's certificate is replaced on disk after 1 s.
    let loader = ca.issue("binlog-load", "binlog-load");
    let acked_file = dir.path().join("acked.txt");
    let rotated = std::thread::scope(|scope| {
        let rotate = scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            ca.issue("pump-rotated", "pump");
        });
        let output = load(
            &pump.addr,
            pd_urls,
            &ca.ca,
            Some(&loader),
            &[
                "--duration",
                "4s",
                "--clients",
                "8",
                "--verify",
                "--acked-file",
                acked_file.to_str().unwrap(),
            ],
        );
        rotate.join().unwrap();
        output
    });
    assert!(
        rotated.status.success(),
        "binlog-load over TLS failed: {}\n{}\npump log:\n{}",
        String::from_utf8_lossy(&rotated.stdout),
        String::from_utf8_lossy(&rotated.stderr),
        pump.log()
    );
    let acked: BTreeSet<i64> = std::fs::read_to_string(&acked_file)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("commit "))
        .map(|rest| rest.split_whitespace().nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(
        acked.len() > 100,
        "only {} commits acknowledged",
        acked.len()
    );
    wait_for(
        "the drainer to hold every acknowledged commit",
        Duration::from_secs(60),
        || acked.is_subset(&drained(&drainer_data)).then_some(()),
        || {
            let missing = acked.difference(&drained(&drainer_data)).count();
            format!("{missing} missing; drainer log:\n{}", drainer.log())
        },
    );

    // Refused: another CA and plain text by etcd already (binlog-load asks it for the cluster
    // ID first); a CN not in cert-allowed-cn by the pump (etcd lets in every certificate of
    // the CA).
    let stranger = other_ca.issue("binlog-load", "stranger");
    let intruder = ca.issue("intruder", "intruder");
    for (client, what, refused_by) in [
        (Some(&stranger), "a certificate from another CA", pd_urls),
        (None, "plain text", "https:// needs TLS settings"),
        (Some(&intruder), "a CN not allowed", pump.addr.as_str()),
    ] {
        let output = load(&pump.addr, pd_urls, &ca.ca, client, &["--count", "5"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(refused_by),
            "{what} was not refused: {stderr}"
        );
    }
    // The pump itself refuses the other CA's certificate and plain text, on HTTP as well.
    let stranger_tls = Tls {
        ca: ca.ca.clone(),
        ..stranger.client_tls(&other_ca.ca)
    };
    for (client, what) in [
        (Some(&stranger_tls), "a certificate from another CA"),
        (None, "plain text"),
    ] {
        let answer = https_request(&pump.addr, "GET", "/status", client);
        assert!(
            !matches!(answer, Ok((200, _))),
            "the pump served {what}: {answer:?}"
        );
    }
    // The pump still serves the good client, and its HTTP over TLS.
    let again = load(
        &pump.addr,
        pd_urls,
        &ca.ca,
        Some(&loader),
        &["--count", "5"],
    );
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(pump.get("/status").contains("\"online\""));

    // binlogctl reads the nodes from etcd over TLS, and pauses the pump over HTTPS.
    let operator = ca.issue("binlogctl", "binlogctl");
    let pumps = binlogctl(
        pd_urls,
        &ca.ca,
        Some(&operator),
        &["-cmd", "pumps", "-json"],
    );
    assert!(
        pumps.status.success(),
        "{}",
        String::from_utf8_lossy(&pumps.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&pumps.stdout).expect("JSON");
    let pump_id = listed[0]["nodeId"].as_str().expect("a pump").to_owned();
    assert_eq!(listed[0]["state"], "online", "{listed}");
    let drainers = binlogctl(pd_urls, &ca.ca, Some(&operator), &["-cmd", "drainers"]);
    assert!(
        String::from_utf8_lossy(&drainers.stdout).contains("drainer-tls"),
        "{}",
        String::from_utf8_lossy(&drainers.stderr)
    );
    // Without the TLS flags, etcd's https:// is refused before anything is sent.
    let plain = binlogctl(pd_urls, &ca.ca, None, &["-cmd", "pumps"]);
    let refusal = String::from_utf8_lossy(&plain.stderr);
    assert!(
        !plain.status.success() && refusal.contains("https:// needs TLS settings"),
        "{refusal}"
    );
    let paused = binlogctl(
        pd_urls,
        &ca.ca,
        Some(&operator),
        &["-cmd", "pause-pump", "-node-id", &pump_id],
    );
    assert!(
        paused.status.success(),
        "{}{}",
        String::from_utf8_lossy(&paused.stdout),
        String::from_utf8_lossy(&paused.stderr)
    );
    wait_for(
        "binlogctl to list the pump as paused",
        Duration::from_secs(30),
        || {
            let pumps = binlogctl(pd_urls, &ca.ca, Some(&operator), &["-cmd", "pumps"]);
            String::from_utf8_lossy(&pumps.stdout)
                .contains("State: paused")
                .then_some(())
        },
        || format!("pump log:\n{}", pump.log()),
    );
}
