#!/usr/bin/env bash
# Starts a pump and a drainer on the embedded defaults (registry and TSO in /var/tmp/tidb-binlog,
# data in ./quickstart/data.pump and ./quickstart/data.drainer) on loopback, so that the demo
# works on any host whatever its network (the original's default binds and advertises the
# host's first non-loopback address, which a laptop on no network does not have), writes
# binlogs into the pump with binlog-load for a few seconds, and shows what the drainer wrote.
# The two keep running until Ctrl-C, which stops both cleanly (they end `paused`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
bin="$PWD/target/release"
mkdir -p quickstart
cd quickstart

"$bin/pump" -addr 127.0.0.1:8250 -log-file pump.log &
pump=$!
"$bin/drainer" -addr 127.0.0.1:8249 -log-file drainer.log &
drainer=$!
trap 'kill -TERM $pump $drainer 2>/dev/null; wait' EXIT
sleep 2

echo "== binlog-load: 16 TiDB-like clients for 5 s"
"$bin/binlog-load" --duration 5s --clients 16
sleep 3
echo "== the registry (binlogctl -cmd pumps / drainers)"
"$bin/binlogctl" -cmd pumps
"$bin/binlogctl" -cmd drainers
host=$("$bin/binlogctl" -cmd drainers | sed -n 's/.*Addr: \([^,]*\),.*/\1/p' | head -1)
echo "== curl http://$host/status"
curl -s "http://$host/status"
echo "== the drainer's file destination and checkpoint (data.drainer/)"
ls -l data.drainer
cat data.drainer/savepoint
echo "== pump and drainer keep running (logs: quickstart/*.log); Ctrl-C stops them"
wait
