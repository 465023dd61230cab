package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

// TestExpiredIsReported: a request that finds its session past its
// Lifetime (the store, on its own clock, still holds it) ends it and
// reports EventExpired, once; a manager without a hook reports nothing
// and behaves the same.
func TestExpiredIsReported(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	defer runtime.SetClock(func() time.Time { return now })()
	var got []runtime.Event
	hook := func(_ context.Context, ev runtime.Event) { got = append(got, ev) }
	e := newEnv(t, runtime.Config{Lifetime: time.Hour, OnEvent: hook}, lifecycleRoutes)
	resp, _ := e.get("/login")
	if len(got) != 1 || got[0].Kind != runtime.EventCreated || got[0].Request == nil || !got[0].At.Equal(now) {
		t.Fatalf("login: events %+v, want one created, at the manager's clock, with its request", got)
	}
	key := got[0].Key
	now = now.Add(61 * time.Minute)
	if _, body := e.get("/whoami"); body != "0  new=true" {
		t.Fatalf("past the lifetime: %q, want no session", body)
	}
	if len(got) != 2 || got[1].Kind != runtime.EventExpired || got[1].Key != key {
		t.Fatalf("past the lifetime: events %+v, want created, then expired under the same key", got)
	}
	e.do(e.bare(), "/whoami", sessionCookie(resp))
	if len(got) != 2 {
		t.Fatalf("the expired cookie again: events %+v, want no more", got)
	}
	if k := runtime.EventKind(9).String(); k != "EventKind(9)" || runtime.EventExpired.String() != "expired" {
		t.Fatalf("names: %q %q", k, runtime.EventExpired)
	}
}

// TestExpiredReportsOnMemory: the memory store's sweeper reports the
// sessions it removes as expired.
func TestExpiredReportsOnMemory(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	storetest.RunExpiredReports(t, func(t *testing.T) runtime.Store {
		s := runtime.NewMemoryStore(runtime.WithClock(now))
		t.Cleanup(func() { s.Close() })
		return s
	}, func(_ *testing.T, s runtime.Store, at time.Time) {
		clock.Store(at.UnixNano())
		runtime.Sweep(s.(*runtime.MemoryStore))
	})
}
