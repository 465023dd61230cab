#!/usr/bin/env bash
# Builds FerretDB (a MongoDB wire-protocol server, Apache 2.0) from the Go
# module proxy for the MongoDB store's tests, once, into a cache, and
# prints the binary's path.
#
# FerretDB 1.x applies an update by reading the document and writing it
# back by _id without checking the filter again, so an update filtered on
# {_id, version} is not atomic there: concurrent compare-and-swaps all
# "succeed" (MongoDB guarantees single-document atomicity; FerretDB 1.x
# does not). The test build runs FerretDB's write commands (insert,
# update, delete, findAndModify) one at a time, which gives them the
# atomicity MongoDB has. Stock FerretDB 1.x cannot give any MongoDB
# session store compare-and-swap.
#
# Usage: scripts/ferretdb.sh   (FERRETDB_CACHE overrides the cache directory)
set -euo pipefail
version=v1.24.2
cache=${FERRETDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sessiongen/ferretdb-$version-serialized}
bin=$cache/ferretdb
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache"
src=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
# FerretDB panics at start without its version file.
echo "$version" > "$work/build/version/version.txt"
cat > "$work/internal/handler/serialize_writes.go" <<'GO'
package handler

import (
	"context"
	"sync"

	"github.com/FerretDB/wire"
)

// writes makes the write commands run one at a time, so that an update
// filtered on a version is atomic, as in MongoDB.
var writes sync.Mutex

func (h *Handler) serializeWrites() {
	for _, name := range []string{"insert", "update", "delete", "findAndModify", "findandmodify"} {
		c, ok := h.commands[name]
		if !ok {
			continue
		}
		run := c.Handler
		c.Handler = func(ctx context.Context, msg *wire.OpMsg) (*wire.OpMsg, error) {
			writes.Lock()
			defer writes.Unlock()
			return run(ctx, msg)
		}
	}
}
GO
sed -i 's/^\th\.initCommands()$/\th.initCommands()\n\th.serializeWrites()/' "$work/internal/handler/handler.go"
grep -q 'h.serializeWrites()' "$work/internal/handler/handler.go" || { echo "ferretdb.sh: could not patch handler.go" >&2; exit 1; }
(cd "$work" && GOFLAGS=-mod=mod go build -trimpath -tags ferretdb_no_postgresql -o "$bin.tmp" ./cmd/ferretdb)
mv "$bin.tmp" "$bin"
echo "$bin"
