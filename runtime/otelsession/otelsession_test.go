package otelsession_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storeurl"
	"github.com/sessiongen/sessiongen/runtime"
)

// kinds are the stores' names in telemetry, by URL scheme.
var kinds = map[string]string{
	"memory": "memory", "memcached": "memcached", "redis": "redis", "postgres": "postgresql",
	"mysql": "mysql", "mongodb": "mongodb", "sqlite": "sqlite", "cookie": "cookie",
}

// TestTelemetry runs one scripted visit on every store, through two
// instances sharing it, and checks the span tree of each request and the
// metrics after the whole visit, exactly.
func TestTelemetry(t *testing.T) {
	for _, url := range servers.StoreURLs(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			store, _, closeStore, err := storeurl.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			script(t, newRig(t, store, kinds[strings.SplitN(url, ":", 2)[0]]), url == "cookie:")
		})
	}
}

// script is the visit: a login (D), a read (A), a write (B), a request
// that does not use its session (C), two overlapping increments through
// the two instances (one merges), a Regenerate, a logout, and a read with
// the cookie the logout ended.
func script(t *testing.T, r *rig, sealed bool) {
	step := func(name string, want ...string) {
		t.Helper()
		got := r.trees()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: span trees\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Sealed cookies keep no owner index, and nothing to retire.
	index, retire := "\n    sessiongen.index[cas.attempts=1 outcome=ok]", "\n    sessiongen.delete[cas.attempts=1 outcome=ok]"
	if sealed {
		index, retire = "", ""
	}

	_, cookie := r.do(0, "/login", "")
	step("D", "GET /login\n  sessiongen.save[cas.attempts=1 outcome=ok save.merged=false]"+index)

	r.do(0, "/read", cookie)
	step("A", "GET /read\n  sessiongen.load[outcome=ok]")

	_, cookie = r.do(0, "/write?v=x", cookie)
	step("B", "GET /write\n  sessiongen.load[outcome=ok]\n  sessiongen.save[cas.attempts=1 outcome=ok save.merged=false]")

	r.do(0, "/anonymous", cookie)
	step("C", "GET /anonymous")

	if !sealed {
		// The first increment loads, and waits while the second, through
		// the other instance, saves: its compare-and-swap fails, it
		// reloads and merges.
		loaded, resume := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		r.hold = func() {
			if first.CompareAndSwap(false, true) {
				close(loaded)
				<-resume
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.do(0, "/incr", cookie)
		}()
		<-loaded
		r.do(1, "/incr", cookie)
		close(resume)
		<-done
		r.hold = nil
		step("merge",
			"GET /incr\n  sessiongen.load[outcome=ok]\n  sessiongen.save[cas.attempts=2 outcome=ok save.merged=true]\n    sessiongen.load[outcome=ok]",
			"GET /incr\n  sessiongen.load[outcome=ok]\n  sessiongen.save[cas.attempts=1 outcome=ok save.merged=false]")
	}

	_, cookie = r.do(0, "/regenerate", cookie)
	step("Regenerate", "GET /regenerate\n  sessiongen.load[outcome=ok]\n  sessiongen.save[cas.attempts=1 outcome=ok save.merged=false]"+index+retire+"\n  sessiongen.delete[outcome=ok]")

	_, gone := r.do(0, "/logout", cookie)
	step("logout", "GET /logout\n  sessiongen.load[outcome=ok]"+strings.ReplaceAll(retire, "    ", "  ")+"\n  sessiongen.delete[outcome=ok]"+strings.ReplaceAll(index, "    ", "  "))
	if gone != "" {
		t.Errorf("the logout left the cookie %q", gone)
	}

	if !sealed { // a sealed cookie opens as long as it lives: a copy would
		r.do(0, "/read", cookie)
		step("after logout", "GET /read\n  sessiongen.load[outcome=not_found]")
	}

	if leaks := r.leaks(); len(leaks) > 0 || len(r.seen) < 3 {
		t.Errorf("telemetry carries an ID, a cookie or a field value (%d of them checked): %q", len(r.seen), leaks)
	}

	// The metrics, tallied from the script above.
	loads, saves, deletes, indexes, merges := 7, 5, 4, 3, 1 // A, B, 2×2 in the merge, Regenerate, logout; D, B, 2 in the merge, Regenerate
	if sealed {
		loads, saves, deletes, indexes, merges = 4, 3, 2, 0, 0 // no merge, no read after the logout, nothing to retire, no index
	}
	k := r.kind
	want := map[string]int64{
		"sessiongen.store.operation.duration{operation=load,outcome=ok,store=" + k + "}":   int64(loads),
		"sessiongen.store.operation.duration{operation=save,outcome=ok,store=" + k + "}":   int64(saves),
		"sessiongen.store.operation.duration{operation=delete,outcome=ok,store=" + k + "}": int64(deletes),
		"sessiongen.record.size{operation=load,store=" + k + "}":                           int64(loads),
		"sessiongen.record.size{operation=save,store=" + k + "}":                           int64(saves),
		"sessiongen.saves{outcome=ok,store=" + k + "}":                                     int64(saves),
		"sessiongen.session.events{event=created}":                                         1,
		"sessiongen.session.events{event=regenerated}":                                     1,
		"sessiongen.session.events{event=destroyed}":                                       1,
	}
	if !sealed {
		want["sessiongen.store.operation.duration{operation=load,outcome=not_found,store="+k+"}"] = 1
		want["sessiongen.store.operation.duration{operation=index,outcome=ok,store="+k+"}"] = int64(indexes)
		want["sessiongen.save.merges{store="+k+"}"] = int64(merges)
	}
	if ms, ok := r.store.(*runtime.MemoryStore); ok {
		want["sessiongen.memory_store.records{}"] = int64(ms.Len())
	}
	got := r.metrics()
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s = %d, want %d", name, got[name], n)
		}
	}
	for name, n := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %s = %d", name, n)
		}
	}
}
