// Package evolve checks that two releases of one session struct can share
// a store during a rolling deploy.
package evolve

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
	"github.com/sessiongen/sessiongen/testdata/evolve/v1"
	"github.com/sessiongen/sessiongen/testdata/evolve/v2"
)

// TestRollingDeploy runs the two releases over one store: in memory, and
// with each session sealed in its cookie.
func TestRollingDeploy(t *testing.T) {
	mem := runtime.NewMemoryStore()
	defer mem.Close()
	cookies, err := cookiestore.New()
	if err != nil {
		t.Fatal(err)
	}
	for name, store := range map[string]runtime.Backend{"memory": mem, "cookie": cookies} {
		t.Run(name, func(t *testing.T) { rollingDeploy(t, store) })
	}
}

func rollingDeploy(t *testing.T, store runtime.Backend) {
	var logs bytes.Buffer
	cfg := runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("e"), 32)}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	m1, err := v1.NewProfileManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := v2.NewProfileManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var cookie string
	serve := func(h http.Handler) {
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
	}
	release1 := func(f func(*v1.Profile)) {
		serve(m1.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(v1.ProfileFrom(r.Context())) })))
	}
	release2 := func(f func(*v2.Profile)) {
		serve(m2.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(v2.ProfileFrom(r.Context())) })))
	}

	release1(func(p *v1.Profile) {
		p.SetName("Ada")
		p.SetAge(36)
		p.SetLegacy("kept")
		p.SetNick("ada")
		p.SetScore("high")
	})
	release2(func(p *v2.Profile) {
		if p.Name() != "Ada" || p.Age() != 36 {
			t.Errorf("release 2 read name %q age %d", p.Name(), p.Age())
		}
		if p.Nickname() != "ada" {
			t.Errorf("renamed field with a pinned key: %q, want ada", p.Nickname())
		}
		if p.Email() != "" {
			t.Errorf("added field: %q, want zero", p.Email())
		}
		if p.Score() != 0 {
			t.Errorf("retyped field: %d, want zero", p.Score())
		}
		p.SetEmail("ada@example.com") // release 2 saves the session
	})
	if !strings.Contains(logs.String(), "no longer decodes") || !strings.Contains(logs.String(), "key=score") {
		t.Errorf("no log line for the retyped field:\n%s", logs.String())
	}
	if m2.Stats().Dropped != 1 {
		t.Errorf("Dropped = %d, want 1", m2.Stats().Dropped)
	}
	release1(func(p *v1.Profile) {
		if p.Legacy() != "kept" {
			t.Errorf("release 2 lost the field it does not know: legacy %q", p.Legacy())
		}
		if p.Name() != "Ada" || p.Nick() != "ada" {
			t.Errorf("release 1 after release 2: name %q nick %q", p.Name(), p.Nick())
		}
		p.SetAge(37)
	})
	release2(func(p *v2.Profile) {
		if p.Email() != "ada@example.com" || p.Age() != 37 {
			t.Errorf("release 2 after release 1: email %q age %d; release 1 must keep what it does not know", p.Email(), p.Age())
		}
	})
}
