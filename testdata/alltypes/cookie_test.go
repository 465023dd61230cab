package alltypes

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
)

// TestEveryKindInASealedCookie writes a field of every kind into a
// session kept in its cookie and reads it back with the getters; a flash
// field reads once.
func TestEveryKindInASealedCookie(t *testing.T) {
	store, err := cookiestore.New()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := NewAllManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("c"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	want := full()
	var got allData
	var popped []string
	h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := AllFrom(r.Context())
		switch r.URL.Path {
		case "/set":
			sv, dv := reflect.ValueOf(s), reflect.ValueOf(want)
			for _, f := range reflect.VisibleFields(dv.Type()) {
				if m := sv.MethodByName("Set" + f.Name); f.IsExported() && m.IsValid() {
					m.Call([]reflect.Value{dv.FieldByIndex(f.Index)})
				}
			}
		case "/read":
			got = readAll(s)
		case "/pop":
			popped = append(popped, s.PopMsg())
		}
	}))
	var cookies []*http.Cookie
	serve := func(path string) {
		req := httptest.NewRequest("GET", "https://example.com"+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: status %d", path, rec.Code)
		}
		for _, set := range rec.Result().Cookies() {
			kept := cookies[:0:0]
			for _, c := range cookies {
				if c.Name != set.Name {
					kept = append(kept, c)
				}
			}
			if set.MaxAge >= 0 {
				kept = append(kept, &http.Cookie{Name: set.Name, Value: set.Value})
			}
			cookies = kept
		}
	}
	serve("/set")
	if len(cookies) == 0 {
		t.Fatal("no cookie")
	}
	serve("/read")
	assertSameData(t, got, want)
	serve("/pop")
	serve("/pop")
	if len(popped) != 2 || popped[0] != want.Msg || popped[1] != "" {
		t.Fatalf("the flash field read %q, want %q once", popped, want.Msg)
	}
}
