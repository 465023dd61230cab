package servers

import (
	"path/filepath"
	"testing"
)

// StoreURLs starts a server of every kind the demo's -store flag offers
// and returns their URLs, as internal/storeurl opens them: memory:,
// memcached, Redis, PostgreSQL, MariaDB, FerretDB for MongoDB, a SQLite
// file in a temporary directory, and cookie:. The servers stop when tb
// ends.
func StoreURLs(tb testing.TB) []string {
	mc, rd, pg, mg, my := StartMemcached(tb), StartRedis(tb), StartPostgres(tb), StartFerretDB(tb), StartMySQL(tb)
	return []string{
		"memory:", "memcached://" + mc.Addr, rd.URL(), pg.DSN(), my.URL(), mg.URI("sessiongen"),
		"sqlite:" + filepath.Join(tb.TempDir(), "sessions.db"), "cookie:",
	}
}
