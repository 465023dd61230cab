package runtime_test

// The security properties of the cookie and the stored record: store keys
// that are hashes, counted attacks, logs without IDs, the cookie's
// attributes, rate-limited touches, cookie floods.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

var cookieValue = regexp.MustCompile(`^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$`)

func TestStoreKeysAreHashesOfTheID(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	id, _, _ := strings.Cut(sessionCookie(resp).Value, ".")
	key := runtime.StoreKey(id)
	if len(key) != 43 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(key) || strings.Contains(key, id) {
		t.Fatalf("store key %q for ID %q: want 43 base64url chars unrelated to the ID", key, id)
	}
	if _, _, err := e.mem.Load(context.Background(), key); err != nil {
		t.Fatalf("no record under the derived key: %v", err)
	}
}

func TestStatsCountAttacks(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	good := sessionCookie(resp)
	e.get("/logout")
	for _, v := range []string{"garbage", good.Value[:len(good.Value)-1] + "x", good.Value} {
		e.do(e.bare(), "/whoami", &http.Cookie{Name: good.Name, Value: v})
	}
	st := e.mgr.Stats()
	if st.BadCookies != 2 || st.UnknownIDs != 1 {
		t.Fatalf("stats %+v: want 2 bad cookies and 1 unknown ID", st)
	}
}

func TestLogsNeverHoldTheID(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	e := newEnv(t, runtime.Config{Store: touchFailingStore{mem}}, routes)
	resp, _ := e.get("/login")
	c := sessionCookie(resp)
	id, _, _ := strings.Cut(c.Value, ".")
	key := runtime.StoreKey(id)
	mem.Delete(context.Background(), key)
	mem.Save(context.Background(), key, []byte("corrupt"), 0, time.Now().Add(time.Hour))
	e.do(e.bare(), "/whoami", c) // logs the corrupt record
	logs := e.logs.String()
	if !strings.Contains(logs, "unreadable session record") {
		t.Fatalf("expected a log line about the corrupt record, got %q", logs)
	}
	for _, secret := range []string{id, c.Value, key, key[:12]} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log holds %q (ID, cookie or store key):\n%s", secret, logs)
		}
	}
}

func TestDefaultCookie(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	raw := resp.Header.Get("Set-Cookie")
	name, rest, _ := strings.Cut(raw, "=")
	value, attrs, _ := strings.Cut(rest, "; ")
	if name != "__Host-session" || !cookieValue.MatchString(value) || attrs != "Path=/; HttpOnly; Secure; SameSite=Lax" {
		t.Fatalf("Set-Cookie %q: want __Host-session=<id>.<sig>; Path=/; HttpOnly; Secure; SameSite=Lax", raw)
	}
}

func TestSameSiteIsNeverLeftUnset(t *testing.T) {
	for _, ss := range []http.SameSite{0, http.SameSiteDefaultMode} {
		e := newEnv(t, runtime.Config{Cookie: runtime.Cookie{SameSite: ss}}, routes)
		resp, _ := e.get("/login")
		if !strings.Contains(resp.Header.Get("Set-Cookie"), "SameSite=Lax") {
			t.Errorf("SameSite %v: Set-Cookie %q", ss, resp.Header.Get("Set-Cookie"))
		}
	}
	e := newEnv(t, runtime.Config{Cookie: runtime.Cookie{SameSite: http.SameSiteStrictMode}}, routes)
	if resp, _ := e.get("/login"); !strings.Contains(resp.Header.Get("Set-Cookie"), "SameSite=Strict") {
		t.Errorf("Strict: Set-Cookie %q", resp.Header.Get("Set-Cookie"))
	}
}

func TestResponsesSettingTheCookieAreNotCached(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	for _, path := range []string{"/login", "/logout"} {
		resp, _ := e.get(path)
		if resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Cookie") {
			t.Errorf("%s: Cache-Control %q, Vary %q", path, resp.Header.Get("Cache-Control"), resp.Header.Values("Vary"))
		}
	}
}

func TestLogoutCookieExpiresTheSameCookie(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	e.get("/login")
	resp, _ := e.get("/logout")
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-session=;", "Path=/", "Expires=Thu, 01 Jan 1970 00:00:01 GMT", "Max-Age=0", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(raw, want) {
			t.Errorf("logout Set-Cookie %q lacks %q", raw, want)
		}
	}
}

func TestPartitionedIsOptIn(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	if resp, _ := e.get("/login"); strings.Contains(resp.Header.Get("Set-Cookie"), "Partitioned") {
		t.Fatal("Partitioned by default")
	}
	e = newEnv(t, runtime.Config{Cookie: runtime.Cookie{Partitioned: true}}, routes)
	if resp, _ := e.get("/login"); !strings.Contains(resp.Header.Get("Set-Cookie"), "; Partitioned") {
		t.Fatalf("Partitioned: Set-Cookie %q", resp.Header.Get("Set-Cookie"))
	}
}

func TestTouchIsRateLimited(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	defer runtime.SetClock(clock)()
	mem := runtime.NewMemoryStore(runtime.WithClock(clock))
	defer mem.Close()
	store := &countingStore{Store: mem}
	e := newEnv(t, runtime.Config{Store: store, IdleTimeout: 10 * time.Minute}, routes)
	e.get("/login")
	touchesAfter := func(step time.Duration, requests int) int64 {
		store.reset()
		for range requests {
			now = now.Add(step)
			e.get("/whoami")
		}
		return store.touches.Load()
	}
	if n := touchesAfter(10*time.Second, 5); n != 0 { // 50 s < idle/10 = 60 s since the login's write
		t.Fatalf("%d touches within a tenth of the idle timeout, want 0", n)
	}
	// Requests every 30 s from 80 s to 350 s: a touch once 60 s have passed
	// since the last move, at 80, 140, 200, 260 and 320 s.
	if n := touchesAfter(30*time.Second, 10); n != 5 {
		t.Fatalf("%d touches over 5 minutes of requests every 30 s, want 5", n)
	}
	if store.saves.Load() != 0 {
		t.Fatalf("%d saves on read-only requests, want 0", store.saves.Load())
	}
}

func TestTooManyCookiesIsNoSession(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	c := sessionCookie(resp)
	var b strings.Builder
	for i := range 3001 {
		b.WriteString("c")
		b.WriteString(strings.Repeat("x", i%3))
		b.WriteString("=1; ")
	}
	b.WriteString(c.Name + "=" + c.Value)
	resp, body := e.doRaw(b.String())
	if resp.StatusCode != 200 || body != "0  new=true" {
		t.Fatalf("3001 cookies: %d %q, want 200 and no session", resp.StatusCode, body)
	}
}

// FuzzParseCookie sends arbitrary session cookies: the middleware never
// panics, always answers, and makes no store call for a value that is not
// validly signed (forging a signature is out of a fuzzer's reach, so only
// the seeds' genuine values may load).
func FuzzParseCookie(f *testing.F) {
	e := newEnv(f, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	good := sessionCookie(resp)
	f.Add(good.Value)
	f.Add(good.Value[:43])
	f.Add(good.Value + "." + good.Value)
	f.Add(`"` + good.Value + `"`)
	f.Add(strings.Repeat("A", 87))
	f.Add("")
	h := e.srv.Config.Handler // served directly: no client refuses odd bytes on the way
	f.Fuzz(func(t *testing.T, value string) {
		e.store.reset()
		req := httptest.NewRequest("GET", "/whoami", nil)
		req.Header.Set("Cookie", good.Name+"="+value)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d for cookie value %q", rec.Code, value)
		}
		// Judge what the Cookie header carries once net/http has split it
		// (at ';', trimming spaces), not the raw bytes: "v;" is v, and
		// "x; name=v" carries v too. A quoted value is refused.
		valid := false
		for _, c := range req.CookiesNamed(good.Name) {
			valid = valid || !c.Quoted && runtime.ValidCookieValue(good.Name, secretA, c.Value)
		}
		if loads := e.store.loads.Load(); loads != 0 && !valid || loads != 1 && valid {
			t.Fatalf("cookie value %q (valid %v) caused %d store loads", value, valid, loads)
		}
	})
}

// TestForgedCookieFloodCostsOneCount: a request carrying 2,000 forged
// cookies of the session's name (net/http itself drops a request's cookies past 3,000) verifies none of them and counts once; a
// request carrying the real cookie among more than a browser could hold
// has no session either.
func TestForgedCookieFloodCostsOneCount(t *testing.T) {
	e := newEnv(t, runtime.Config{}, routes)
	resp, _ := e.get("/login")
	good := sessionCookie(resp)
	forged := strings.Repeat(good.Name+"="+strings.Repeat("A", 43)+"."+strings.Repeat("B", 43)+"; ", 2000)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/whoami", nil)
	req.Header.Set("Cookie", forged+good.Name+"="+good.Value)
	e.mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routes["/whoami"](w, r, testsession.VisitFrom(r.Context()))
	})).ServeHTTP(rec, req)
	if body := rec.Body.String(); !strings.HasSuffix(body, "new=true") {
		t.Fatalf("the real cookie among 2,000 forged ones: %q, want no session", body)
	}
	if st := e.mgr.Stats(); st.BadCookies != 1 {
		t.Fatalf("BadCookies %d after a flood of 2,000 forged cookies, want 1", st.BadCookies)
	}
}
