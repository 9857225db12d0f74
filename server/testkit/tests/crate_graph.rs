//! Each binary builds only what it uses: the tools link neither the pump nor the drainer (nor
//! the Kafka client the drainer's sink brings; reparo reads archives through `binlog-archive`),
//! and the pump does not link the drainer. Checked on the real resolved graph, `cargo tree -e normal`.

use std::path::Path;
use std::process::Command;

/// The workspace crates (and their normal dependencies) `package` links.
fn linked(package: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo tree prints UTF-8")
}

fn links(tree: &str, krate: &str) -> bool {
    tree.lines()
        .any(|line| line.split_whitespace().next() == Some(krate))
}

#[test]
fn the_tools_link_neither_node() {
    let tree = linked("binlog-tools");
    assert!(
        links(&tree, "binlog-node"),
        "the tools use binlog-node:\n{tree}"
    );
    for heavy in ["binlog-pump", "binlog-drainer", "rskafka"] {
        assert!(!links(&tree, heavy), "binlog-tools links {heavy}:\n{tree}");
    }
}

#[test]
fn the_pump_does_not_link_the_drainer() {
    let tree = linked("binlog-pump");
    assert!(
        links(&tree, "binlog-engine"),
        "the pump uses the engine:\n{tree}"
    );
    assert!(
        !links(&tree, "binlog-drainer"),
        "binlog-pump links the drainer:\n{tree}"
    );
}

#[test]
fn the_drainer_does_not_link_the_pump() {
    let tree = linked("binlog-drainer");
    assert!(
        !links(&tree, "binlog-pump"),
        "binlog-drainer links the pump:\n{tree}"
    );
}
