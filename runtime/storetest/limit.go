package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// runLimit checks Config.MaxSessionsPerOwner under concurrency: 16 logins
// of one owner at once, through two managers sharing the store, with a
// limit of 3, leave exactly 3 live sessions, and Sessions lists exactly
// those; EvictOldest ends the 13 others (each reported once, whether it
// was stored yet or not), RefuseNew
// refuses 13 logins with 409 and stores nothing for them.
func runLimit(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	const logins, limit = 16, 3
	for _, policy := range []runtime.LimitPolicy{runtime.EvictOldest, runtime.RefuseNew} {
		name := map[runtime.LimitPolicy]string{runtime.EvictOldest: "EvictOldest", runtime.RefuseNew: "RefuseNew"}[policy]
		t.Run(name, func(t *testing.T) {
			rec := &events{}
			cfg := runtime.Config{Store: newStore(t), MaxSessionsPerOwner: limit, OverLimit: policy, OnEvent: rec.add}
			a, b := newApp(t, cfg), newApp(t, cfg)
			uid := time.Now().UnixNano()
			codes := make([]int, logins)
			cookies := make([]string, logins)
			var wg sync.WaitGroup
			for i := range logins {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := []*App{a, b}[i%2].Do(fmt.Sprintf("/login?uid=%d&dev=d%d", uid, i), "")
					codes[i], cookies[i] = r.Code, cookieOf(r)
				}()
			}
			wg.Wait()
			ok, refused, live := 0, 0, 0
			for i := range logins {
				switch codes[i] {
				case 200:
					ok++
				case 409:
					refused++
				default:
					t.Fatalf("login %d: %d", i, codes[i])
				}
				if cookies[i] != "" {
					if got, _ := a.Call(t, "/me", cookies[i]); got == fmt.Sprintf("%d d%d", uid, i) {
						live++
					}
				}
			}
			list, err := b.Mgr.Sessions(context.Background(), uid)
			if err != nil {
				t.Fatal(err)
			}
			evs := rec.take()
			created, evicted := count(evs, runtime.EventCreated), count(evs, runtime.EventEvicted)
			t.Logf("%s: %d logins answered 200, %d refused; %d sessions live, %d listed; %d created, %d evicted events",
				name, ok, refused, live, len(list), len(created), len(evicted))
			if live != limit || len(list) != limit {
				t.Fatalf("%d logins at once, limit %d: %d sessions live, %d listed; want %d and %d\nlogs:\n%s%s", logins, limit, live, len(list), limit, limit, a.Logs(), b.Logs())
			}
			switch policy {
			case runtime.RefuseNew:
				if ok != limit || refused != logins-limit || len(created) != limit || len(evicted) != 0 {
					t.Fatalf("RefuseNew: %d succeeded, %d refused, events %s; want %d, %d, %d created", ok, refused, describe(evs), limit, logins-limit, limit)
				}
			case runtime.EvictOldest:
				// A login evicted before its record was stored was never
				// created: 16 logins, each created or evicted or both.
				union := map[string]bool{}
				for k := range created {
					union[k] = true
				}
				for k := range evicted {
					union[k] = true
				}
				if refused != 0 || len(evicted) != logins-limit || len(union) != logins {
					t.Fatalf("EvictOldest: %d refused, events %s; want none refused, %d evicted, %d sessions in all", refused, describe(evs), logins-limit, logins)
				}
				for k := range union {
					if created[k] > 1 || evicted[k] > 1 {
						t.Fatalf("session %.8s…: created %d times, evicted %d", k, created[k], evicted[k])
					}
				}
			}
			// A logout frees its place at once: with RefuseNew, the next
			// login is let in.
			for i := range logins {
				if got, _ := a.Call(t, "/me", cookies[i]); cookies[i] != "" && got == fmt.Sprintf("%d d%d", uid, i) {
					b.Call(t, "/logout", cookies[i])
					break
				}
			}
			if code := a.Do("/login?uid="+strconv.FormatInt(uid, 10)+"&dev=after", "").Code; code != 200 {
				t.Fatalf("a login after a logout freed a place: %d", code)
			}
			if list, err := a.Mgr.Sessions(context.Background(), uid); err != nil || len(list) != limit {
				t.Fatalf("after a logout and a login: %d listed, %v; want %d", len(list), err, limit)
			}
		})
	}
}
