package storetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// Outage stops the server (stop) while a user is logged in: reads and
// writes get 503 without a Set-Cookie, a request that does not use its
// session still works, and after start (the server back with its data)
// the user is logged in with nothing overwritten.
func Outage(t *testing.T, store runtime.Store, stop, start func()) {
	a := NewApp(t, store)
	cookie, _ := a.Login("ada")
	a.Do("/write?v=before", cookie)
	stop()
	for _, path := range []string{"/read", "/write?v=lost", "/login?v=eve"} {
		rec := a.Do(path, cookie)
		t.Logf("server down, %s: %d %q", path, rec.Code, strings.TrimSpace(rec.Body.String()))
		if rec.Code != http.StatusServiceUnavailable || len(rec.Result().Cookies()) != 0 {
			t.Errorf("%s while the server is down: %d, cookies %v; want 503 and no Set-Cookie", path, rec.Code, rec.Result().Cookies())
		}
	}
	if rec := a.Do("/anon", cookie); rec.Code != 200 {
		t.Errorf("a request that does not use its session failed during the outage: %d", rec.Code)
	}
	start()
	if got := a.Do("/read", cookie).Body.String(); got != "ada|before|new=false" {
		t.Fatalf("after the outage: %q, want the session as it was", got)
	}
	if !strings.Contains(a.Logs(), "unavailable") {
		t.Errorf("no log line for the outage:\n%s", a.Logs())
	}
}

// Restarts logs in users, restarts the server (restart: kill it and start
// it again on its data; nil for a store without a server), then the
// application (a new manager on a store from newStore): every user is
// still logged in after each.
func Restarts(t *testing.T, newStore func() runtime.Store, restart func()) {
	a := NewApp(t, newStore())
	const users = 50
	cookies := make([]string, users)
	for i := range cookies {
		cookies[i], _ = a.Login(fmt.Sprintf("user%d", i))
	}
	check := func(a *App, when string) {
		t.Helper()
		lost := 0
		for i, c := range cookies {
			if got := a.Do("/read", c).Body.String(); got != fmt.Sprintf("user%d||new=false", i) {
				lost++
			}
		}
		t.Logf("%s: %d of %d users still logged in", when, users-lost, users)
		if lost != 0 {
			t.Errorf("%s: %d of %d users logged out", when, lost, users)
		}
	}
	if restart != nil {
		restart()
		check(a, "after a server restart")
	}
	check(NewApp(t, newStore()), "after an application restart")
}

// now4 is the current time as msgpack's uint32, for record headers.
func now4() []byte {
	b := []byte{0xce, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(time.Now().Unix()))
	return b
}

// Hostile are records no session may survive reading: garbage, a
// truncated record, and the msgpack inputs that make msgpack v5.4.1
// allocate gigabytes or spin, as a record's map and as a field's value
// behind a valid header.
func Hostile() map[string][]byte {
	header := append(append([]byte{0x01}, now4()...), 0x00, 0x00)
	field := append(bytes.Clone(header), 0x81, 0xa5, 'e', 'm', 'a', 'i', 'l')
	out := map[string][]byte{
		"garbage":     []byte("random garbage, not msgpack"),
		"short":       {0x01},
		"truncated":   append(bytes.Clone(header), 0x82, 0xa1),
		"new version": append([]byte{0x7f}, header[1:]...),
	}
	for name, body := range map[string][]byte{
		"array32 of 4G":        {0xdd, 0xff, 0xff, 0xff, 0xff},
		"bin32 of 4G":          {0xc6, 0xff, 0xff, 0xff, 0xff},
		"map32 of 4G":          {0xdf, 0xff, 0xff, 0xff, 0xff},
		"str32 of 4G":          {0xdb, 0xff, 0xff, 0xff, 0xff},
		"nested array16 65535": bytes.Repeat([]byte{0xdc, 0xff, 0xff}, 2000),
		"deep fixarrays":       bytes.Repeat([]byte{0x91}, 60000),
	} {
		out[name+" as the map"] = append(bytes.Clone(header), body...)
		out[name+" as a field"] = append(bytes.Clone(field), body...)
	}
	return out
}

// Garbage logs a user in, overwrites the record with each of Hostile's
// through put (a raw client of the server, writing in the store's own
// layout so that the bytes reach the decoder), and reads: each time a
// fresh session, a log line, no crash; and the user can log in again.
func Garbage(t *testing.T, store runtime.Store, put func(key string, rec []byte)) {
	a := NewApp(t, store)
	for name, rec := range Hostile() {
		cookie, key := a.Login("ada")
		put(key, rec)
		resp := a.Do("/read", cookie)
		if resp.Code != 200 || resp.Body.String() != "||new=true" {
			t.Errorf("%s: %d %q, want a fresh session", name, resp.Code, resp.Body)
		}
	}
	if !strings.Contains(a.Logs(), "unreadable session record") {
		t.Errorf("no log line for the corrupt records")
	}
	if c, _ := a.Login("bob"); a.Do("/read", c).Body.String() != "bob||new=false" {
		t.Errorf("logging in after the corrupt records failed")
	}
}

// Paused freezes the server (pause) under 8 concurrent requests: all get
// 503 within a few timeouts, no goroutine is left behind, and after resume
// the session is intact.
func Paused(t *testing.T, store runtime.Store, timeout time.Duration, pause, resume func()) {
	a := NewApp(t, store)
	cookie, _ := a.Login("ada")
	before := goruntime.NumGoroutine()
	pause()
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = a.Do("/write?v=paused", cookie).Code
		}()
	}
	wg.Wait()
	took := time.Since(start)
	resume()
	t.Logf("8 writes against a paused server: codes %v in %v (timeout %v)", codes, took, timeout)
	for _, c := range codes {
		if c != http.StatusServiceUnavailable {
			t.Fatalf("codes %v, want all 503", codes)
		}
	}
	// A load (one timeout), then nothing: the load failed. Bounded by a
	// few timeouts whatever the scheduling.
	if took > 6*timeout {
		t.Errorf("requests took %v, want them bounded by the %v timeout", took, timeout)
	}
	deadline := time.Now().Add(3 * time.Second)
	for goruntime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after the pause, %d before: a leak", n, before)
	}
	if got := a.Do("/read", cookie).Body.String(); got != "ada||new=false" {
		t.Errorf("after resume: %q", got)
	}
}

// RoundTrips counts what the A-D scenarios cost a store, with
// count reading a counter of the store's operations (a driver's tracer or
// monitor): A (read) 1, B (write) 2, C (anonymous) 0, D (login) 1.
func RoundTrips(t *testing.T, store runtime.Store, count func() int64) {
	a := NewApp(t, store)
	cookie, _ := a.Login("ada")
	for _, tc := range []struct {
		name, path, cookie string
		want               int64
	}{
		{"A read", "/read", cookie, 1},
		{"B write", "/write?v=x", cookie, 2},
		{"C anonymous", "/anon", "", 0},
		{"D login", "/login?v=bob", "", 1},
	} {
		before := count()
		if rec := a.Do(tc.path, tc.cookie); rec.Code != 200 {
			t.Fatalf("%s: %d", tc.name, rec.Code)
		}
		got := count() - before
		t.Logf("%s: %d round trips", tc.name, got)
		if got != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, got, tc.want)
		}
	}
}
