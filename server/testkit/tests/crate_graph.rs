//! Each binary builds only what it uses: the tools do not link the pump, and the pump does not
//! link the drainer. The tools link the drainer's crate for `reparo`, which reads the `file`
//! destination's format (`binlog_file`, `pb_binlog`) and filter and applies through the
//! loader; moving those into a crate of their own would let the tools drop the drainer's
//! other sinks again. Checked on the real resolved graph, `cargo tree -e normal`.

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
fn the_tools_do_not_link_the_pump() {
    let tree = linked("binlog-tools");
    assert!(
        links(&tree, "binlog-node"),
        "the tools use binlog-node:\n{tree}"
    );
    assert!(
        !links(&tree, "binlog-pump"),
        "binlog-tools links binlog-pump:\n{tree}"
    );
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
