//! Running the real `binlog-inspect` binary and reading what it printed.

use std::process::Command;

use serde_json::Value;

use super::fixture::*;

/// What a run of `binlog-inspect` gave.
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `binlog-inspect` with `args`.
pub fn inspect(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_binlog-inspect"))
        .args(args)
        .output()
        .expect("run binlog-inspect");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

impl Run {
    /// Asserts the exit code; returns the run.
    pub fn exits(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "binlog-inspect {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts success; returns stdout.
    pub fn ok(self) -> String {
        self.exits(0).stdout
    }

    /// Stdout as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Stdout as one JSON value a line.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

/// `dump --json` of `target` with `extra` arguments.
pub fn dump(target: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["dump", "--json", target];
    args.extend_from_slice(extra);
    inspect(&args).exits(0).json_lines()
}

/// The `dump --json` lines of `records`.
pub fn dump_lines<'a>(records: impl IntoIterator<Item = &'a Written>) -> Vec<Value> {
    records.into_iter().map(Written::dump_json).collect()
}
