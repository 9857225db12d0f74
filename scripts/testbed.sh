#!/usr/bin/env bash
# The test bed: third-party servers the test kit (server/testkit) starts for tests, built or
# fetched once into a cache outside the work tree, keyed by version.
#
#   scripts/testbed.sh build   fetch/build what is missing (idempotent; .ci/run calls it)
#   scripts/testbed.sh path    print the cache directory
#
# Cache: ${BINLOG_TESTBED_CACHE:-$HOME/.cache/tidb-binlog-rs}. The test kit reads the same
# variable. From Debian instead (installed by .ci/run): etcd, MariaDB.
#
# - kafka-<version>/libs: the Apache Kafka broker (KRaft) and its tools with their runtime
#   dependencies, from Maven Central via server/testkit/kafka/pom.xml (no prebuilt tarball:
#   only apt, Maven Central, crates.io and the Go module proxy may be used).
#
# Not here yet, because the Go module proxy this project may use does not serve them:
# PD v8.1.2, TiDB v8.1 and the original pump v7.5.7. For example
#   go list -m github.com/tikv/pd@v1.1.0-beta.0.20241220032209-c1ee9cf28f6d
# answers "403 Forbidden ... This module version is not available.", and so do
# github.com/pingcap/tidb@v1.1.0-beta.0.20241219101957-a878e1fdf4ca and
# github.com/pingcap/tidb-binlog@v0.0.0-20250724094631-df472c17d4d9. Their builds go here
# (cache dirs pd-<version>, tidb-<version>, pump-<version>) once they can be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with KAFKA_VERSION in server/testkit/src/kafka.rs.
KAFKA_VERSION=4.1.1
CACHE=${BINLOG_TESTBED_CACHE:-$HOME/.cache/tidb-binlog-rs}

build_kafka() {
    local dir="$CACHE/kafka-$KAFKA_VERSION"
    if [[ -f "$dir/complete" ]]; then
        echo "kafka $KAFKA_VERSION: cached in $dir"
        return
    fi
    command -v mvn >/dev/null 2>&1 || {
        echo "mvn not found: apt-get install maven" >&2
        exit 1
    }
    echo "kafka $KAFKA_VERSION: fetching from Maven Central into $dir"
    # Into a fresh directory first, so an interrupted fetch never looks complete.
    local tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    mvn -q -B -Dstyle.color=never -f server/testkit/kafka/pom.xml -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs"
    touch "$tmp/complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    echo "kafka $KAFKA_VERSION: $(ls "$dir/libs" | wc -l) jars in $dir/libs"
}

case "${1:-}" in
build) build_kafka ;;
path) echo "$CACHE" ;;
*)
    echo "usage: $0 build|path" >&2
    exit 2
    ;;
esac
