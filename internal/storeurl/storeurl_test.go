package storeurl

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
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
	_, _, _, err := Open(ctx, "mysql://root:hunter2@db/x")
	if err == nil || !strings.Contains(err.Error(), "unknown scheme") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unknown scheme: %v", err)
	}
}
