package multi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	sg "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/testdata/other"
	"github.com/vmihailenco/msgpack/v5"
)

func TestTwoSessionTypesInOneApp(t *testing.T) {
	secret := [][]byte{bytes.Repeat([]byte("m"), 32)}
	carts, err := NewCartManager(sg.Config{Secrets: secret, Cookie: sg.Cookie{Name: "__Host-cart"}})
	if err != nil {
		t.Fatal(err)
	}
	defer carts.Close()
	admins, err := NewAdminManager(sg.Config{Secrets: secret, Cookie: sg.Cookie{Name: "__Host-admin"}})
	if err != nil {
		t.Fatal(err)
	}
	defer admins.Close()
	h := carts.Middleware(admins.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, a := CartFrom(r.Context()), AdminFrom(r.Context())
		c.SetLines(append(c.Lines(), other.Line{SKU: "tea", Price: 350}))
		c.SetTotal(c.Total() + 350)
		a.SetLevel(a.Level() + 1)
	})))
	var cookies []*http.Cookie
	for range 2 {
		req := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Result().Cookies(); len(got) > 0 {
			cookies = got
		}
	}
	if len(cookies) != 2 {
		t.Fatalf("got %d cookies, want one per session type", len(cookies))
	}
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	var total other.Money
	var level int
	check := carts.Middleware(admins.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total, level = CartFrom(r.Context()).Total(), AdminFrom(r.Context()).Level()
	})))
	check.ServeHTTP(httptest.NewRecorder(), req)
	if total != 700 || level != 2 {
		t.Fatalf("total %d level %d, want 700 and 2", total, level)
	}
}

// A session type with no fields compiles, and keeps what another version
// of the code stored.
func TestSessionWithNoFields(t *testing.T) {
	in, err := msgpack.Marshal(map[string]int{"later": 7})
	if err != nil {
		t.Fatal(err)
	}
	var m Marker
	if err := m.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(in))); err != nil {
		t.Fatal(err)
	}
	out, err := msgpack.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("re-encoded % x, want % x", out, in)
	}
}
