#!/usr/bin/env bash
# Runs the benchmarks: sessiongen against scs and gorilla/sessions, the
# codecs, the store client choices (go-redis against rueidis, modernc
# against ncruces SQLite), and sessiongen on real memcached, Redis,
# PostgreSQL and MariaDB servers next to their raw clients' round trips, and on SQLite
# next to the memory store (the tests start and stop their own servers).
# Writes benchstat tables to bench/results/.
#
# Usage: scripts/bench.sh            (COUNT=6 BENCHTIME=1s by default)
#        COUNT=3 BENCHTIME=300ms scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
missing=()
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
{ command -v mariadbd || test -x /usr/sbin/mariadbd; } >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing the servers the benchmarks start: ${missing[*]} (Debian packages)"
	sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export SESSIONGEN_REQUIRE_MEMCACHED=1 SESSIONGEN_REQUIRE_REDIS=1 SESSIONGEN_REQUIRE_POSTGRES=1 SESSIONGEN_REQUIRE_MYSQL=1
mkdir -p bench/results
{ date -u +%FT%TZ; go version; echo "$(nproc) cores"; } > bench/results/machine.txt

(cd bench && go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" .) | tee bench/results/peers.txt
go test -run '^$' -bench 'Memcached' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./runtime/memcache | tee bench/results/memcached.txt
go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./runtime/redis ./runtime/postgres ./runtime/mysql ./runtime/sqlite | tee bench/results/stores.txt

(cd bench && go tool benchstat -col /format results/peers.txt 2>/dev/null || go tool benchstat results/peers.txt) > bench/results/peers-benchstat.txt
(cd bench && go tool benchstat results/memcached.txt) > bench/results/memcached-benchstat.txt
(cd bench && go tool benchstat results/stores.txt) > bench/results/stores-benchstat.txt
cat bench/results/machine.txt bench/results/peers-benchstat.txt bench/results/memcached-benchstat.txt bench/results/stores-benchstat.txt
