package runtime_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// lifecycleRoutes extends routes with remember-me switches.
var lifecycleRoutes = func() map[string]func(http.ResponseWriter, *http.Request, *visit) {
	m := map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/remember":  func(w http.ResponseWriter, r *http.Request, v *visit) { v.RememberMe(true); fmt.Fprint(w, "ok") },
		"/forget":    func(w http.ResponseWriter, r *http.Request, v *visit) { v.RememberMe(false); fmt.Fprint(w, "ok") },
		"/showflash": func(w http.ResponseWriter, r *http.Request, v *visit) { fmt.Fprint(w, v.Flash()) },
	}
	for k, h := range routes {
		m[k] = h
	}
	return m
}()

func maxAge(t *testing.T, resp *http.Response) (int, bool) {
	t.Helper()
	c := sessionCookie(resp)
	if c == nil {
		return 0, false
	}
	return c.MaxAge, true
}

func TestPersistentCookieFollowsTheServerExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	defer runtime.SetClock(clock)()
	mem := runtime.NewMemoryStore(runtime.WithClock(clock))
	defer mem.Close()
	e := newEnv(t, runtime.Config{Store: mem, Persistent: true, IdleTimeout: 10 * time.Minute, Lifetime: 20 * time.Minute}, lifecycleRoutes)
	resp, _ := e.get("/login")
	if age, ok := maxAge(t, resp); !ok || age != 600 {
		t.Fatalf("login cookie Max-Age %d (set %v), want 600 (the idle timeout)", age, ok)
	}
	now = now.Add(30 * time.Second)
	if resp, _ := e.get("/whoami"); len(resp.Header["Set-Cookie"]) != 0 {
		t.Fatalf("a read 30 s later re-sent the cookie: %q", resp.Header["Set-Cookie"])
	}
	now = now.Add(2 * time.Minute) // past a tenth of the idle timeout: the expiry moves
	resp, _ = e.get("/whoami")
	if age, ok := maxAge(t, resp); !ok || age != 600 {
		t.Fatalf("after a touch: Max-Age %d (set %v), want the cookie re-sent with 600", age, ok)
	}
	now = now.Add(5*time.Minute + 30*time.Second) // 8 min after login: a write moves the expiry
	resp, _ = e.get("/flash")
	if age, ok := maxAge(t, resp); !ok || age != 600 {
		t.Fatalf("after a write: Max-Age %d (set %v), want 600", age, ok)
	}
	now = now.Add(8 * time.Minute) // 16 min after login: the 20-minute lifetime caps the expiry
	resp, _ = e.get("/flash")
	if age, ok := maxAge(t, resp); !ok || age != 240 {
		t.Fatalf("near the lifetime: Max-Age %d (set %v), want 240 (what remains of it)", age, ok)
	}
}

func TestRememberMeIsPerSession(t *testing.T) {
	e := newEnv(t, runtime.Config{}, lifecycleRoutes)
	resp, _ := e.get("/login")
	if age, _ := maxAge(t, resp); age != 0 {
		t.Fatalf("default cookie has Max-Age %d, want a browser-session cookie", age)
	}
	resp, _ = e.get("/remember")
	if age, ok := maxAge(t, resp); !ok || age != int(runtime.DefaultIdleTimeout/time.Second) {
		t.Fatalf("RememberMe(true): Max-Age %d (set %v)", age, ok)
	}
	if _, body := e.get("/whoami"); body != "42 ada@example.com new=false" {
		t.Fatalf("session after RememberMe: %q", body)
	}
	resp, _ = e.get("/forget")
	raw := resp.Header.Get("Set-Cookie")
	if raw == "" || strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") {
		t.Fatalf("RememberMe(false): Set-Cookie %q, want a browser-session cookie", raw)
	}
	// Another visitor's session is not persistent.
	e2 := newEnv(t, runtime.Config{Store: e.mem}, lifecycleRoutes)
	if resp, _ := e2.get("/login"); strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age") {
		t.Fatalf("a new session inherited RememberMe: %q", resp.Header.Get("Set-Cookie"))
	}
}

func TestRollingResendsTheCookie(t *testing.T) {
	e := newEnv(t, runtime.Config{Rolling: true}, lifecycleRoutes)
	resp, _ := e.get("/login")
	first := sessionCookie(resp)
	for range 3 {
		resp, _ := e.get("/whoami")
		if c := sessionCookie(resp); c == nil || c.Value != first.Value {
			t.Fatalf("rolling: a read did not re-send the cookie: %v", c)
		}
	}
	if resp, _ := e.get("/anon"); len(resp.Header["Set-Cookie"]) != 0 {
		t.Fatalf("rolling re-sent the cookie on a request that never used its session")
	}
}

func TestSecureAutoTrustsOnlyConfiguredProxies(t *testing.T) {
	mgrEnv := newEnv(t, runtime.Config{
		Cookie:         runtime.Cookie{Secure: runtime.Auto},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}, lifecycleRoutes)
	h := mgrEnv.srv.Config.Handler
	for _, tc := range []struct {
		name, remote, proto string
		tls                 bool
		secure              bool
	}{
		{"plain http", "192.0.2.1:1234", "", false, false},
		{"tls", "192.0.2.1:1234", "", true, true},
		{"trusted proxy says https", "10.1.2.3:1234", "https", false, true},
		{"trusted proxy says http", "10.1.2.3:1234", "http", false, false},
		{"untrusted client says https", "192.0.2.1:1234", "https", false, false},
	} {
		req := httptest.NewRequest("GET", "/login", nil)
		req.RemoteAddr = tc.remote
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		raw := rec.Header().Get("Set-Cookie")
		if !strings.HasPrefix(raw, "session=") || strings.Contains(raw, "; Secure") != tc.secure {
			t.Errorf("%s: Set-Cookie %q, want Secure=%v", tc.name, raw, tc.secure)
		}
	}
	for _, c := range []runtime.Cookie{{Secure: runtime.Auto, Name: "__Host-s"}, {Secure: runtime.Auto, Partitioned: true}, {HttpOnly: runtime.Auto}} {
		if _, err := newManagerErr(runtime.Config{Cookie: c}); err == nil {
			t.Errorf("cookie %+v accepted", c)
		}
	}
}

func TestRenewFieldRegeneratesTheID(t *testing.T) {
	e := newEnv(t, runtime.Config{}, map[string]func(http.ResponseWriter, *http.Request, *visit){
		"/set": func(w http.ResponseWriter, r *http.Request, v *visit) {
			v.SetEmail("x@example.com")
		},
		"/uid": func(w http.ResponseWriter, r *http.Request, v *visit) {
			var n int64
			fmt.Sscan(r.URL.Query().Get("v"), &n)
			v.SetUserID(n) // tagged renew
			fmt.Fprint(w, v.Email())
		},
	})
	resp, _ := e.get("/set")
	first := sessionCookie(resp)
	resp, body := e.get("/uid?v=7")
	second := sessionCookie(resp)
	if body != "x@example.com" || second == nil || second.Value == first.Value {
		t.Fatalf("setting a renew field: body %q, cookie %v; want the data kept under a new ID", body, second)
	}
	if _, body := e.do(e.bare(), "/uid?v=8", first); body != "" {
		t.Fatalf("the pre-login cookie still works after the renew: %q", body)
	}
	if resp, _ := e.get("/uid?v=7"); sessionCookie(resp) != nil {
		t.Fatalf("setting the same value again regenerated the ID")
	}
}

func TestRenewalTimeoutWithGrace(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	defer runtime.SetClock(clock)()
	mem := runtime.NewMemoryStore(runtime.WithClock(clock))
	defer mem.Close()
	e := newEnv(t, runtime.Config{Store: mem, RenewAfter: 10 * time.Minute, RenewGrace: time.Minute}, lifecycleRoutes)
	resp, _ := e.get("/login")
	first := sessionCookie(resp)
	now = now.Add(5 * time.Minute)
	if resp, _ := e.get("/whoami"); sessionCookie(resp) != nil {
		t.Fatal("renewed before RenewAfter")
	}
	now = now.Add(6 * time.Minute) // the ID is 11 minutes old
	resp, body := e.get("/whoami")
	second := sessionCookie(resp)
	if body != "42 ada@example.com new=false" || second == nil || second.Value == first.Value {
		t.Fatalf("after RenewAfter: %q, cookie %v; want the session under a new ID", body, second)
	}
	// Within the grace, a request still carrying the old cookie follows
	// the renewal and is handed the new cookie.
	now = now.Add(30 * time.Second)
	resp, body = e.do(e.bare(), "/whoami", first)
	if c := sessionCookie(resp); body != "42 ada@example.com new=false" || c == nil || c.Value != second.Value {
		t.Fatalf("old cookie within the grace: %q, cookie %v; want the session and the new cookie", body, c)
	}
	// A write through the old cookie lands in the renewed session.
	e.do(e.bare(), "/flash", first)
	// After the grace, the old cookie is dead; the new one has everything.
	now = now.Add(time.Minute)
	if _, body := e.do(e.bare(), "/whoami", first); body != "0  new=true" {
		t.Fatalf("old cookie after the grace: %q, want no session", body)
	}
	got := ""
	e.srv.Config.Handler.ServeHTTP(recorderFunc(func(b string) { got = b }), reqWith("/showflash", second))
	if got != "hello" {
		t.Fatalf("the write made through the old cookie during the grace: flash %q, want hello", got)
	}
}

func TestPrivilegeChangesGetNoGrace(t *testing.T) {
	e := newEnv(t, runtime.Config{RenewAfter: time.Hour}, lifecycleRoutes)
	resp, _ := e.get("/login")
	old := sessionCookie(resp)
	e.get("/regen")
	if _, body := e.do(e.bare(), "/whoami", old); body != "0  new=true" {
		t.Fatalf("old cookie right after Regenerate: %q, want no session", body)
	}
}
