package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/sessiongen/sessiongen/internal/storebench"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/sqlite"
)

// BenchmarkSQLite times the A-D scenarios (A read, B write, C anonymous,
// D login) through the middleware on a
// SQLite file, next to the in-memory store in the same run.
func BenchmarkSQLite(b *testing.B) {
	store, err := sqlite.New(filepath.Join(b.TempDir(), "sessions.db"), sqlite.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.Run("sqlite", func(b *testing.B) { storebench.Run(b, store) })
	b.Run("sqlite-owned", func(b *testing.B) { storebench.RunOwned(b, store) }) // with an owner field
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	b.Run("memory", func(b *testing.B) { storebench.Run(b, mem) })
	b.Run("memory-owned", func(b *testing.B) { storebench.RunOwned(b, mem) })
}
