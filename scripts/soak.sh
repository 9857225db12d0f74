#!/usr/bin/env bash
# The soak run: pumps + drainer + binlog-load at half the maximum rate, with random SIGKILLs of
# the pumps and the drainer; checks that every acknowledged binlog reaches the drainer's file
# destination exactly once, in commit-TS order, intact. Arguments go to the `soak` binary
# (`--help` lists them), e.g.:
#   bash scripts/soak.sh --duration 20m --pump-kills 12 --drainer-kills 6
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p binlog-pump -p binlog-drainer -p binlog-tools -p binlog-benches --bin pump --bin drainer \
    --bin binlog-load --bin soak
exec target/release/soak "$@"
