package memcache_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	"github.com/sessiongen/sessiongen/internal/memcachedtest"
	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/memcache"
)

// BenchmarkMemcached times PERF.md's scenarios through the middleware on a
// real memcached, next to the raw gomemcache round trips each one needs
// (the floor), in the same run.
func BenchmarkMemcached(b *testing.B) {
	srv := memcachedtest.Start(b)
	store, err := memcache.New(srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
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

	// The floor: the same round trips with gomemcache alone, on a record
	// of the same size.
	raw := gomemcache.New(srv.Addr)
	raw.MaxIdleConns = memcache.DefaultMaxIdleConns
	value := bytes.Repeat([]byte("x"), 200)
	raw.Set(&gomemcache.Item{Key: "raw", Value: value, Expiration: 3600})
	b.Run("raw-get", func(b *testing.B) {
		for range b.N {
			if _, err := raw.Get("raw"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-get+cas", func(b *testing.B) {
		for range b.N {
			it, err := raw.Get("raw")
			if err != nil {
				b.Fatal(err)
			}
			it.Expiration = 3600
			if err := raw.CompareAndSwap(it); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-add", func(b *testing.B) {
		prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
		for i := range b.N {
			if err := raw.Add(&gomemcache.Item{Key: prefix + strconv.Itoa(i), Value: value, Expiration: 3600}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
