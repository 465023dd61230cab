#!/usr/bin/env bash
# Runs the benchmarks: sessiongen against scs and gorilla/sessions, the
# codecs, and sessiongen on a real memcached next to raw gomemcache calls
# (the test starts and stops its own memcached). Writes benchstat tables
# to bench/results/.
#
# Usage: scripts/bench.sh            (COUNT=6 BENCHTIME=1s by default)
#        COUNT=3 BENCHTIME=300ms scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
if ! command -v memcached >/dev/null 2>&1; then
	echo "memcached is missing: installing it (Debian package memcached)"
	sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq && $sudo apt-get install -y -qq memcached >/dev/null
fi
export SESSIONGEN_REQUIRE_MEMCACHED=1
mkdir -p bench/results
{ date -u +%FT%TZ; go version; echo "$(nproc) cores"; } > bench/results/machine.txt

(cd bench && go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" .) | tee bench/results/peers.txt
go test -run '^$' -bench 'Memcached' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./runtime/memcache | tee bench/results/memcached.txt

(cd bench && go tool benchstat -col /format results/peers.txt 2>/dev/null || go tool benchstat results/peers.txt) > bench/results/peers-benchstat.txt
(cd bench && go tool benchstat results/memcached.txt) > bench/results/memcached-benchstat.txt
cat bench/results/machine.txt bench/results/peers-benchstat.txt bench/results/memcached-benchstat.txt
