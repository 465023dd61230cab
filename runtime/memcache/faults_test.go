package memcache_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/runtime/memcache"
)

// holdAll makes every /held request of a wait, after its load, until the
// returned release is called; loaded receives one value per held request.
func holdAll(a *app) (loaded chan struct{}, release func()) {
	loaded = make(chan struct{}, 64)
	gate := make(chan struct{})
	a.hold = func() { loaded <- struct{}{}; <-gate }
	return loaded, func() { close(gate) }
}

// TestStalledServerHoldsUpNoOtherSession: with two servers and one of them
// paused (SIGSTOP) while saves of its sessions are under way, the saves of
// sessions on the other server do not wait: their slowest request stays
// far below the store timeout that a blocked one would wait out. The saves
// on the paused server get the error handler's 503.
func TestStalledServerHoldsUpNoOtherSession(t *testing.T) {
	a, b := servers.StartMemcached(t), servers.StartMemcached(t)
	const timeout = time.Second
	store, err := memcache.NewWithOptions([]string{a.Addr, b.Addr}, memcache.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	ap := newApp(t, store)
	// 96 sessions, sorted by the server that holds them. The healthy ones
	// hash to every one of the runtime's turn shards with high likelihood.
	var onA, onB []string
	for range 96 {
		before := a.Stats()["curr_items"]
		c := ap.login()
		if a.Stats()["curr_items"] > before {
			onA = append(onA, c)
		} else {
			onB = append(onB, c)
		}
	}
	if len(onA) < 8 || len(onB) < 8 {
		t.Fatalf("sessions spread %d/%d over the two servers", len(onA), len(onB))
	}
	onA = onA[:8]
	healthy := func() (slowest time.Duration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, c := range onB {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				rec := ap.do("/write?v=w"+string(rune('a'+i%26)), c)
				took := time.Since(start)
				if rec.Code != 200 {
					t.Errorf("healthy session answered %d", rec.Code)
				}
				mu.Lock()
				slowest = max(slowest, took)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return slowest
	}
	without := healthy()

	loaded, release := holdAll(ap)
	codes := make([]int, len(onA))
	var stalled sync.WaitGroup
	start := time.Now()
	for i, c := range onA {
		stalled.Add(1)
		go func() { defer stalled.Done(); codes[i] = ap.do("/held?v=stalled", c).Code }()
	}
	for range onA {
		<-loaded
	}
	a.Pause()
	release()
	time.Sleep(50 * time.Millisecond) // the stalled saves are now waiting on the paused server
	with := healthy()
	stalled.Wait()
	stalledFor := time.Since(start)
	a.Resume()
	ap.hold = nil
	t.Logf("%d healthy sessions: slowest request %v without a paused server, %v with %d saves stalled on one (timeout %v); the stalled ones answered %v after %v",
		len(onB), without, with, len(onA), timeout, codes, stalledFor)
	if with >= timeout/2 {
		t.Errorf("a healthy session waited %v while another server was paused: saves of different sessions waited for each other", with)
	}
	if slices.ContainsFunc(codes, func(c int) bool { return c != http.StatusServiceUnavailable }) {
		t.Errorf("saves on the paused server answered %v, want 503", codes)
	}
}

// TestUnansweredCASIsSettled pauses memcached between a request's load and
// its compare-and-swap, so that the cas times out unanswered while
// memcached will apply it once it runs again. When memcached resumes
// before the runtime's read-back times out, the request succeeds and the
// value is written once; when it stays paused, the 503 says the outcome is
// unknown — and indeed the write lands when memcached resumes.
func TestUnansweredCASIsSettled(t *testing.T) {
	srv := servers.StartMemcached(t)
	const timeout = 300 * time.Millisecond
	ap := newApp(t, newStore(t, srv, memcache.WithTimeout(timeout)))
	cookie := ap.login()
	for _, tc := range []struct {
		name    string
		pause   time.Duration // from the cas being sent to SIGCONT
		code    int
		inBody  string
		settled uint64
	}{
		{"resumes during the read-back", timeout + timeout/2, 200, "", 1},
		{"stays paused", 4 * timeout, 503, "may or may not have been saved", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			settled := ap.mgr.Stats().Settled
			loaded, release := holdAll(ap)
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() { done <- ap.do("/held?v="+strings.Fields(tc.name)[0], cookie) }()
			<-loaded
			srv.Pause()
			release()
			time.Sleep(tc.pause)
			srv.Resume()
			rec := <-done
			ap.hold = nil
			body := rec.Body.String()
			t.Logf("%s: %d %q", tc.name, rec.Code, strings.TrimSpace(body))
			if rec.Code != tc.code || !strings.Contains(body, tc.inBody) {
				t.Fatalf("answered %d %q, want %d and %q", rec.Code, body, tc.code, tc.inBody)
			}
			if got := ap.mgr.Stats().Settled - settled; got != tc.settled {
				t.Errorf("%d writes settled by a read-back, want %d", got, tc.settled)
			}
			// Either way memcached applied the write when it resumed.
			if got := ap.do("/flash", cookie).Body.String(); got != strings.Fields(tc.name)[0] {
				t.Errorf("stored value %q after the stall, want %q", got, strings.Fields(tc.name)[0])
			}
		})
	}
	if !strings.Contains(ap.log(), "outcome unknown") {
		t.Errorf("the log does not say the outcome is unknown:\n%s", ap.log())
	}
}

// TestRestartedServerFailsNoRequest fills the connection pool, restarts
// memcached (its sessions are gone: fresh sessions, not errors), and sends
// the first request of each of 100 sessions, 20 at a time: every pooled
// connection is dead, and none of those requests may fail.
func TestRestartedServerFailsNoRequest(t *testing.T) {
	srv := servers.StartMemcached(t)
	ap := newApp(t, newStore(t, srv))
	cookies := make([]string, 100)
	for i := range cookies {
		cookies[i] = ap.login()
	}
	burst := func(path string) (failed int) {
		var mu sync.Mutex
		for i := 0; i < len(cookies); i += 20 {
			var wg sync.WaitGroup
			for _, c := range cookies[i : i+20] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if ap.do(path, c).Code >= 500 {
						mu.Lock()
						failed++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
		}
		return failed
	}
	burst("/read") // 20 connections in the pool
	srv.Restart()
	if n := burst("/read"); n != 0 {
		t.Fatalf("%d of 100 first requests after a restart failed", n)
	}
	srv.Restart()
	if n := burst("/write?v=x"); n != 0 {
		t.Fatalf("%d of 100 first writes after a restart failed", n)
	}
}
