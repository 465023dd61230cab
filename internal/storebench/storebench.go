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
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// Run runs A–D as sub-benchmarks on store.
func Run(b *testing.B, store runtime.Store) {
	mgr, err := testsession.NewVisitManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("s"), 32)}})
	if err != nil {
		b.Fatal(err)
	}
	login := func(v *testsession.Visit) {
		v.SetUserID(42)
		v.SetEmail("ada@example.com")
		v.SetRoles([]string{"admin", "staff"})
	}
	setup := httptest.NewRecorder()
	mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		login(testsession.VisitFrom(r.Context()))
	})).ServeHTTP(setup, httptest.NewRequest("GET", "/", nil))
	c := setup.Result().Cookies()[0]
	cookie := c.Name + "=" + c.Value

	scenario := func(withCookie bool, handler func(*testsession.Visit, int)) func(*testing.B) {
		return func(b *testing.B) {
			i := 0
			h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handler(testsession.VisitFrom(r.Context()), i)
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
	var sink any
	flashes := []string{"a", "b"}
	b.Run("A-read", scenario(true, func(v *testsession.Visit, _ int) { sink = v.UserID(); sink = v.Email() }))
	b.Run("B-write", scenario(true, func(v *testsession.Visit, i int) { v.SetFlash(flashes[i%2]) }))
	b.Run("C-anonymous", scenario(false, func(*testsession.Visit, int) {}))
	b.Run("D-login", scenario(false, func(v *testsession.Visit, _ int) { login(v) }))
	_ = sink
}

// Record is a stand-in for the workload's record, for the raw clients'
// round trips: 200 bytes.
var Record = bytes.Repeat([]byte("x"), 200)
