package runtime

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
)

// TestSetCookieLineIsNetHTTPs holds the precomputed Set-Cookie line of the
// common case to what net/http's Cookie.String renders, for every
// attribute the configuration can set, and checks that cookies and Vary
// values a handler set are kept.
func TestSetCookieLineIsNetHTTPs(t *testing.T) {
	secret := [][]byte{bytes.Repeat([]byte("k"), 32)}
	for _, c := range []Cookie{
		{},
		{Name: "sid", Secure: Off, HttpOnly: Off, SameSite: http.SameSiteStrictMode},
		{Name: "sid", Domain: "example.com", Path: "/app", SameSite: http.SameSiteNoneMode, Partitioned: true},
		{Name: "sid", Secure: Auto, SameSite: http.SameSiteDefaultMode},
	} {
		m, err := NewManager[panicky](Config{Secrets: secret, Cookie: c}, &panickySchema)
		if err != nil {
			t.Fatal(err)
		}
		id := newID()
		for _, secure := range []bool{false, true} {
			want := m.cookie
			want.Value, want.Secure = m.signer.sign(id), secure
			h := http.Header{}
			m.setCookie(h, id, 0, secure)
			if got := h.Values("Set-Cookie"); len(got) != 1 || got[0] != want.String() {
				t.Errorf("%+v, secure %v: Set-Cookie %q, net/http renders %q", c, secure, got, want.String())
			}
			if h.Get("Cache-Control") != "no-store" || h.Get("Vary") != "Cookie" {
				t.Errorf("headers %v", h)
			}

			h = http.Header{"Set-Cookie": {"theme=dark"}, "Vary": {"Accept-Encoding"}}
			m.setCookie(h, id, 0, secure)
			if got := h.Values("Set-Cookie"); !slices.Equal(got, []string{"theme=dark", want.String()}) {
				t.Errorf("the handler's cookie was not kept: %q", got)
			}
			if got := h.Values("Vary"); !slices.Equal(got, []string{"Accept-Encoding", "Cookie"}) {
				t.Errorf("Vary %q", got)
			}
		}
		m.Close()
	}
}
