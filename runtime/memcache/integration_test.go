package memcache_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/memcache"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

var ctx = context.Background()

func newStore(t testing.TB, srv *servers.MemcachedServer, opts ...memcache.Option) *memcache.Store {
	t.Helper()
	s, err := memcache.NewWithOptions([]string{srv.Addr}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) { // on a real memcached
	srv := servers.StartMemcached(t)
	storetest.Run(t, func(t *testing.T) runtime.Store { return newStore(t, srv) })
}

func TestCASSetsTheExpirationAgain(t *testing.T) {
	srv := servers.StartMemcached(t)
	s := newStore(t, srv)
	s.Save(ctx, "k", []byte("a"), 0, time.Now().Add(2*time.Second))
	_, v, _ := s.Load(ctx, "k")
	if _, err := s.Save(ctx, "k", []byte("b"), v, time.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	if _, _, err := s.Load(ctx, "k"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("record still there 3.5 s after a CAS with a 2 s TTL (err %v): the CAS made it immortal", err)
	}
}

func TestOversizedRecordIsRefusedAndTheOldOneKept(t *testing.T) {
	srv := servers.StartMemcached(t)
	s := newStore(t, srv, memcache.WithMaxRecordSize(1000))
	s.Save(ctx, "k", []byte("small"), 0, time.Now().Add(time.Hour))
	_, v, _ := s.Load(ctx, "k")
	_, err := s.Save(ctx, "k", make([]byte, 1001), v, time.Now().Add(time.Hour))
	if !errors.Is(err, runtime.ErrTooLarge) || !strings.Contains(err.Error(), "1001") || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("err %v: want ErrTooLarge naming the size and the limit", err)
	}
	if rec, _, err := s.Load(ctx, "k"); err != nil || string(rec) != "small" {
		t.Fatalf("old record: %q, %v", rec, err)
	}
	// Past memcached's own 1 MiB item limit, through a client with no size check.
	raw := memcache.NewFromClient(gomemcache.New(srv.Addr), memcache.WithMaxRecordSize(memcache.MaxRecordSize))
	_, err = raw.Save(ctx, "k", make([]byte, memcache.MaxRecordSize+1), v, time.Now().Add(time.Hour))
	if !errors.Is(err, runtime.ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	if rec, _, err := s.Load(ctx, "k"); err != nil || string(rec) != "small" {
		t.Fatalf("old record after the oversized save: %q, %v", rec, err)
	}
}

// app is a middleware-wrapped handler set on the workload session type.
type app struct {
	t    *testing.T
	mgr  *testsession.VisitManager
	h    http.Handler
	logs *bytes.Buffer
	mu   sync.Mutex
	// hold, when set, runs in /held between the load and the change.
	hold func()
}

func newApp(t *testing.T, store runtime.Store) *app {
	a := &app{t: t, logs: new(bytes.Buffer)}
	mgr, err := testsession.NewVisitManager(runtime.Config{
		Store:   store,
		Secrets: [][]byte{bytes.Repeat([]byte("s"), 32)},
		Logger:  slog.New(slog.NewTextHandler(lockedWriter{&a.mu, a.logs}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.mgr = mgr
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		fmt.Fprintf(w, "%d %s", v.UserID(), v.Email())
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		testsession.VisitFrom(r.Context()).SetFlash(r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/flash", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, testsession.VisitFrom(r.Context()).Flash())
	})
	mux.HandleFunc("/held", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		v.Flash() // load
		if a.hold != nil {
			a.hold()
		}
		v.SetFlash(r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/anon", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		v.SetUserID(7)
		v.SetEmail("ada@example.com")
		v.SetRoles([]string{"admin", "staff"})
	})
	a.h = mgr.Middleware(mux)
	return a
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (a *app) log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logs.String()
}

func (a *app) do(path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

func (a *app) login() string {
	a.t.Helper()
	rec := a.do("/login", "")
	c := rec.Result().Cookies()
	if rec.Code != 200 || len(c) != 1 {
		a.t.Fatalf("login: %d %v", rec.Code, c)
	}
	return c[0].Name + "=" + c[0].Value
}

func roundTrips(srv *servers.MemcachedServer) int64 {
	s := srv.Stats()
	return s["cmd_get"] + s["cmd_set"] + s["cmd_touch"] + s["delete_hits"] + s["delete_misses"]
}

// TestRoundTripsPerRequest counts memcached commands per request, as the
// server sees them, for the A-D scenarios.
func TestRoundTripsPerRequest(t *testing.T) {
	srv := servers.StartMemcached(t)
	a := newApp(t, newStore(t, srv))
	cookie := a.login()
	for _, tc := range []struct {
		name, path, cookie string
		max                int64
	}{
		{"A read", "/read", cookie, 1},
		{"B write", "/write?v=x", cookie, 2},
		{"C anonymous", "/anon", "", 0},
		{"D login", "/login", "", 1},
	} {
		before := roundTrips(srv)
		rec := a.do(tc.path, tc.cookie)
		got := roundTrips(srv) - before
		t.Logf("%s: %d round trips", tc.name, got)
		if rec.Code != 200 || got > tc.max {
			t.Errorf("%s: status %d, %d round trips; want 200 and at most %d", tc.name, rec.Code, got, tc.max)
		}
	}
	// Cookieless requests store nothing at all.
	for range 1000 {
		a.do("/anon", "")
		a.do("/read", "")
	}
	if n := srv.Stats()["curr_items"]; n != 2 {
		t.Fatalf("%d items after 2000 cookieless requests, want the 2 logins only", n)
	}
}

func TestStoreKeysNeverHoldTheSessionID(t *testing.T) {
	srv := servers.StartMemcached(t)
	a := newApp(t, newStore(t, srv))
	cookie := a.login()
	id, _, _ := strings.Cut(strings.SplitN(cookie, "=", 2)[1], ".")
	keys := srv.Keys()
	if len(keys) != 1 {
		t.Fatalf("keys %q, want one", keys)
	}
	if strings.Contains(keys[0], id) || !strings.HasPrefix(keys[0], memcache.DefaultPrefix) || len(keys[0]) > 250 {
		t.Fatalf("key %q holds the ID %q or is not a legal prefixed key", keys[0], id)
	}
}

// TestKilledMemcached: requests with a valid cookie get 503 and keep their
// cookie while memcached is down; after a restart they recover without
// reconfiguration (with fresh sessions: memcached lost everything).
func TestKilledMemcached(t *testing.T) {
	srv := servers.StartMemcached(t)
	a := newApp(t, newStore(t, srv))
	cookie := a.login()
	if rec := a.do("/read", cookie); rec.Body.String() != "7 ada@example.com" {
		t.Fatalf("before: %q", rec.Body)
	}
	srv.Stop()
	for _, path := range []string{"/read", "/write?v=lost"} {
		rec := a.do(path, cookie)
		t.Logf("memcached down, %s: %d %q", path, rec.Code, strings.TrimSpace(rec.Body.String()))
		if rec.Code != http.StatusServiceUnavailable || len(rec.Result().Cookies()) != 0 {
			t.Fatalf("%s while down: status %d, cookies %v; want 503 and no Set-Cookie", path, rec.Code, rec.Result().Cookies())
		}
	}
	if rec := a.do("/anon", cookie); rec.Code != 200 {
		t.Fatalf("a request that does not use its session failed during the outage: %d", rec.Code)
	}
	srv.Restart()
	rec := a.do("/read", cookie)
	if rec.Code != 200 || rec.Body.String() != "0 " {
		t.Fatalf("after restart: %d %q, want 200 and a fresh (empty) session", rec.Code, rec.Body)
	}
	if rec := a.do("/login", ""); rec.Code != 200 || len(rec.Result().Cookies()) != 1 {
		t.Fatalf("login after restart: %d", rec.Code)
	}
	if !strings.Contains(a.log(), "unavailable") {
		t.Errorf("no log line for the outage")
	}
}

// TestPausedMemcached: with memcached frozen (SIGSTOP), requests fail
// within a few timeouts instead of hanging, and leave no goroutine behind.
func TestPausedMemcached(t *testing.T) {
	srv := servers.StartMemcached(t)
	const timeout = 200 * time.Millisecond
	storetest.Paused(t, newStore(t, srv, memcache.WithTimeout(timeout)), timeout, srv.Pause, srv.Resume)
}

// TestGarbageRecord: a record overwritten by a raw client is a fresh
// session and a log line, never a crash.
func TestGarbageRecord(t *testing.T) {
	srv := servers.StartMemcached(t)
	a := newApp(t, newStore(t, srv))
	cookie := a.login()
	key := srv.Keys()[0]
	for _, g := range [][]byte{[]byte("random garbage"), {0x01, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff}, {0x01, 0x00, 0x82, 0xa1}} {
		srv.Set(key, g)
		rec := a.do("/read", cookie)
		if rec.Code != 200 || rec.Body.String() != "0 " {
			t.Fatalf("garbage %q: %d %q, want a fresh session", g, rec.Code, rec.Body)
		}
	}
	if !strings.Contains(a.log(), "unreadable session record") {
		t.Fatalf("no log line for the corrupt record")
	}
	if keys := srv.Keys(); len(keys) != 0 {
		t.Fatalf("corrupt record not deleted: %q", keys)
	}
}

// TestPoolCoversConcurrency: with the default pool of this store, rounds
// of 64 concurrent requests reuse their connections; with gomemcache's own
// default of 2 idle connections, most requests dial anew. Compared in the
// same run, so scheduling noise cancels out.
func TestPoolCoversConcurrency(t *testing.T) {
	srv := servers.StartMemcached(t)
	dials := func(store runtime.Store) int64 {
		a := newApp(t, store)
		cookie := a.login()
		run := func() {
			var wg sync.WaitGroup
			for range 64 {
				wg.Add(1)
				go func() { defer wg.Done(); a.do("/read", cookie) }()
			}
			wg.Wait()
		}
		run() // warm the pool
		before := srv.Stats()["total_connections"]
		for range 5 {
			run()
		}
		return srv.Stats()["total_connections"] - before
	}
	ours := dials(newStore(t, srv))
	theirs := dials(memcache.NewFromClient(gomemcache.New(srv.Addr)))
	t.Logf("5 rounds of 64 concurrent requests: %d new connections with this store's pool, %d with gomemcache's default of 2", ours, theirs)
	if ours*4 > theirs {
		t.Fatalf("%d new connections with our pool against %d with the default: want at most a quarter", ours, theirs)
	}
}

// TestEvictionLooksLikeExpiry fills a memcached of 8 MB with 20,000
// sessions of about 1 KB: the evicted ones come back as fresh sessions, not
// errors, and the evictions counter says so.
func TestEvictionLooksLikeExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20,000 sessions")
	}
	srv := servers.StartMemcached(t, "-m", "8")
	store := newStore(t, srv)
	a := newApp(t, store)
	big := strings.Repeat("x", 1000)
	var cookies []string
	for i := range 20000 {
		rec := a.do("/write?v="+big+fmt.Sprint(i), "")
		c := rec.Result().Cookies()
		if len(c) != 1 {
			t.Fatalf("session %d: %d %v", i, rec.Code, c)
		}
		cookies = append(cookies, c[0].Name+"="+c[0].Value)
	}
	evicted, err := store.Evictions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, c := range cookies[:2000] { // the oldest, the first to go
		rec := a.do("/read", c)
		if rec.Code != 200 {
			t.Fatalf("an evicted session answered %d, want 200 and a fresh session", rec.Code)
		}
		if len(rec.Result().Cookies()) == 1 { // the dead cookie is expired
			lost++
		}
	}
	t.Logf("20,000 sessions of ~1 KB in 8 MB: %d evictions; %d of the 2,000 oldest were gone", evicted, lost)
	if evicted == 0 || lost == 0 {
		t.Fatalf("evictions %d, lost %d: want both above 0", evicted, lost)
	}
	if _, err := memcache.NewFromClient(store.Client()).Evictions(ctx); err == nil {
		t.Fatal("Evictions on a NewFromClient store did not fail")
	}
}

// TestConcurrentRequests runs the lost-update scenarios on a real memcached.
func TestConcurrentRequests(t *testing.T) {
	srv := servers.StartMemcached(t)
	storetest.RunLostUpdates(t, func(t *testing.T) runtime.Store {
		srv.Restart() // an empty server for each scenario
		return newStore(t, srv)
	})
}

// lifecycleApp serves the workload session on memcached with the given
// timeouts, for the lifecycle tests.
func lifecycleApp(t *testing.T, srv *servers.MemcachedServer, idle, lifetime time.Duration) http.Handler {
	mgr, err := testsession.NewVisitManager(runtime.Config{
		Store: newStore(t, srv), Secrets: [][]byte{bytes.Repeat([]byte("l"), 32)},
		IdleTimeout: idle, Lifetime: lifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		switch r.URL.Path {
		case "/login":
			v.SetUserID(9)
		case "/regen":
			v.Regenerate()
		case "/logout":
			v.Destroy()
		}
		fmt.Fprint(w, v.UserID())
	}))
}

func get(h http.Handler, path, cookie string) (string, string) {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	set := ""
	if c := rec.Result().Cookies(); len(c) > 0 && c[0].Value != "" {
		set = c[0].Name + "=" + c[0].Value
	}
	return rec.Body.String(), set
}

func TestStrictOnMemcached(t *testing.T) {
	srv := servers.StartMemcached(t)
	h := lifecycleApp(t, srv, time.Hour, 24*time.Hour)
	_, first := get(h, "/login", "")
	// Regenerate moves the data to a new ID; the old cookie is dead.
	body, second := get(h, "/regen", first)
	if body != "9" || second == "" || second == first {
		t.Fatalf("regenerate: %q, new cookie %q", body, second)
	}
	if body, _ := get(h, "/", first); body != "0" {
		t.Fatalf("old cookie after regenerate: %q, want no session", body)
	}
	// Destroy deletes the record; replaying the cookie gives nothing.
	get(h, "/logout", second)
	if body, _ := get(h, "/", second); body != "0" {
		t.Fatalf("cookie after logout: %q, want no session", body)
	}
	// The validly signed but unknown ID is not adopted by a write.
	_, third := get(h, "/login", second)
	if third == "" || third == second {
		t.Fatalf("a write with an unknown ID kept it: cookie %q", third)
	}
	if n := srv.Stats()["curr_items"]; n != 1 {
		t.Fatalf("%d items, want only the last login's", n)
	}
}

func TestExpiryOnMemcached(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for memcached TTLs")
	}
	srv := servers.StartMemcached(t)
	// Idle 1 s: a request after idle + 2 s (TTLs are ±1 s) finds nothing.
	h := lifecycleApp(t, srv, time.Second, time.Hour)
	_, c := get(h, "/login", "")
	time.Sleep(3 * time.Second)
	if body, _ := get(h, "/", c); body != "0" {
		t.Fatalf("after the idle timeout: %q, want a new session", body)
	}
	// Lifetime 2 s, idle 1 h: activity does not keep it alive.
	h = lifecycleApp(t, srv, time.Hour, 2*time.Second)
	_, c = get(h, "/login", "")
	for range 3 {
		time.Sleep(1100 * time.Millisecond)
		get(h, "/", c)
	}
	if body, _ := get(h, "/", c); body != "0" {
		t.Fatalf("after the lifetime: %q, want a new session", body)
	}
	// A TTL over 30 days is sent as an absolute time, not read by
	// memcached as 1970 (which would expire the record at once).
	s := newStore(t, srv)
	if _, err := s.Save(ctx, "long", []byte("x"), 0, time.Now().Add(60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "long"); err != nil {
		t.Fatalf("a 60-day record is gone at once: %v", err)
	}
}

func TestRenewalOnMemcached(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for memcached TTLs")
	}
	srv := servers.StartMemcached(t)
	mgr, err := testsession.NewVisitManager(runtime.Config{
		Store: newStore(t, srv), Secrets: [][]byte{bytes.Repeat([]byte("r"), 32)},
		// Three seconds, not one: an ID's age is counted in whole seconds,
		// so a one-second ID can be due again moments after it is issued;
		// the grace is shorter than RenewAfter.
		RenewAfter: 3 * time.Second, RenewGrace: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		if r.URL.Path == "/login" {
			v.SetUserID(5)
		}
		fmt.Fprint(w, v.UserID())
	}))
	_, first := get(h, "/login", "")
	time.Sleep(3100 * time.Millisecond)
	body, second := get(h, "/", first)
	if body != "5" || second == "" || second == first {
		t.Fatalf("renewal: %q, cookie %q", body, second)
	}
	if body, via := get(h, "/", first); body != "5" || via != second {
		t.Fatalf("old cookie within the grace: %q, cookie %q; want the session and the new cookie", body, via)
	}
	time.Sleep(3500 * time.Millisecond)
	if body, _ := get(h, "/", first); body != "0" {
		t.Fatalf("old cookie after the grace: %q", body)
	}
	if body, _ := get(h, "/", second); body != "5" {
		t.Fatalf("new cookie: %q", body)
	}
}

// TestEncryptAtRestDump: with EncryptAtRest, what memcached answers to
// its own text protocol's get, for every key it holds, has neither a
// field value nor the session ID.
func TestEncryptAtRestDump(t *testing.T) {
	srv := servers.StartMemcached(t)
	value, id := storetest.SealedLogin(t, newStore(t, srv))
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keys := srv.Keys()
	var dump bytes.Buffer
	r := bufio.NewReader(conn)
	for _, k := range keys {
		fmt.Fprintf(conn, "get %s\r\n", k)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "END\r\n" {
				break
			}
			dump.WriteString(line)
		}
	}
	if len(keys) < 2 || strings.Contains(dump.String(), value) || strings.Contains(dump.String(), id) {
		t.Fatalf("memcached's answers for %d keys hold the field value %q or the session ID", len(keys), value)
	}
}
