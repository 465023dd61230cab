package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiongen/sessiongen/runtime"
)

// sized is a generated session type reduced to what the size benchmark
// needs: a middleware, a way to fill every field, and one field to read
// and one to write.
type sized struct {
	fields   int
	perField int // bytes per field: fields × perField is the stored size
	mw       func(http.Handler) http.Handler
	fill     func(r *http.Request, value string)
	read     func(r *http.Request) string
	write    func(r *http.Request, value string)
}

func sizes(tb testing.TB) []sized {
	cfg := runtime.Config{Secrets: [][]byte{secret}}
	m1, err1 := NewSize1Manager(cfg)
	m10, err10 := NewSize10Manager(cfg)
	m50, err50 := NewSize50Manager(cfg)
	if err1 != nil || err10 != nil || err50 != nil {
		tb.Fatal(err1, err10, err50)
	}
	return []sized{
		{1, 100, m1.Middleware,
			func(r *http.Request, v string) { Size1From(r.Context()).SetF0(v) },
			func(r *http.Request) string { return Size1From(r.Context()).F0() },
			func(r *http.Request, v string) { Size1From(r.Context()).SetF0(v) }},
		{10, 400, m10.Middleware,
			func(r *http.Request, v string) {
				s := Size10From(r.Context())
				for _, set := range []func(string){s.SetF0, s.SetF1, s.SetF2, s.SetF3, s.SetF4, s.SetF5, s.SetF6, s.SetF7, s.SetF8, s.SetF9} {
					set(v)
				}
			},
			func(r *http.Request) string { return Size10From(r.Context()).F0() },
			func(r *http.Request, v string) { Size10From(r.Context()).SetF9(v) }},
		{50, 1300, m50.Middleware,
			func(r *http.Request, v string) {
				s := Size50From(r.Context())
				for _, set := range []func(string){
					s.SetF0, s.SetF1, s.SetF2, s.SetF3, s.SetF4, s.SetF5, s.SetF6, s.SetF7, s.SetF8, s.SetF9,
					s.SetF10, s.SetF11, s.SetF12, s.SetF13, s.SetF14, s.SetF15, s.SetF16, s.SetF17, s.SetF18, s.SetF19,
					s.SetF20, s.SetF21, s.SetF22, s.SetF23, s.SetF24, s.SetF25, s.SetF26, s.SetF27, s.SetF28, s.SetF29,
					s.SetF30, s.SetF31, s.SetF32, s.SetF33, s.SetF34, s.SetF35, s.SetF36, s.SetF37, s.SetF38, s.SetF39,
					s.SetF40, s.SetF41, s.SetF42, s.SetF43, s.SetF44, s.SetF45, s.SetF46, s.SetF47, s.SetF48, s.SetF49,
				} {
					set(v)
				}
			},
			func(r *http.Request) string { return Size50From(r.Context()).F0() },
			func(r *http.Request, v string) { Size50From(r.Context()).SetF49(v) }},
	}
}

// BenchmarkSize times A (read one field) and B (write one field) on the
// memory store for sessions of 1, 10 and 50 fields: about 100 B, 4 KiB
// and 64 KiB stored.
func BenchmarkSize(b *testing.B) {
	for _, sz := range sizes(b) {
		value := strings.Repeat("x", sz.perField)
		rec := httptest.NewRecorder()
		sz.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sz.fill(r, value) })).
			ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		cookies := rec.Result().Cookies()
		name := func(s string) string {
			return fmt.Sprintf("%s/fields=%d/bytes=%d", s, sz.fields, sz.fields*sz.perField)
		}
		run := func(scenario string, h func(r *http.Request, i int)) {
			b.Run(name(scenario), func(b *testing.B) {
				i := 0
				handler := sz.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(r, i) }))
				req := httptest.NewRequest("GET", "/", nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				b.ReportAllocs()
				for i = 0; i < b.N; i++ {
					r := *req
					handler.ServeHTTP(httptest.NewRecorder(), &r)
				}
			})
		}
		other := strings.Repeat("y", sz.perField)
		run("A-read", func(r *http.Request, _ int) {
			if sz.read(r) != value {
				b.Fatal("read the wrong value")
			}
		})
		run("B-write", func(r *http.Request, i int) {
			if i%2 == 0 {
				sz.write(r, other)
			} else {
				sz.write(r, value)
			}
		})
	}
}
