package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkReadsUnderWrites: loads from every goroutine (RunParallel, 8
// per core) while one writer rewrites another session as fast as it can:
// loads/s is the read throughput, write-p99-µs the writer's latency.
func BenchmarkReadsUnderWrites(b *testing.B) {
	store, err := sqlite.New(filepath.Join(b.TempDir(), "sessions.db"), sqlite.WithPruneInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	const keys = 64
	for i := range keys {
		if _, err := store.Save(ctx, "r"+strconv.Itoa(i), storebench.Record, 0, exp); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := store.Save(ctx, "w", storebench.Record, 0, exp); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan []time.Duration)
	go func() {
		var lat []time.Duration
		_, v, _ := store.Load(ctx, "w")
		for {
			select {
			case <-stop:
				done <- lat
				return
			default:
			}
			start := time.Now()
			if _, err := store.Save(ctx, "w", storebench.Record, v, exp); err != nil {
				b.Error(err)
			}
			lat = append(lat, time.Since(start))
			_, v, _ = store.Load(ctx, "w")
		}
	}()
	b.SetParallelism(8)
	b.ResetTimer()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := store.Load(ctx, "r"+strconv.Itoa(i%keys)); err != nil {
				b.Error(err)
			}
			i++
			n.Add(1)
		}
	})
	b.StopTimer()
	close(stop)
	lat := <-done
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "write-p99-µs")
	}
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "loads/s")
}
