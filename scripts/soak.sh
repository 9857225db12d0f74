#!/usr/bin/env bash
# The soak run: pumps + drainer + binlog-load at half the maximum rate, with random SIGKILLs of
# the pumps and the drainer; checks that every acknowledged binlog reaches the drainer's file
# destination exactly once, in commit-TS order, intact. Arguments go to the `soak` binary
# (`--help` lists them), e.g.:
#   bash scripts/soak.sh --duration 20m --pump-kills 12 --drainer-kills 6
set -euo pipefail
cd "$(dirname "$0")/.."
# The whole workspace's binaries, as the soak itself builds them (one feature resolution).
cargo build --release --workspace --bins
exec target/release/soak "$@"
