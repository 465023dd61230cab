// Package storetest is what every sessiongen store must do, as test
// suites a store's own tests run against its real server. Every store in
// this module runs them all; so can yours:
//
//	func TestMyStore(t *testing.T) {
//		newStore := func(t *testing.T) runtime.Store { return newMyStore(t) }
//		storetest.Run(t, newStore)            // the Store contract
//		storetest.RunLostUpdates(t, newStore) // overlapping requests, two managers
//		storetest.RunOwners(t, newStore)      // per-owner listing and logout
//		// faults, with hooks into your server:
//		storetest.Outage(t, newStore(t), stopServer, startServer)
//		storetest.Restarts(t, func() runtime.Store { return newMyStore(t) }, restartServer)
//		storetest.Paused(t, newStore(t), timeout, pauseServer, resumeServer)
//		storetest.Garbage(t, newStore(t), putRaw)
//	}
//
// Run is the contract of the Store methods: found and not found,
// create-only saves, compare-and-swap, touch, delete, expiry and
// concurrent writers. The others drive generated session types through the
// middleware, as an application does: RunLostUpdates holds that no update
// is lost when requests of one visitor overlap, through one manager and
// through two sharing the store (where only its compare-and-swap keeps
// writers apart), and that a logout is never undone; RunOwners, that an
// owner's sessions are listed and ended across managers; Outage,
// Restarts, Paused and Garbage, that an outage is a 503 that keeps the
// cookie, a restart logs no one out, a paused server answers within the
// timeout, and a hostile record is a fresh session.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// Run runs the contract against stores made by newStore, one per subtest.
// The expiry tests wait about 2.5 seconds (memcached counts whole
// seconds); -short skips them.
func Run(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, runtime.Store)
	}{
		{"LoadMissing", loadMissing},
		{"CreateAndLoad", createAndLoad},
		{"CreateNeverOverwrites", createNeverOverwrites},
		{"CompareAndSwap", compareAndSwap},
		{"SaveReturnsItsVersion", saveReturnsItsVersion},
		{"TouchKeepsVersion", touchKeepsVersion},
		{"Delete", deleteRecord},
		{"NoReferenceKept", noReferenceKept},
		{"BinarySafe", binarySafe},
		{"ConcurrentWriters", concurrentWriters},
		{"Expiry", expiry},
		{"TouchExtends", touchExtends},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, newStore(t)) })
	}
}

var ctx = context.Background()

func key(t *testing.T) string {
	return fmt.Sprintf("contract-%s-%d", t.Name(), time.Now().UnixNano())[:40]
}

func hour() time.Time { return time.Now().Add(time.Hour) }

// create writes a new record for a test's setup, failing the test if the
// store refuses.
func create(t *testing.T, s runtime.Store, k string, rec []byte, expiry time.Time) {
	t.Helper()
	if _, err := s.Save(ctx, k, rec, 0, expiry); err != nil {
		t.Fatalf("setup: creating %s: %v", k, err)
	}
}

// load reads a record for a test, failing the test if it is not there.
func load(t *testing.T, s runtime.Store, k string) ([]byte, uint64) {
	t.Helper()
	rec, v, err := s.Load(ctx, k)
	if err != nil {
		t.Fatalf("loading %s: %v", k, err)
	}
	return rec, v
}

func loadMissing(t *testing.T, s runtime.Store) {
	if _, _, err := s.Load(ctx, key(t)); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Load of a missing key: %v, want ErrNotFound", err)
	}
}

func createAndLoad(t *testing.T, s runtime.Store) {
	k := key(t)
	if _, err := s.Save(ctx, k, []byte("v1"), 0, hour()); err != nil {
		t.Fatal(err)
	}
	rec, v, err := s.Load(ctx, k)
	if err != nil || string(rec) != "v1" || v == 0 {
		t.Fatalf("Load = %q, version %d, %v", rec, v, err)
	}
}

func createNeverOverwrites(t *testing.T, s runtime.Store) {
	k := key(t)
	create(t, s, k, []byte("first"), hour())
	if _, err := s.Save(ctx, k, []byte("second"), 0, hour()); !errors.Is(err, runtime.ErrConflict) {
		t.Fatalf("creating an existing record: %v, want ErrConflict", err)
	}
	if rec, _ := load(t, s, k); string(rec) != "first" {
		t.Fatalf("record is %q, want it untouched", rec)
	}
}

// saveReturnsItsVersion: the version a create or a compare-and-swap
// returns is the one Load then returns, and the next compare-and-swap at
// it succeeds with no load in between; 0 means the store cannot tell
// (then Load tells). A failed save returns 0.
func saveReturnsItsVersion(t *testing.T, s runtime.Store) {
	k := key(t)
	v, err := s.Save(ctx, k, []byte("a"), 0, hour())
	if err != nil {
		t.Fatal(err)
	}
	for i, next := range []string{"b", "c", "d"} {
		_, loaded := load(t, s, k)
		if v != 0 && v != loaded {
			t.Fatalf("write %d returned version %d, Load returns %d", i, v, loaded)
		}
		if v == 0 {
			v = loaded
		}
		prev := v
		if v, err = s.Save(ctx, k, []byte(next), v, hour()); err != nil {
			t.Fatalf("compare-and-swap at the version the last write returned: %v", err)
		}
		if v == prev {
			t.Fatalf("write %d returned the version it replaced, %d", i+1, v)
		}
	}
	if rec, _ := load(t, s, k); string(rec) != "d" {
		t.Fatalf("record is %q, want d", rec)
	}
	if v, err := s.Save(ctx, k, []byte("e"), 0, hour()); err == nil || v != 0 {
		t.Fatalf("a create over a live record returned version %d, %v; want 0 and ErrConflict", v, err)
	}
}

func compareAndSwap(t *testing.T, s runtime.Store) {
	k := key(t)
	create(t, s, k, []byte("a"), hour())
	_, v1 := load(t, s, k)
	if _, err := s.Save(ctx, k, []byte("b"), v1, hour()); err != nil {
		t.Fatalf("CAS with the current version: %v", err)
	}
	_, v2 := load(t, s, k)
	if v2 == v1 {
		t.Fatal("the version did not change on a write")
	}
	if _, err := s.Save(ctx, k, []byte("c"), v1, hour()); !errors.Is(err, runtime.ErrConflict) {
		t.Fatalf("CAS with a stale version: %v, want ErrConflict", err)
	}
	if rec, _ := load(t, s, k); string(rec) != "b" {
		t.Fatalf("record is %q after a failed CAS, want b", rec)
	}
}

func touchKeepsVersion(t *testing.T, s runtime.Store) {
	k := key(t)
	create(t, s, k, []byte("a"), hour())
	_, v1 := load(t, s, k)
	if err := s.Touch(ctx, k, hour()); err != nil {
		t.Fatal(err)
	}
	if rec, v2 := load(t, s, k); v2 != v1 || string(rec) != "a" {
		t.Fatalf("after Touch: %q version %d, want a and %d", rec, v2, v1)
	}
	if _, err := s.Save(ctx, k, []byte("b"), v1, hour()); err != nil {
		t.Fatalf("CAS after a Touch: %v (a touch must not cause conflicts)", err)
	}
	if err := s.Touch(ctx, key(t)+"x", hour()); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Touch of a missing key: %v, want ErrNotFound", err)
	}
}

func deleteRecord(t *testing.T, s runtime.Store) {
	k := key(t)
	create(t, s, k, []byte("a"), hour())
	_, v := load(t, s, k)
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("deleting a missing record: %v, want nil", err)
	}
	if _, _, err := s.Load(ctx, k); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Load after Delete: %v", err)
	}
	if _, err := s.Save(ctx, k, []byte("b"), v, hour()); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("CAS after Delete: %v, want ErrNotFound (never re-create a deleted session)", err)
	}
	if _, _, err := s.Load(ctx, k); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("a CAS after Delete re-created the record: %v", err)
	}
}

func noReferenceKept(t *testing.T, s runtime.Store) {
	k := key(t)
	buf := []byte("original")
	create(t, s, k, buf, hour())
	copy(buf, "CHANGED!")
	if rec, _ := load(t, s, k); string(rec) != "original" {
		t.Fatalf("record is %q: the store kept the caller's buffer", rec)
	}
}

// binarySafe stores every byte value, NUL and invalid UTF-8 included:
// records are msgpack, not text.
func binarySafe(t *testing.T, s runtime.Store) {
	k := key(t)
	rec := make([]byte, 512)
	for i := range rec {
		rec[i] = byte(255 - i%256)
	}
	create(t, s, k, rec, hour())
	if got, _ := load(t, s, k); !bytes.Equal(got, rec) {
		t.Fatalf("a record of every byte value read back as %d different bytes", len(got))
	}
}

// concurrentWriters increments a counter from many goroutines with
// load-and-CAS loops: with a real compare-and-swap, no increment is lost.
func concurrentWriters(t *testing.T, s runtime.Store) {
	k := key(t)
	create(t, s, k, []byte("0"), hour())
	const writers, each = 8, 25
	var wg sync.WaitGroup
	var conflicts sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					rec, v, err := s.Load(ctx, k)
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(rec))
					_, err = s.Save(ctx, k, []byte(strconv.Itoa(n+1)), v, hour())
					if err == nil {
						break
					}
					if !errors.Is(err, runtime.ErrConflict) {
						t.Error(err)
						return
					}
					conflicts.Store(w, true)
				}
			}
		}()
	}
	wg.Wait()
	if rec, _ := load(t, s, k); string(rec) != strconv.Itoa(writers*each) {
		t.Fatalf("counter is %s after %d increments: updates were lost", rec, writers*each)
	}
}

func expiry(t *testing.T, s runtime.Store) {
	if testing.Short() {
		t.Skip("waits 2.5 s")
	}
	k := key(t)
	create(t, s, k, []byte("a"), time.Now().Add(time.Second))
	if _, _, err := s.Load(ctx, k); err != nil {
		t.Fatalf("Load before expiry: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, _, err := s.Load(ctx, k); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Load after expiry: %v, want ErrNotFound", err)
	}
}

func touchExtends(t *testing.T, s runtime.Store) {
	if testing.Short() {
		t.Skip("waits 2.5 s")
	}
	k := key(t)
	create(t, s, k, []byte("a"), time.Now().Add(time.Second))
	if err := s.Touch(ctx, k, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if rec, _, err := s.Load(ctx, k); err != nil || !bytes.Equal(rec, []byte("a")) {
		t.Fatalf("Load after a Touch past the first expiry: %q, %v", rec, err)
	}
}
