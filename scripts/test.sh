#!/usr/bin/env bash
# Runs every check: formatting, vet, staticcheck, generated files up to
# date, all tests with the race detector (the golden packages under
# testdata/ included, and each store's tests against its real server:
# memcached, Redis, PostgreSQL and MariaDB installed here with apt-get when
# missing, FerretDB built from the Go module proxy; Prometheus and Chromium
# for the demo), and a short fuzz of each fuzz target.
#
# Usage: scripts/test.sh            (from anywhere in the repository)
#        scripts/test.sh -short     (while developing: vet and the tests,
#                                    without -race, staticcheck, fuzzing or
#                                    the slow store cases; about 2 minutes)
#        FUZZTIME=20000x scripts/test.sh   (shorter fuzzing; the default is 250,000
#                                          executions a target, 15-30 s here)
set -euo pipefail
cd "$(dirname "$0")/.."
short=false
[ "${1:-}" = "-short" ] && short=true

# A count, not a duration: Go 1.26's fuzz coordinator can report a bare
# "context deadline exceeded" when a -fuzztime duration ends while a worker
# is busy (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME=${FUZZTIME:-250000x}

# The store tests start real servers: install what is missing (Debian
# packages, with sudo when not root), and make a missing server a failure
# rather than a skip.
missing=()
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
{ command -v mariadbd || test -x /usr/sbin/mariadbd; } >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server) # the MySQL store's tests
command -v chromium >/dev/null 2>&1 || missing+=(chromium) # the demo's browser tests
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus) # scrapes the demo's -metrics page
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing the servers the tests start: ${missing[*]} (Debian packages)"
	sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export SESSIONGEN_REQUIRE_MEMCACHED=1 SESSIONGEN_REQUIRE_REDIS=1 SESSIONGEN_REQUIRE_POSTGRES=1 SESSIONGEN_REQUIRE_MONGO=1 SESSIONGEN_REQUIRE_MYSQL=1 SESSIONGEN_REQUIRE_BROWSER=1 SESSIONGEN_REQUIRE_PROMETHEUS=1
# The MongoDB store's tests run against FerretDB, built once from the Go
# module proxy into ~/.cache (about 2 minutes the first time).
echo "FerretDB for the MongoDB store's tests: scripts/ferretdb.sh"
SESSIONGEN_FERRETDB=$(scripts/ferretdb.sh)
export SESSIONGEN_FERRETDB
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

step() { printf '\n== %s\n' "$*"; }

if $short; then
	step "go vet"
	go vet ./... && (cd testdata && go vet ./...)
	step "go test -short"
	go test -short -count=1 ./... && (cd testdata && go test -short -count=1 ./...)
	(cd examples/frameworks && go test -short -count=1 ./...)
	step "short checks passed (scripts/test.sh without -short runs everything)"
	exit 0
fi

step "gofmt"
unformatted=$(git ls-files -co --exclude-standard '*.go' | xargs gofmt -l)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "static rules (crypto/rand only, MACs by hmac.Equal, no compact ints)"
# IDs and everything else in the runtime draw randomness from crypto/rand only.
if git grep -n '"math/rand' -- 'runtime/*.go' ':!*_test.go'; then
	echo "math/rand in the runtime: use crypto/rand"; exit 1
fi
# MACs are compared with hmac.Equal only, never == or bytes.Equal.
if grep -nE '==|!=|bytes\.Equal' runtime/cookie.go | grep -E 'mac|sig|want|got' | grep -v 'len('; then
	echo "a MAC compared without hmac.Equal in runtime/cookie.go"; exit 1
fi
grep -q 'hmac.Equal' runtime/cookie.go || { echo "runtime/cookie.go no longer uses hmac.Equal"; exit 1; }
# Compact ints change the types seen through interfaces; never turn them on.
if git grep -n 'UseCompactInts' -- runtime generator templates; then
	echo "UseCompactInts in the codec"; exit 1
fi

step "go.mod and go.sum tidy (go mod tidy -diff prints nothing)"
go mod tidy -diff && (cd testdata && go mod tidy -diff) && (cd bench && go mod tidy -diff)
(cd adapters/gin && go mod tidy -diff) && (cd examples/frameworks && go mod tidy -diff)

step "go vet"
go vet ./...
(cd testdata && go vet ./...)
(cd bench && go vet ./...)
(cd adapters/gin && go vet ./...)
(cd examples/frameworks && go vet ./...)

step "staticcheck"
go run "$STATICCHECK" ./...
(cd testdata && go run "$STATICCHECK" ./...)
(cd bench && go run "$STATICCHECK" ./...)
(cd adapters/gin && go run "$STATICCHECK" ./...)
(cd examples/frameworks && go run "$STATICCHECK" ./...)

step "generated files are fresh (go generate ./... changes nothing)"
snapshot() { git ls-files -co --exclude-standard | grep -E '\.go$|go\.(mod|sum)$' | sort | xargs sha256sum; }
before=$(snapshot)
go generate ./...
(cd testdata && go generate ./...)
(cd bench && go generate ./...)
(cd examples/frameworks && go generate ./...)
if [ "$before" != "$(snapshot)" ]; then
	echo "go generate changed files: run it and commit the result"; git status --short; exit 1
fi
if [ "${CI:-}" = true ]; then
	git diff --exit-code # a clean checkout must be exactly what go generate writes
fi

step "go test -race"
go test -race -count=1 ./...
(cd testdata && go test -race -count=1 ./...)
(cd adapters/gin && go test -race -count=1 ./...)
(cd examples/frameworks && go test -race -count=1 ./...)

step "benchmarks run (once each; scripts/bench.sh measures)"
(cd bench && go test -run '^$' -bench . -benchtime 1x . | grep -E '^(ok|FAIL)')

step "allocation guards (without -race, which changes the counts)"
go test -count=1 -run 'TestAllocationGuards' -v ./runtime | grep -E 'allocations|^(ok|FAIL|---)'


step "fuzz ($FUZZTIME each, under a 3 GB address-space limit)"
# 3 GB, not 2: Go's fuzz coordinator maps 100 MB per worker on top of the runtime's
# reservations. Every allocation bomb among the hostile inputs asks for 4 GiB or more.
fuzz() { # module directory, package, target
	(cd "$1" && ulimit -v 3000000 && go test -run '^$' -fuzz "^$3\$" -fuzztime "$FUZZTIME" "$2")
}
fuzz . ./runtime FuzzCheckRecord
fuzz . ./runtime FuzzVerifyCookie
fuzz . ./runtime FuzzParseCookie
fuzz . ./runtime FuzzDecodeIndex
fuzz . ./runtime/internal/seal FuzzOpen
fuzz testdata ./alltypes FuzzDecodeRecord
fuzz testdata ./alltypes FuzzDecodeMsgpack

step "all checks passed"
