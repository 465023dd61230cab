// Package storebench times the A-D request scenarios through the
// middleware on any store, for the stores' benchmarks, which put the raw
// client's round trips next to them in the same run:
//
//	A read   valid cookie; the handler reads two fields
//	B write  valid cookie; the handler sets a field (to a new value each time)
//	C anon   no cookie; the handler never touches the session
//	D login  no cookie; the handler sets three fields
package storebench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// Run runs A–D as sub-benchmarks on store.
func Run(b *testing.B, store runtime.Store) {
	mgr, err := testsession.NewVisitManager(config(store))
	if err != nil {
		b.Fatal(err)
	}
	run(b, mgr, testsession.VisitFrom)
}

// RunOwned runs A–D on store with OwnedVisit, Visit with an owner field:
// D's login sets the owner, which indexes the session; A–C pay nothing
// for it.
func RunOwned(b *testing.B, store runtime.Store) {
	mgr, err := testsession.NewOwnedVisitManager(config(store))
	if err != nil {
		b.Fatal(err)
	}
	run(b, mgr, testsession.OwnedVisitFrom)
}

// RunHooked runs A–D on store with a Config.OnEvent that counts, beside
// Run's figures: what a hook costs. D creates a session each time, so the
// hook runs once per D request; A–C report nothing.
func RunHooked(b *testing.B, store runtime.Store) {
	var events atomic.Int64
	cfg := config(store)
	cfg.OnEvent = func(context.Context, runtime.Event) { events.Add(1) }
	mgr, err := testsession.NewVisitManager(cfg)
	if err != nil {
		b.Fatal(err)
	}
	run(b, mgr, testsession.VisitFrom)
	if events.Load() == 0 {
		b.Fatal("the hook never ran")
	}
}

// RunSealed runs A–D on store with Config.EncryptAtRest: what sealing
// every record costs, beside Run's figures.
func RunSealed(b *testing.B, store runtime.Store) {
	cfg := config(store)
	cfg.EncryptAtRest = true
	RunConfig(b, cfg)
}

// RunConfig runs A–D with cfg (its Secrets filled in when empty): what a
// setting costs, beside Run's figures.
func RunConfig(b *testing.B, cfg runtime.Config) {
	if cfg.Secrets == nil {
		cfg.Secrets = config(nil).Secrets
	}
	mgr, err := testsession.NewVisitManager(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mgr.Close() })
	run(b, mgr, testsession.VisitFrom)
}

func config(store runtime.Store) runtime.Config {
	return runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("s"), 32)}}
}

// visit is what the scenarios call, on Visit and OwnedVisit alike.
type visit interface {
	UserID() int64
	Email() string
	SetUserID(int64)
	SetEmail(string)
	SetRoles([]string)
	SetFlash(string)
}

// users numbers the logins of D, so that no owner collects thousands of
// sessions.
var users atomic.Int64

func run[V visit](b *testing.B, mgr interface {
	Middleware(http.Handler) http.Handler
}, from func(context.Context) V) {
	login := func(v V) {
		v.SetUserID(users.Add(1))
		v.SetEmail("ada@example.com")
		v.SetRoles([]string{"admin", "staff"})
	}
	setup := httptest.NewRecorder()
	mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		login(from(r.Context()))
	})).ServeHTTP(setup, httptest.NewRequest("GET", "/", nil))
	c := setup.Result().Cookies()[0]
	cookie := c.Name + "=" + c.Value

	scenario := func(withCookie bool, handler func(V, int)) func(*testing.B) {
		return func(b *testing.B) {
			i := 0
			h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handler(from(r.Context()), i)
				w.WriteHeader(http.StatusNoContent)
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if withCookie {
				req.Header.Set("Cookie", cookie)
			}
			b.ReportAllocs()
			for i = 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("status %d", rec.Code)
				}
			}
		}
	}
	var id int64
	var email string
	flashes := []string{"a", "b"}
	b.Run("A-read", scenario(true, func(v V, _ int) { id, email = v.UserID(), v.Email() }))
	b.Run("B-write", scenario(true, func(v V, i int) { v.SetFlash(flashes[i%2]) }))
	b.Run("C-anonymous", scenario(false, func(V, int) {}))
	b.Run("D-login", scenario(false, func(v V, _ int) { login(v) }))
	_, _ = id, email
}

// Record is a stand-in for the workload's record, for the raw clients'
// round trips: 200 bytes.
var Record = bytes.Repeat([]byte("x"), 200)
