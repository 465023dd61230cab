package storetest

import (
	"bytes"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// RunExpiredReports checks a store whose sweeper or pruner reports what
// it removes as expired (the memory store, the SQL stores): two instances
// (two stores from newStore, each with a manager), one whose sessions
// expire after a minute and one after an hour; prune removes, as the
// store's own pruner would, what expired at now, and runs on both
// instances at once. Every session of the first is reported
// EventExpired exactly once, with its owner; none of the second.
func RunExpiredReports(t *testing.T, newStore func(t *testing.T) runtime.Store, prune func(t *testing.T, store runtime.Store, now time.Time)) {
	rec := &events{}
	manager := func(store runtime.Store, idle time.Duration) *testsession.AccountManager {
		m, err := testsession.NewAccountManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("e"), 32)}, IdleTimeout: idle, OnEvent: rec.add})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	sa, sb := newStore(t), newStore(t)
	a, b := manager(sa, time.Minute), manager(sb, time.Hour)
	uid := time.Now().UnixNano()
	for i := range 3 {
		accountLogin(t, a, uid, "short"+strconv.Itoa(i))
	}
	created := count(rec.take(), runtime.EventCreated)
	short := map[string]bool{}
	for k := range created {
		short[k] = true
	}
	for i := range 2 {
		accountLogin(t, b, uid+1, "long"+strconv.Itoa(i))
	}
	rec.take()
	if len(short) != 3 {
		t.Fatalf("3 logins: %d sessions created", len(short))
	}
	later := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	for _, s := range []runtime.Store{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prune(t, s, later)
		}()
	}
	wg.Wait()
	prune(t, sa, later) // what one instance skipped while the other pruned
	evs := rec.take()
	expired := count(evs, runtime.EventExpired)
	if len(evs) != 3 || len(expired) != 3 {
		t.Fatalf("3 sessions expired, pruned by two instances at once: events %s, want 3 expired", describe(evs))
	}
	for _, e := range evs {
		if !short[e.Key] || e.Owner != strconv.FormatInt(uid, 10) || e.Request != nil {
			t.Fatalf("event %s %.8s… owner %q: want one of the expired sessions, owner %d, no request", e.Kind, e.Key, e.Owner, uid)
		}
	}
}
