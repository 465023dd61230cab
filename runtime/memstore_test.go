package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

func TestMemoryStoreKeepsAPrivateCopy(t *testing.T) {
	s := NewMemoryStore()
	defer s.Close()
	buf := []byte("record")
	if _, err := s.Save(ctx, "k", buf, 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXX")
	got, _, err := s.Load(ctx, "k")
	if err != nil || string(got) != "record" {
		t.Fatalf("Load = %q, %v; the caller's buffer leaked into the store", got, err)
	}
}

func TestMemoryStoreCompareAndSwap(t *testing.T) {
	s := NewMemoryStore()
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	if _, err := s.Save(ctx, "k", []byte("a"), 0, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, "k", []byte("b"), 0, exp); !errors.Is(err, ErrConflict) {
		t.Fatalf("creating an existing record: %v, want ErrConflict", err)
	}
	_, v1, _ := s.Load(ctx, "k")
	if v1 == 0 {
		t.Fatal("version 0 for a stored record")
	}
	if _, err := s.Save(ctx, "k", []byte("c"), v1, exp); err != nil {
		t.Fatalf("CAS with the current version: %v", err)
	}
	if _, err := s.Save(ctx, "k", []byte("d"), v1, exp); !errors.Is(err, ErrConflict) {
		t.Fatalf("CAS with a stale version: %v, want ErrConflict", err)
	}
	_, v2, _ := s.Load(ctx, "k")
	if err := s.Touch(ctx, "k", exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, v3, _ := s.Load(ctx, "k"); v3 != v2 {
		t.Fatalf("Touch changed the version %d → %d", v2, v3)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatalf("deleting a missing record: %v, want nil", err)
	}
	if _, err := s.Save(ctx, "k", []byte("e"), v2, exp); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CAS on a deleted record: %v, want ErrNotFound (never re-create)", err)
	}
	if err := s.Touch(ctx, "k", exp); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Touch on a deleted record: %v, want ErrNotFound", err)
	}
}

func TestMemoryStoreExpiresOnReadAndBySweep(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := NewMemoryStore(withClock(func() time.Time { return now }), WithSweepInterval(time.Hour))
	defer s.Close()
	for i := range 10 {
		s.Save(ctx, fmt.Sprint(i), []byte("x"), 0, now.Add(time.Minute))
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := s.Load(ctx, "3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired record loaded: %v", err)
	}
	if _, err := s.Save(ctx, "3", []byte("y"), 0, now.Add(time.Minute)); err != nil {
		t.Fatalf("creating over an expired record: %v", err)
	}
	s.sweep()
	if n := s.Len(); n != 1 {
		t.Fatalf("%d records after the sweep, want 1", n)
	}
}

func TestMemoryStoreIsBounded(t *testing.T) {
	s := NewMemoryStore(WithMaxEntries(128))
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				s.Save(ctx, fmt.Sprint(g, "-", i), []byte("x"), 0, time.Now().Add(time.Hour))
			}
		}()
	}
	wg.Wait()
	if n := s.Len(); n > 128 {
		t.Fatalf("%d records held, bound is 128", n)
	}
	if s.Evictions() < 16000-128 {
		t.Fatalf("%d evictions counted, want at least %d", s.Evictions(), 16000-128)
	}
}

func TestMemoryStoreCloseStopsTheSweeper(t *testing.T) {
	s := NewMemoryStore(WithSweepInterval(time.Millisecond))
	s.Close()
	s.Close() // idempotent
	select {
	case <-s.done:
	default:
		t.Fatal("sweeper still running after Close")
	}
	if _, err := s.Save(ctx, "k", []byte("x"), 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("store unusable after Close: %v", err)
	}
}

// BenchmarkMemoryStoreFull creates records in a store at its bound: every
// insert evicts one, in constant time.
func BenchmarkMemoryStoreFull(b *testing.B) {
	s := NewMemoryStore(WithMaxEntries(64 * 1024))
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	for i := range 64 * 1024 {
		s.Save(ctx, fmt.Sprint("fill", i), []byte("x"), 0, exp)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.Save(ctx, fmt.Sprint("k", i), []byte("x"), 0, exp)
	}
}

func TestMemoryStoreEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := NewMemoryStore(withClock(func() time.Time { return now }), WithMaxEntries(16*memShards))
	defer s.Close()
	for i := range 64 * memShards { // four times the bound: every shard full
		s.Save(ctx, fmt.Sprint(i), []byte("x"), 0, now.Add(time.Minute))
	}
	if n := s.Len(); n > 16*memShards {
		t.Fatalf("%d records, bound %d", n, 16*memShards)
	}
	evicted := s.Evictions()
	now = now.Add(2 * time.Minute) // everything stored has expired
	// Fewer new records than a shard holds: any 8 sampled include an
	// expired one, so no live record needs to go.
	for i := range memShards {
		s.Save(ctx, fmt.Sprint("new", i), []byte("x"), 0, now.Add(time.Minute))
	}
	if n := s.Evictions() - evicted; n != 0 {
		t.Fatalf("%d live records evicted while expired ones were there to drop", n)
	}
}

// BenchmarkMemoryStoreMillion fills the store with 1,000,000 records of
// the workload's size (240 bytes) and reports the heap held per session
// and the longest pause of a sweep that expires half of them.
func BenchmarkMemoryStoreMillion(b *testing.B) {
	const n = 1_000_000
	rec := make([]byte, 240)
	for range b.N {
		now := time.Unix(1_000_000, 0)
		var before, after goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&before)
		s := NewMemoryStore(withClock(func() time.Time { return now }), WithSweepInterval(time.Hour), WithMaxEntries(2*n))
		for i := range n {
			ttl := time.Hour
			if i%2 == 0 {
				ttl = time.Minute
			}
			s.Save(ctx, storeKey(fmt.Sprint(i)), rec, 0, now.Add(ttl))
		}
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		now = now.Add(2 * time.Minute)
		s.sweep()
		if s.Len() != n/2 {
			b.Fatalf("%d records after the sweep, want %d", s.Len(), n/2)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/session")
		b.ReportMetric(float64(s.LongestSweepPause().Microseconds()), "µs-longest-pause")
		s.Close()
	}
}

// TestMemoryStoreKeysOfEveryLength: keys are held inline up to 47 bytes
// and by their SHA-256 beyond; no two keys may share a record.
func TestMemoryStoreKeysOfEveryLength(t *testing.T) {
	s := NewMemoryStore()
	defer s.Close()
	var keys []string
	for _, n := range []int{0, 1, 43, 46, 47, 48, 49, 200} {
		for _, c := range "ab" {
			keys = append(keys, strings.Repeat(string(c), n))
		}
	}
	keys = append(keys, strings.Repeat("a", 47)+"\x00", strings.Repeat("a", 46)+"\x00")
	for i, k := range keys {
		if _, err := s.Save(ctx, k, []byte{byte(i)}, 0, time.Now().Add(time.Hour)); err != nil && k != "" {
			t.Fatalf("save %q: %v", k, err)
		}
	}
	for i, k := range keys {
		rec, _, err := s.Load(ctx, k)
		if len(k) > 0 && (err != nil || len(rec) != 1 || rec[0] != byte(i)) {
			t.Errorf("key of %d bytes (%q...): got %v, %v; want its own record", len(k), k[:min(len(k), 3)], rec, err)
		}
	}
}

// TestMemoryStoreEvictsProbationFirst: a flood of sessions written once
// and never used again (12,000 anonymous visitors) evicts its own kind,
// not the 1,000 signed-in users who came back once and then went idle,
// though theirs expire sooner. Eviction samples 8 records of a shard, so a
// user goes only when all 8 sampled are users: measured 979 to 994 of
// 1,000 kept over six runs. (Before, 999 of the 1,000 were evicted.)
func TestMemoryStoreEvictsProbationFirst(t *testing.T) {
	s := NewMemoryStore(WithMaxEntries(4000))
	defer s.Close()
	now := time.Now()
	rec := []byte("x")
	for i := range 1000 {
		key := fmt.Sprintf("user-%d", i)
		if _, err := s.Save(ctx, key, rec, 0, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Load(ctx, key); err != nil { // the user came back once
			t.Fatal(err)
		}
	}
	for i := range 12000 {
		if _, err := s.Save(ctx, fmt.Sprintf("anon-%d", i), rec, 0, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range 1000 {
		if _, _, err := s.Load(ctx, fmt.Sprintf("user-%d", i)); err == nil {
			kept++
		}
	}
	t.Logf("%d of 1000 signed-in users kept through 12,000 anonymous writes (%d evictions)", kept, s.Evictions())
	if kept < 950 {
		t.Fatalf("%d of 1000 signed-in users kept, want at least 950", kept)
	}
}
