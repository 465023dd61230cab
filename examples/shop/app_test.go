package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storeurl"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
	"github.com/sessiongen/sessiongen/runtime/memcache"
)

// TestShopFlow walks the demo as a visitor does, over TLS with a cookie
// jar, on each store the -store flag offers, as it opens them.
func TestShopFlow(t *testing.T) {
	forEachStore(t, func(t *testing.T, store runtime.Backend, _ string) { shopFlow(t, store) })
}

// forEachStore starts a server of every kind the -store flag offers, and
// runs f in a subtest per store, opened from its URL as the demo opens it.
func forEachStore(t *testing.T, f func(t *testing.T, store runtime.Backend, name string)) {
	for _, url := range servers.StoreURLs(t) {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			store, name, closeStore, err := storeurl.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			f(t, store, name)
		})
	}
}

func shopFlow(t *testing.T, store runtime.Backend) {
	app, sessions, err := newApp(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, "test store")
	if err != nil {
		t.Fatal(err)
	}
	defer sessions.Close()
	srv := httptest.NewTLSServer(app)
	defer srv.Close()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	get := func(path string) string {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post := func(path string, form url.Values) string {
		resp, err := c.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	steps := []struct {
		name     string
		do       func() string
		want     []string
		wantNone []string
	}{
		{"anonymous", func() string { return get("/") },
			[]string{"<h1>sessiongen shop</h1>", "Log in", "What the server holds for you", "Store: <b>test store</b>", "none yet", "Cookie: <code>; Path=/"}, []string{"Signed in"}},
		{"login", func() string { return post("/login", url.Values{"email": {"Ada@Example.com"}}) },
			[]string{"Welcome!", "Signed in as <b>ada@example.com</b>", "empty", "Session: stored"}, nil},
		{"flash shown once", func() string { return get("/") }, []string{"Signed in"}, []string{"Welcome!"}},
		{"add tea", func() string { return post("/cart", url.Values{"sku": {"tea"}}) }, []string{"Added Green tea.", "1 × Green tea"}, nil},
		{"add tea again", func() string { return post("/cart", url.Values{"sku": {"tea"}}) }, []string{"2 × Green tea"}, []string{"× tea"}},
		{"logout", func() string { return post("/logout", nil) }, []string{"You are logged out.", "Log in"}, []string{"tea"}},
	}
	for _, s := range steps {
		body := s.do()
		for _, w := range s.want {
			if !strings.Contains(body, w) {
				t.Fatalf("%s: page lacks %q:\n%s", s.name, w, body)
			}
		}
		for _, w := range s.wantNone {
			if strings.Contains(body, w) {
				t.Fatalf("%s: page has %q:\n%s", s.name, w, body)
			}
		}
	}
	resp, err := c.Get(srv.URL + "/healthz")
	if err != nil || len(resp.Header["Set-Cookie"]) != 0 {
		t.Fatalf("healthz set a cookie: %v %v", err, resp.Header["Set-Cookie"])
	}
	resp.Body.Close()
}

// TestAnonymousHomePageStoresNothing: the home page reads the cart, a
// slice, of visitors who have no session. 500 of them leave the store
// empty and get no cookie, on the memory store and on memcached.
func TestAnonymousHomePageStoresNothing(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	srv := servers.StartMemcached(t)
	mc, err := memcache.New(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		store runtime.Store
		items func() int64
	}{
		"memory":    {mem, func() int64 { return int64(mem.Len()) }},
		"memcached": {mc, func() int64 { s := srv.Stats(); return s["curr_items"] + s["cmd_set"] }},
	} {
		app, sessions, err := newApp(runtime.Config{Store: tc.store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, name)
		if err != nil {
			t.Fatal(err)
		}
		cookies := 0
		for range 500 {
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Log in") {
				t.Fatalf("%s: GET / answered %d", name, rec.Code)
			}
			cookies += len(rec.Result().Cookies())
		}
		sessions.Close()
		if n := tc.items(); n != 0 || cookies != 0 {
			t.Errorf("%s: 500 anonymous GET / stored %d items and set %d cookies, want none", name, n, cookies)
		}
	}
}

// TestSimultaneousAddsAreAllKept: ten add-to-cart requests of one visitor
// at once, as a page firing fetch calls sends them, keep ten items, for
// each of five visitors, on the memory store and on memcached.
func TestSimultaneousAddsAreAllKept(t *testing.T) {
	mc := servers.StartMemcached(t)
	for _, url := range []string{"memory:", "memcached://" + mc.Addr} {
		store, _, closeStore, err := storeurl.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer closeStore()
		app, sessions, err := newApp(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, "test store")
		if err != nil {
			t.Fatal(err)
		}
		defer sessions.Close()
		post := func(path, cookie, form string) *httptest.ResponseRecorder {
			req := httptest.NewRequest("POST", path, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			return rec
		}
		kept := 0
		for user := range 5 {
			c := post("/login", "", "email=u"+strconv.Itoa(user)+"@example.com").Result().Cookies()[0]
			cookie := c.Name + "=" + c.Value
			var wg sync.WaitGroup
			for range 10 {
				wg.Add(1)
				go func() { defer wg.Done(); post("/cart", cookie, "sku=tea") }()
			}
			wg.Wait()
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Cookie", cookie)
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, req)
			var n int
			if _, after, ok := strings.Cut(rec.Body.String(), "Items in the cart: "); ok {
				fmt.Sscan(after, &n)
			}
			kept += n
		}
		t.Logf("%s: 5 visitors × 10 simultaneous adds: %d of 50 items kept", url, kept)
		if kept != 50 {
			t.Errorf("%s: %d of 50 items kept", url, kept)
		}
	}
}

// failingStore answers every call with err.
type failingStore struct {
	runtime.Store
	err error
}

func (f failingStore) Load(context.Context, string) ([]byte, uint64, error) { return nil, 0, f.err }

// TestOutagePage: a store outage is a styled 503 page that says the
// session is kept; an unanswered write says the change may have been
// saved.
func TestOutagePage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{runtime.ErrUnavailable, "Your session is kept and nothing was changed"},
		{runtime.ErrOutcomeUnknown, "may or may not have been saved"},
	} {
		mem := runtime.NewMemoryStore()
		defer mem.Close()
		app, sessions, err := newApp(runtime.Config{Store: failingStore{mem, tc.err}, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, "failing")
		if err != nil {
			t.Fatal(err)
		}
		defer sessions.Close()
		// A signed cookie, so that the store is asked.
		login := httptest.NewRecorder()
		ok, _, _ := newApp(runtime.Config{Store: mem, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, "ok")
		lr := httptest.NewRequest("POST", "/login", strings.NewReader("email=a@b.c"))
		lr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ok.ServeHTTP(login, lr)
		c := login.Result().Cookies()[0]
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), tc.want) || !strings.Contains(rec.Body.String(), "<h1>") || len(rec.Result().Cookies()) != 0 {
			t.Errorf("%v: %d %q, cookies %v; want a 503 page saying %q and no cookie", tc.err, rec.Code, rec.Body, rec.Result().Cookies(), tc.want)
		}
	}
}

// TestGracefulShutdown: the demo stops on its context (SIGINT, SIGTERM)
// without an error, after saying so.
func TestGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the demo did not stop")
	}
}

// TestYourSessionsPage: signed in from two browsers, each lists both
// sessions and marks its own; "log out everywhere else" from one ends the
// other, on every store that keeps sessions on the server; the cookie
// store says it cannot.
func TestYourSessionsPage(t *testing.T) {
	forEachStore(t, func(t *testing.T, store runtime.Backend, _ string) {
		app, sessions, err := newApp(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, "test store")
		if err != nil {
			t.Fatal(err)
		}
		defer sessions.Close()
		srv := httptest.NewTLSServer(app)
		defer srv.Close()
		one, two := bodyOnly(newBrowser(t, srv)), bodyOnly(newBrowser(t, srv))
		email := url.Values{"email": {fmt.Sprintf("grace%d@example.com", time.Now().UnixNano())}}
		one("POST", "/login", email)
		two("POST", "/login", email)
		page := one("GET", "/sessions", nil)
		if _, ok := store.(*cookiestore.Store); ok {
			if !strings.Contains(page, "cannot list them") {
				t.Fatalf("the cookie store's sessions page:\n%s", page)
			}
			return
		}
		if strings.Count(page, "<li>signed in") != 2 || strings.Count(page, "(this browser)") != 1 {
			t.Fatalf("sessions page from the first browser:\n%s", page)
		}
		if got := one("POST", "/sessions/others", nil); !strings.Contains(got, "Logged out everywhere else.") || !strings.Contains(got, "Signed in as") {
			t.Fatalf("after log out everywhere else:\n%s", got)
		}
		if got := two("GET", "/", nil); strings.Contains(got, "Signed in") {
			t.Fatalf("the other browser is still signed in:\n%s", got)
		}
		if page := one("GET", "/sessions", nil); strings.Count(page, "<li>signed in") != 1 {
			t.Fatalf("sessions page after:\n%s", page)
		}
	})
}

// TestSessionLimit: with -max-sessions 1, a sign-in on a second device
// signs the first out (evict), or is refused with a page that says why
// (refuse); the sessions page says what the limit is and when each
// session was last seen.
func TestSessionLimit(t *testing.T) {
	for _, policy := range []runtime.LimitPolicy{runtime.EvictOldest, runtime.RefuseNew} {
		mem := runtime.NewMemoryStore()
		defer mem.Close()
		app, sessions, err := newApp(runtime.Config{Store: mem, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}, MaxSessionsPerOwner: 1, OverLimit: policy}, "test store")
		if err != nil {
			t.Fatal(err)
		}
		defer sessions.Close()
		srv := httptest.NewTLSServer(app)
		defer srv.Close()
		one, two := newBrowser(t, srv), newBrowser(t, srv)
		email := url.Values{"email": {"ada@example.com"}}
		one("POST", "/login", email)
		code, page := two("POST", "/login", email)
		_, first := one("GET", "/", nil)
		switch policy {
		case runtime.EvictOldest:
			if code != 200 || !strings.Contains(page, "Signed in as") || strings.Contains(first, "Signed in") {
				t.Fatalf("evict: the second sign-in %d; the first browser after it:\n%s", code, first)
			}
			if _, list := two("GET", "/sessions", nil); !strings.Contains(list, "At most 1 at once") || !strings.Contains(list, "signs the oldest out") || !strings.Contains(list, "last seen 2") {
				t.Fatalf("sessions page:\n%s", list)
			}
		case runtime.RefuseNew:
			if code != 409 || !strings.Contains(page, "Signed in on too many devices") || !strings.Contains(first, "Signed in as") {
				t.Fatalf("refuse: the second sign-in %d:\n%s\nthe first browser after it:\n%s", code, page, first)
			}
		}
	}
}

// TestAnonymousLogoutStoresNothing: a POST /logout without a session
// creates none (before, it stored a session for its flash message).
func TestAnonymousLogoutStoresNothing(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	app, sessions, err := newApp(runtime.Config{Store: mem, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}}, "test store")
	if err != nil {
		t.Fatal(err)
	}
	defer sessions.Close()
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("POST", "/logout", nil))
	if rec.Code != http.StatusSeeOther || len(rec.Result().Cookies()) != 0 || mem.Len() != 0 {
		t.Fatalf("anonymous logout: %d, %d cookies, %d records; want a redirect and nothing stored", rec.Code, len(rec.Result().Cookies()), mem.Len())
	}
}

// TestEncryptAtRestThroughTheDemo: signed in and shopping through the
// demo with -encrypt-at-rest on a SQLite file, the file's bytes hold no
// email, no cart item and no session ID.
func TestEncryptAtRestThroughTheDemo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	store, _, closeStore, err := storeurl.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	app, sessions, err := newApp(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}, EncryptAtRest: true}, "test store")
	if err != nil {
		t.Fatal(err)
	}
	defer sessions.Close()
	srv := httptest.NewTLSServer(app)
	defer srv.Close()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	email := fmt.Sprintf("grace%d@example.com", time.Now().UnixNano())
	for _, step := range []struct {
		path string
		form url.Values
	}{{"/login", url.Values{"email": {email}}}, {"/cart", url.Values{"sku": {"pot"}}}} {
		resp, err := c.PostForm(srv.URL+step.path, step.form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), email) || !strings.Contains(string(page), "Teapot") {
		t.Fatalf("the shop does not show the signed-in visitor and the teapot in the cart:\n%s", page)
	}
	u, _ := url.Parse(srv.URL)
	var id string
	for _, ck := range c.Jar.Cookies(u) {
		id, _, _ = strings.Cut(ck.Value, ".")
	}
	var dump []byte
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		dump = append(dump, b...)
	}
	if len(dump) == 0 || id == "" || bytes.Contains(dump, []byte(email)) || bytes.Contains(dump, []byte("\xa3pot")) || bytes.Contains(dump, []byte("cart")) || bytes.Contains(dump, []byte(id)) {
		t.Fatalf("the SQLite file (%d bytes) holds the email, the cart or the session ID", len(dump))
	}
}

// newBrowser is a browser of its own (a cookie jar) on srv: it sends a
// request with a form and returns the status and the page.
func newBrowser(t *testing.T, srv *httptest.Server) func(method, path string, form url.Values) (int, string) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: srv.Client().Transport, Jar: jar} // srv.Client() is one client
	return func(method, path string, form url.Values) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// bodyOnly drops a browser's status: the page alone.
func bodyOnly(b func(method, path string, form url.Values) (int, string)) func(method, path string, form url.Values) string {
	return func(method, path string, form url.Values) string {
		_, body := b(method, path, form)
		return body
	}
}
