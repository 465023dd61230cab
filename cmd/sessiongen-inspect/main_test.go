package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sessiongen/sessiongen/internal/servers"
	"github.com/sessiongen/sessiongen/internal/storeurl"
	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sessiongen-inspect": main})
}

// TestScripts runs testdata/script/*.txtar against real memcached, Redis,
// PostgreSQL, MongoDB (FerretDB) and SQLite stores, each holding one session the test wrote
// through a manager: $<STORE>_URL names the store, $<STORE>_COOKIE the
// session's cookie value and $<STORE>_ID its bare ID.
func TestScripts(t *testing.T) {
	mc, rd, pg, mg := servers.StartMemcached(t), servers.StartRedis(t), servers.StartPostgres(t), servers.StartFerretDB(t)
	env := map[string]string{}
	for name, url := range map[string]string{
		"MEMCACHED": "memcached://" + mc.Addr,
		"REDIS":     rd.URL(),
		"POSTGRES":  pg.DSN(),
		"MONGO":     mg.URI("inspect"),
		"SQLITE":    "sqlite:" + filepath.Join(t.TempDir(), "sessions.db"),
	} {
		cookie := writeSession(t, url)
		env[name+"_URL"], env[name+"_COOKIE"] = url, cookie
		env[name+"_ID"], _, _ = strings.Cut(cookie, ".")
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			for k, v := range env {
				e.Setenv(k, v)
			}
			return os.WriteFile(filepath.Join(e.WorkDir, "memcached-cookie"), []byte(env["MEMCACHED_COOKIE"]+"\n"), 0o600)
		},
	})
}

// writeSession stores a session, and a field the code does not know, in
// the store at url and returns its cookie's value.
func writeSession(t *testing.T, url string) string {
	t.Helper()
	store, _, closeStore, err := storeurl.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	mgr, err := testsession.NewVisitManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := testsession.VisitFrom(r.Context())
		v.SetEmail("ada@example.com")
		v.SetCart([]testsession.CartItem{{SKU: "tea", Qty: 2, PriceCents: 350}})
		v.SetPrefs(map[string]string{"theme": "dark"})
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%s: %d cookies", url, len(cookies))
	}
	// Another session type on the same cookie adds a field of its own,
	// unknown to Visit, and keeps Visit's.
	other, err := testsession.NewScenarioManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("k"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookies[0])
	other.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		testsession.ScenarioFrom(r.Context()).SetC0(7)
	})).ServeHTTP(httptest.NewRecorder(), req)
	return cookies[0].Value
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "usage: sessiongen-inspect"},
		{[]string{"-store", "memory:"}, 2, "usage"},
		{[]string{"-store", "bogus://x", "abc"}, 1, "unknown scheme"},
		{[]string{"-store", "memory:", "not-an-id"}, 1, "neither a session cookie's value nor a session ID"},
		{[]string{"-store", "memory:", strings.Repeat("A", 43)}, 1, "no such session"},
		{[]string{"-store", "memory:", "--", "-" + strings.Repeat("A", 42)}, 1, "no such session"}, // IDs may begin with -
		{[]string{"-store", "memory:", "-dir", os.TempDir(), strings.Repeat("A", 43)}, 1, "no generated session"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.out) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.out)
		}
	}
}

// TestSealedRecords: a record sealed at rest opens with -secrets-env (the
// secrets in that variable, never on the command line), and without it
// the inspector says the record is sealed.
func TestSealedRecords(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "sealed.db")
	store, _, closeStore, err := storeurl.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("q"), 32)
	mgr, err := testsession.NewVisitManager(runtime.Config{Store: store, Secrets: [][]byte{secret}, EncryptAtRest: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		testsession.VisitFrom(r.Context()).SetEmail("sealed@example.com")
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	mgr.Close()
	closeStore()
	cookie := rec.Result().Cookies()[0].Value
	t.Setenv("INSPECT_SECRETS", "other-secret-of-at-least-32-bytes!,"+string(secret))
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-store", url}, 1, "is sealed (Config.EncryptAtRest): give the secrets"},
		{[]string{"-store", url, "-secrets-env", "INSPECT_SECRETS"}, 0, "sealed@example.com"},
		{[]string{"-store", url, "-secrets-env", "NO_SUCH_VARIABLE"}, 2, "not set"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(cookie+"\n"), &stdout, &stderr)
		if out := stdout.String() + stderr.String(); code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, out, tc.code, tc.out)
		}
	}
}
