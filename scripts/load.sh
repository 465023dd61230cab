#!/usr/bin/env bash
# Drives the demo shop over loopback with wrk, bounded in time (DURATION
# per run, 2 threads, 32 connections), on the in-memory store and on
# memcached. GET / reads the session of a logged-in visitor; /healthz,
# which never touches the session, is the bare reference in the same run.
# Prints requests per second and the p99 latency.
#
# Usage: scripts/load.sh               (DURATION=10s by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
for tool in wrk memcached curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
		$sudo apt-get update -qq && $sudo apt-get install -y -qq wrk memcached curl >/dev/null
		break
	fi
done
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/shop" ./examples/shop
export SESSION_SECRET=load-test-secret-of-at-least-32-bytes

wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return; sleep 0.05; done; echo "shop did not start"; exit 1; }

# load LABEL PORT [shop flags...]
load() {
	local label=$1 port=$2; shift 2
	"$tmp/shop" -addr "127.0.0.1:$port" "$@" 2>>"$tmp/shop.log" &
	pids+=($!)
	wait_port "$port"
	local jar="$tmp/jar.$port"
	curl -s -c "$jar" -b "$jar" -o /dev/null -d email=ada@example.com "http://127.0.0.1:$port/login"
	curl -s -c "$jar" -b "$jar" -o /dev/null "http://127.0.0.1:$port/" # shows and clears the welcome flash
	local cookie
	cookie=$(awk '$6 ~ /session/ {print $6 "=" $7}' "$jar")
	# The load is honest only if GET / really reads a logged-in session.
	curl -s -H "Cookie: $cookie" "http://127.0.0.1:$port/" | grep -q 'Signed in as ada@example.com' ||
		{ echo "$label: GET / does not see the logged-in session"; exit 1; }
	for path in / /healthz; do
		wrk -t2 -c32 -d"$DURATION" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$path" > "$tmp/wrk.txt"
		printf '%-10s %-9s %12s req/s   p99 %s\n' "$label" "$path" \
			"$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt")" "$(awk '$1 == "99%" {print $2}' "$tmp/wrk.txt")"
	done
}

echo "$(date -u +%FT%TZ), $(go version | cut -d' ' -f3), $(nproc) cores, wrk -t2 -c32 -d$DURATION"
load memory 28081
memcached -l 127.0.0.1 -p 28211 -U 0 -t 2 $( [ "$(id -u)" -eq 0 ] && echo "-u root" ) &
pids+=($!)
sleep 0.3
load memcached 28082 -memcached 127.0.0.1:28211
