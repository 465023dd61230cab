package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers "sqlite3"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/sessiongen/sessiongen/internal/servers"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// The client choices of the Redis and SQLite stores, measured on the
// round trips the stores make (scenario A: a load; B: a load and a
// compare-and-swap; D: a create), on a 200-byte record.

const casLua = `
local v = redis.call('GETRANGE', KEYS[1], 0, 7)
if v == '' then return 0 end
if v ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 1
`

var record = make([]byte, 200)

func versioned(v uint64) []byte { return append(binary.BigEndian.AppendUint64(nil, v), record...) }

// BenchmarkRedisClients: go-redis v9 against rueidis.
func BenchmarkRedisClients(b *testing.B) {
	srv := servers.StartRedis(b)
	ctx := context.Background()
	gr := goredis.NewClient(&goredis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer gr.Close()
	ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ru.Close()
	grCAS := goredis.NewScript(casLua)
	ruCAS := rueidis.NewLuaScript(casLua)
	gr.Set(ctx, "k", versioned(1), time.Hour)
	exp := func() string { return strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10) }
	b.Run("go-redis/A-get", func(b *testing.B) {
		for range b.N {
			if _, err := gr.Get(ctx, "k").Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rueidis/A-get", func(b *testing.B) {
		for range b.N {
			if _, err := ru.Do(ctx, ru.B().Get().Key("k").Build()).AsBytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis/B-get+cas", func(b *testing.B) {
		for i := range b.N {
			v, err := gr.Get(ctx, "k").Bytes()
			if err != nil {
				b.Fatal(err)
			}
			if n, err := grCAS.Run(ctx, gr, []string{"k"}, v[:8], versioned(uint64(i)+2), exp()).Int(); err != nil || n != 1 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("rueidis/B-get+cas", func(b *testing.B) {
		for i := range b.N {
			v, err := ru.Do(ctx, ru.B().Get().Key("k").Build()).AsBytes()
			if err != nil {
				b.Fatal(err)
			}
			if n, err := ruCAS.Exec(ctx, ru, []string{"k"}, []string{string(v[:8]), string(versioned(uint64(i) + 2)), exp()}).AsInt64(); err != nil || n != 1 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("go-redis/D-set-nx", func(b *testing.B) {
		for range b.N {
			if err := gr.Do(ctx, "set", rand.Text(), versioned(1), "nx", "pxat", exp()).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rueidis/D-set-nx", func(b *testing.B) {
		for range b.N {
			if err := ru.Do(ctx, ru.B().Arbitrary("SET").Keys(rand.Text()).Args(string(versioned(1)), "NX", "PXAT", exp()).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSQLiteDrivers: modernc.org/sqlite (C translated to Go) against
// ncruces/go-sqlite3 (SQLite compiled to WebAssembly), both pure Go, both
// through database/sql, WAL and synchronous=NORMAL, the store's statements.
func BenchmarkSQLiteDrivers(b *testing.B) {
	for _, driver := range []string{"sqlite", "sqlite3"} {
		name := map[string]string{"sqlite": "modernc", "sqlite3": "ncruces"}[driver]
		db, err := sql.Open(driver, "file:"+filepath.Join(b.TempDir(), "s.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`CREATE TABLE s (key TEXT PRIMARY KEY, data BLOB NOT NULL, version INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX s_exp ON s (expires_at)`); err != nil {
			b.Fatal(err)
		}
		hour := func() int64 { return time.Now().Add(time.Hour).UnixMilli() }
		db.Exec(`INSERT INTO s VALUES ('k', ?, 1, ?)`, record, hour())
		var data []byte
		var version int64
		load := func() {
			if err := db.QueryRow(`SELECT data, version FROM s WHERE key = ?1 AND expires_at > ?2`, "k", time.Now().UnixMilli()).Scan(&data, &version); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name+"/A-select", func(b *testing.B) {
			for range b.N {
				load()
			}
		})
		b.Run(name+"/B-select+update", func(b *testing.B) {
			for range b.N {
				load()
				r, err := db.Exec(`UPDATE s SET data = ?2, version = ?3, expires_at = ?4 WHERE key = ?1 AND version = ?5 AND expires_at > ?6`, "k", record, version+1, hour(), version, time.Now().UnixMilli())
				if n, _ := r.RowsAffected(); err != nil || n != 1 {
					b.Fatal(n, err)
				}
			}
		})
		b.Run(name+"/D-insert", func(b *testing.B) {
			for range b.N {
				if _, err := db.Exec(`INSERT INTO s VALUES (?1, ?2, 1, ?3) ON CONFLICT (key) DO NOTHING`, rand.Text(), record, hour()); err != nil {
					b.Fatal(err)
				}
			}
		})
		db.Close()
	}
}
