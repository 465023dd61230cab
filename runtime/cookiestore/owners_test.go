package cookiestore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
)

// TestOwnersAreUnsupported: sessions kept in cookies cannot be listed or
// ended from the server, and the error says so (errors.ErrUnsupported)
// instead of pretending; signing in with an owner still works.
func TestOwnersAreUnsupported(t *testing.T) {
	store, err := cookiestore.New()
	if err != nil {
		t.Fatal(err)
	}
	m, err := testsession.NewAccountManager(runtime.Config{Store: store, Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sessions(context.Background(), 7); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Sessions: %v, want ErrUnsupported", err)
	}
	if err := m.LogoutAll(context.Background(), 7); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("LogoutAll: %v, want ErrUnsupported", err)
	}
	a := ownertestLogin(t, m)
	if a != "7 phone" {
		t.Errorf("an owned session in a cookie: %q", a)
	}
}

// ownertestLogin signs user 7 in and reads the session back.
func ownertestLogin(t *testing.T, m *testsession.AccountManager) string {
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := testsession.AccountFrom(r.Context())
		if r.URL.Path == "/login" {
			a.SetUserID(7)
			a.SetDevice("phone")
		}
		fmt.Fprintf(w, "%d %s", a.UserID(), a.Device())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://example.com/login", nil))
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.String()
}
