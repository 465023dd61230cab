package storeurl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime/postgres"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "s.db")
	for _, tc := range []struct{ url, name string }{
		{"memory:", "memory (this process only)"},
		{"", "memory (this process only)"},
		{"memcached://127.0.0.1:1,127.0.0.1:2", "memcached 127.0.0.1:1,127.0.0.1:2"},
		{"redis://user:secret@127.0.0.1:6379/1", "Redis 127.0.0.1:6379"},
		{"sqlite:" + db, "SQLite " + db},
	} {
		s, name, closeFn, err := Open(ctx, tc.url)
		if err != nil || s == nil || name != tc.name {
			t.Errorf("Open(%q) = %q, %v; want %q", tc.url, name, err, tc.name)
			continue
		}
		closeFn()
	}
	_, _, _, err := Open(ctx, "oracle://root:hunter2@db/x")
	if err == nil || !strings.Contains(err.Error(), "unknown scheme") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unknown scheme: %v", err)
	}
}

// TestOpenExistingCreatesNoFile: the inspector's way in does not create
// a SQLite file that is not there.
func TestOpenExistingCreatesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	if _, _, _, err := OpenExisting(context.Background(), "sqlite:"+path); err == nil {
		t.Fatal("OpenExisting opened a SQLite file that does not exist")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the file is there now: %v", err)
	}
}

// TestOpenExistingCreatesNoTable: on a PostgreSQL database without the
// sessions table, the inspector's way in leaves it without one (Open
// creates it).
func TestOpenExistingCreatesNoTable(t *testing.T) {
	srv := servers.StartPostgres(t)
	ctx := context.Background()
	if _, _, closeFn, err := OpenExisting(ctx, srv.DSN()); err == nil {
		closeFn()
	}
	var table *string
	if err := srv.Conn().QueryRow(ctx, "SELECT to_regclass($1)::text", postgres.DefaultTable).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table != nil {
		t.Fatalf("OpenExisting created %s", *table)
	}
}

// TestMySQL: a mysql:// URL opens the MySQL store (creating its table);
// the inspector's way in, on a database without the table, creates none.
func TestMySQL(t *testing.T) {
	srv := servers.StartMySQL(t)
	ctx := context.Background()
	if _, _, closeFn, err := OpenExisting(ctx, srv.URL()); err == nil {
		closeFn()
		t.Fatal("OpenExisting opened a database without the sessions table")
	}
	var n int
	tables := `SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'sessiongen_sessions'`
	if err := srv.DB().QueryRow(tables).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after OpenExisting: %d tables, %v; want none", n, err)
	}
	s, name, closeFn, err := Open(ctx, "mysql://root:@"+srv.Addr+"/"+servers.MySQLDatabase)
	if err != nil || s == nil || name != "MySQL "+srv.Addr {
		t.Fatalf("Open: %q, %v", name, err)
	}
	defer closeFn()
	if err := srv.DB().QueryRow(tables).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after Open: %d tables, %v; want 1", n, err)
	}
}
