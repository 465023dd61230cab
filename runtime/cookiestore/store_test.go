package cookiestore_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
)

var (
	secret = bytes.Repeat([]byte("s"), 32)
	older  = bytes.Repeat([]byte("o"), 32)
)

// app serves Visit sessions kept in cookies.
type app struct {
	t    *testing.T
	h    http.Handler
	logs *bytes.Buffer
	got  struct {
		email string
		roles int
		isNew bool
		id    string
	}
}

func newApp(t *testing.T, cfg runtime.Config, opts ...cookiestore.Option) *app {
	t.Helper()
	store, err := cookiestore.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = store
	if cfg.Secrets == nil {
		cfg.Secrets = [][]byte{secret}
	}
	a := &app{t: t, logs: new(bytes.Buffer)}
	cfg.Logger = slog.New(slog.NewTextHandler(a.logs, nil))
	mgr, err := testsession.NewVisitManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.h = mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		switch r.URL.Path {
		case "/set":
			v.SetEmail(r.URL.Query().Get("email"))
		case "/big":
			v.SetRoles(make([]string, 0))
			roles := make([]string, 0)
			for i := range 600 {
				roles = append(roles, strings.Repeat("r", 10)+string(rune('a'+i%26)))
			}
			v.SetRoles(roles)
		case "/huge":
			v.SetCSRFToken(strings.Repeat("x", 20000))
		case "/small":
			v.SetRoles(nil)
		case "/logout":
			v.Destroy()
		case "/login":
			v.Regenerate()
		case "/nothing":
			return
		}
		a.got.email, a.got.roles, a.got.isNew, a.got.id = v.Email(), len(v.Roles()), v.IsNew(), v.ID()
	}))
	return a
}

// do serves path with cookies and returns the response.
func (a *app) do(path string, cookies []*http.Cookie) *http.Response {
	req := httptest.NewRequest("GET", "https://example.com"+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec.Result()
}

// jar applies a response's Set-Cookie lines to cookies, as a browser does.
func jar(cookies []*http.Cookie, resp *http.Response) []*http.Cookie {
	for _, set := range resp.Cookies() {
		cookies = slicesDelete(cookies, set.Name)
		if set.MaxAge >= 0 && set.Value != "" {
			cookies = append(cookies, &http.Cookie{Name: set.Name, Value: set.Value})
		}
	}
	return cookies
}

func slicesDelete(cs []*http.Cookie, name string) []*http.Cookie {
	out := cs[:0:0]
	for _, c := range cs {
		if c.Name != name {
			out = append(out, c)
		}
	}
	return out
}

func TestSessionLivesInTheCookie(t *testing.T) {
	a := newApp(t, runtime.Config{})
	if resp := a.do("/nothing", nil); len(resp.Cookies()) != 0 {
		t.Fatal("a request that never used its session set a cookie")
	}
	resp := a.do("/set?email=ada@example.com", nil)
	cookies := jar(nil, resp)
	if len(cookies) != 1 || cookies[0].Name != "__Host-session.0" || strings.Contains(cookies[0].Value, "ada") {
		t.Fatalf("cookies %v", resp.Header["Set-Cookie"])
	}
	if line := resp.Header.Get("Set-Cookie"); !strings.Contains(line, "HttpOnly") || !strings.Contains(line, "Secure") || !strings.Contains(line, "SameSite=Lax") {
		t.Fatalf("attributes: %s", line)
	}
	id := a.got.id
	resp = a.do("/read", cookies)
	if a.got.email != "ada@example.com" || a.got.isNew || a.got.id != id {
		t.Fatalf("read back %+v, want the email, not new, ID %s", a.got, id)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatal("a read re-sealed the session")
	}
	resp = a.do("/login", cookies)
	cookies = jar(cookies, resp)
	if a.got.id == id || a.got.email != "ada@example.com" {
		t.Fatalf("Regenerate: ID %s (was %s), email %q", a.got.id, id, a.got.email)
	}
	resp = a.do("/logout", cookies)
	if c := resp.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logout: %v, want the cookie expired", resp.Header["Set-Cookie"])
	}
	a.do("/read", jar(cookies, resp))
	if !a.got.isNew || a.got.email != "" {
		t.Fatalf("after logout: %+v", a.got)
	}
}

func TestLargeSessionsTakeSeveralCookies(t *testing.T) {
	a := newApp(t, runtime.Config{})
	resp := a.do("/big", nil)
	cookies := jar(nil, resp)
	if len(cookies) < 2 {
		t.Fatalf("%d cookies for a session of 600 roles", len(cookies))
	}
	for _, c := range cookies {
		if len(c.Value) > cookiestore.ChunkSize {
			t.Fatalf("%s holds %d bytes", c.Name, len(c.Value))
		}
	}
	a.do("/read", cookies)
	if a.got.roles != 600 {
		t.Fatalf("read back %d roles", a.got.roles)
	}
	// Chunks missing, reordered or repeated: no session, never an error.
	swapped := []*http.Cookie{{Name: cookies[0].Name, Value: cookies[1].Value}, {Name: cookies[1].Name, Value: cookies[0].Value}}
	for what, cs := range map[string][]*http.Cookie{
		"first chunk only": cookies[:1],
		"second only":      cookies[1:2],
		"swapped":          append(swapped, cookies[2:]...),
	} {
		if resp := a.do("/read", cs); resp.StatusCode != 200 || !a.got.isNew || a.got.roles != 0 {
			t.Errorf("%s: status %d, %+v", what, resp.StatusCode, a.got)
		}
	}
	// Shrinking: the chunks no longer needed are expired.
	resp = a.do("/small", cookies)
	cookies = jar(cookies, resp)
	if len(cookies) != 1 {
		t.Fatalf("after shrinking the browser holds %d cookies: %v", len(cookies), resp.Header["Set-Cookie"])
	}
	a.do("/read", cookies)
	if a.got.roles != 0 || a.got.isNew {
		t.Fatalf("after shrinking: %+v", a.got)
	}
}

func TestTooLargeIsAnErrorAndKeepsTheCookie(t *testing.T) {
	a := newApp(t, runtime.Config{}, cookiestore.WithMaxChunks(2))
	cookies := jar(nil, a.do("/set?email=ada@example.com", nil))
	resp := a.do("/huge", cookies)
	if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 0 {
		t.Fatalf("status %d, cookies %v: want 500 and the cookie kept", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if log := a.logs.String(); !strings.Contains(log, "over the 7600") || !strings.Contains(log, `\"csrf\"`) || !strings.Contains(log, "WithMaxChunks") {
		t.Fatalf("the log does not say the size, the limit, the largest field and what to do:\n%s", log)
	}
	a.do("/read", cookies)
	if a.got.email != "ada@example.com" {
		t.Fatalf("the session before the failed save is gone: %+v", a.got)
	}
}

func TestBadCookiesAreNoSession(t *testing.T) {
	a := newApp(t, runtime.Config{})
	cookies := jar(nil, a.do("/set?email=ada@example.com", nil))
	v := cookies[0].Value
	bad := map[string][]*http.Cookie{
		"truncated": {{Name: cookies[0].Name, Value: v[:len(v)-1]}},
		"oversized": {{Name: cookies[0].Name, Value: strings.Repeat("A", 4*cookiestore.ChunkSize+1)}},
		"garbage":   {{Name: cookies[0].Name, Value: "garbage"}},
		"doubled":   {{Name: cookies[0].Name, Value: v}, {Name: "__Host-session.1", Value: v}},
	}
	for i := 0; i < len(v); i += 7 {
		b := []byte(v)
		b[i] ^= 0x01
		bad["byte "+string(rune('0'+i%10))] = []*http.Cookie{{Name: cookies[0].Name, Value: string(b)}}
	}
	for what, cs := range bad {
		if resp := a.do("/read", cs); resp.StatusCode != 200 || !a.got.isNew || a.got.email != "" {
			t.Errorf("%s: status %d, %+v", what, resp.StatusCode, a.got)
		}
	}
	// Another key, another cookie name: no session.
	other := newApp(t, runtime.Config{Secrets: [][]byte{older}})
	other.do("/read", cookies)
	if !other.got.isNew {
		t.Error("a cookie sealed with another secret opened")
	}
	renamed := newApp(t, runtime.Config{Cookie: runtime.Cookie{Name: "__Host-other"}})
	renamed.do("/read", []*http.Cookie{{Name: "__Host-other.0", Value: v}})
	if !renamed.got.isNew {
		t.Error("a cookie sealed for another cookie name opened")
	}
}

func TestSecretsRotate(t *testing.T) {
	before := newApp(t, runtime.Config{Secrets: [][]byte{older}})
	cookies := jar(nil, before.do("/set?email=ada@example.com", nil))
	after := newApp(t, runtime.Config{Secrets: [][]byte{secret, older}})
	after.do("/read", cookies)
	if after.got.email != "ada@example.com" {
		t.Fatal("a cookie sealed with the previous secret does not open after the rotation")
	}
	resealed := jar(cookies, after.do("/set?email=grace@example.com", cookies))
	before.do("/read", resealed)
	if !before.got.isNew {
		t.Fatal("a cookie sealed with the new secret opened without it")
	}
}

// TestDeadlinesAreInsideTheSeal: a cookie past its idle deadline, or a
// session past its absolute lifetime however active, opens no session: a
// stolen copy does not work forever.
func TestDeadlinesAreInsideTheSeal(t *testing.T) {
	idle := newApp(t, runtime.Config{IdleTimeout: time.Second})
	idleCookies := jar(nil, idle.do("/set?email=ada@example.com", nil))
	lifetime := newApp(t, runtime.Config{IdleTimeout: time.Hour, Lifetime: 3 * time.Second})
	lifeCookies := jar(nil, lifetime.do("/set?email=ada@example.com", nil))
	time.Sleep(1100 * time.Millisecond)
	lifeCookies = jar(lifeCookies, lifetime.do("/set?email=grace@example.com", lifeCookies)) // activity, under 2 s in
	if lifetime.got.isNew {
		t.Fatal("the session ended before its lifetime")
	}
	time.Sleep(2300 * time.Millisecond) // deadlines are whole seconds
	idle.do("/read", idleCookies)
	if !idle.got.isNew {
		t.Error("a seal past its idle deadline opened")
	}
	lifetime.do("/read", lifeCookies)
	if !lifetime.got.isNew {
		t.Error("a session past its absolute lifetime opened")
	}
}

func TestConfigurationsThatCannotWork(t *testing.T) {
	store, _ := cookiestore.New()
	if _, err := testsession.NewScenarioManager(runtime.Config{Store: store, Secrets: [][]byte{secret}}); err == nil || !strings.Contains(err.Error(), "conflict=error") {
		t.Errorf("conflict=error fields with a cookie store: %v", err)
	}
	if _, err := testsession.NewVisitManager(runtime.Config{Store: store, Secrets: [][]byte{secret}, RenewAfter: time.Hour}); err == nil || !strings.Contains(err.Error(), "RenewAfter") {
		t.Errorf("RenewAfter with a cookie store: %v", err)
	}
	for _, o := range []cookiestore.Option{cookiestore.WithMaxChunks(0), cookiestore.WithMaxChunks(17), cookiestore.WithIdleTimeout(0)} {
		if _, err := cookiestore.New(o); err == nil {
			t.Error("a bad option was accepted")
		}
	}
}

// TestChunksThroughABrowsersJar: a chunked session goes through
// net/http's cookie jar, as a browser holds it, and back.
func TestChunksThroughABrowsersJar(t *testing.T) {
	a := newApp(t, runtime.Config{})
	srv := httptest.NewTLSServer(a.h)
	defer srv.Close()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	for _, path := range []string{"/big", "/read"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	u, _ := url.Parse(srv.URL)
	if n := len(c.Jar.Cookies(u)); a.got.roles != 600 || a.got.isNew || n < 2 {
		t.Fatalf("through the jar: %d roles, new %v, %d cookies", a.got.roles, a.got.isNew, n)
	}
	resp, err := c.Get(srv.URL + "/small")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(c.Jar.Cookies(u)); n != 1 {
		t.Fatalf("after shrinking the jar holds %d cookies", n)
	}
}

// TestPlantedChunkIsNoSession: a second cookie of a chunk's name (one a
// sibling subdomain planted: here another visitor's valid seal, sent
// first) makes the request carry no session, whichever comes first;
// before, the first one won and the planted session shadowed the
// victim's.
func TestPlantedChunkIsNoSession(t *testing.T) {
	a := newApp(t, runtime.Config{Cookie: runtime.Cookie{Name: "sess", Secure: runtime.Off}})
	victim := jar(nil, a.do("/set?email=victim@example.com", nil))
	planted := jar(nil, a.do("/set?email=attacker@example.com", nil))
	for _, order := range [][]*http.Cookie{append(append([]*http.Cookie{}, planted...), victim...), append(append([]*http.Cookie{}, victim...), planted...)} {
		a.do("/read", order)
		if !a.got.isNew || a.got.email != "" {
			t.Fatalf("two cookies of one chunk's name: %+v, want no session", a.got)
		}
	}
	a.do("/read", victim)
	if a.got.email != "victim@example.com" {
		t.Fatalf("the victim's cookie alone: %+v", a.got)
	}
}

// TestLifetimeBoundsAStolenCopy: a copy of the cookie used often enough
// to never go idle still stops opening at the store's lifetime (here
// WithLifetime(3s), the Config leaving Lifetime zero; ages count whole
// seconds, so the uses stay under 2 s and the last read comes after 3.6 s).
func TestLifetimeBoundsAStolenCopy(t *testing.T) {
	a := newApp(t, runtime.Config{}, cookiestore.WithLifetime(3*time.Second))
	stolen := jar(nil, a.do("/set?email=ada@example.com", nil))
	for range 2 {
		time.Sleep(800 * time.Millisecond)
		stolen = jar(stolen, a.do("/set?email=ada@example.com", stolen)) // the thief keeps it fresh
		if a.got.isNew {
			t.Fatal("the copy stopped opening before the lifetime")
		}
	}
	time.Sleep(2000 * time.Millisecond)
	a.do("/read", stolen)
	if !a.got.isNew || a.got.email != "" {
		t.Fatalf("3.6 s into a 3 s lifetime the copy still opens: %+v", a.got)
	}
}
