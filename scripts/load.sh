#!/usr/bin/env bash
# Drives the demo shop with wrk (2 threads, 32 connections, DURATION per
# run) on each server-side store, started on loopback as the tests start
# them: memory, memcached, Redis, PostgreSQL, MariaDB, MongoDB (FerretDB)
# and SQLite. Three loads per store: a read of a signed-in session, writes
# to one hot session from every connection (POST /cart), and writes
# spread over 64 sessions. For each: requests per second, p99, store
# operations and failed compare-and-swaps per request as the servers count
# them (memcached's stats, Redis's commandstats, PostgreSQL's
# pg_stat_statements, MariaDB's Questions), and the writes kept against
# those acknowledged. The run fails if an acknowledged write is lost or
# the demo logs an ERROR.
#
# Usage: scripts/load.sh                      (this checkout, DURATION=5s)
#        BEFORE=<commit> scripts/load.sh      (that commit's demo and this
#                                              one's, in turn, against the
#                                              same servers: side by side)
#        STORES=redis,postgres DURATION=10s scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
{ command -v mariadbd || test -x /usr/sbin/mariadbd; } >/dev/null 2>&1 || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export SESSIONGEN_REQUIRE_MEMCACHED=1 SESSIONGEN_REQUIRE_REDIS=1 SESSIONGEN_REQUIRE_POSTGRES=1 SESSIONGEN_REQUIRE_MONGO=1 SESSIONGEN_REQUIRE_MYSQL=1
case ",${STORES:-mongodb}," in *,mongodb,*) SESSIONGEN_FERRETDB=$(scripts/ferretdb.sh); export SESSIONGEN_FERRETDB ;; esac

tmp=$(mktemp -d)
cleanup() { [ -d "$tmp/before" ] && git worktree remove --force "$tmp/before" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/now" ./examples/shop
bins="now=$tmp/now"
if [ -n "${BEFORE:-}" ]; then
	git worktree add -q --detach "$tmp/before" "$BEFORE"
	(cd "$tmp/before" && go build -o "$tmp/before.bin" ./examples/shop)
	bins="before=$tmp/before.bin,$bins"
fi

echo "$(date -u +%FT%TZ), $(go version | cut -d' ' -f3), $(nproc) cores, wrk -t2 -c32 -d$DURATION; demos: $bins"
SESSIONGEN_LOAD=$bins SESSIONGEN_LOAD_DURATION=$DURATION SESSIONGEN_LOAD_STORES=${STORES:-} \
	go test -count=1 -run '^TestLoad$' -v -timeout 60m ./examples/shop | grep -v -E '^(=== RUN|--- PASS|PASS|ok )'
