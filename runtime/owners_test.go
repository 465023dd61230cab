package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/storetest"
)

// TestLifecycleOnMemory runs the per-owner logout, limit, event and
// revocation scenarios on one memory store shared by two managers.
func TestLifecycleOnMemory(t *testing.T) {
	store := runtime.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	storetest.RunLifecycle(t, func(*testing.T) runtime.Store { return store })
}

// TestOwnerlessTypesSaySo: a type without an owner field cannot list or
// end an owner's sessions, and says why.
func TestOwnerlessTypesSaySo(t *testing.T) {
	m, err := testsession.NewVisitManager(runtime.Config{Secrets: [][]byte{bytes.Repeat([]byte("x"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Sessions(context.Background(), "7"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Sessions on a type without an owner: %v", err)
	}
	if err := m.LogoutAll(context.Background(), "7"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("LogoutAll on a type without an owner: %v", err)
	}
}

// TestOwnerCapCountsLiveSessions: 500 sign-ins and sign-outs on a phone
// do not end the laptop's session, though the owner's index may hold 500
// entries: at the cap, entries of ended sessions are dropped before the
// oldest live one is. (Before, the laptop was ended on the 500th.)
func TestOwnerCapCountsLiveSessions(t *testing.T) {
	m, err := testsession.NewAccountManager(runtime.Config{Secrets: [][]byte{bytes.Repeat([]byte("c"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	do := accountClient(m, func(w http.ResponseWriter, r *http.Request, a *testsession.Account) {
		switch r.URL.Path {
		case "/login":
			a.SetUserID(3)
			a.SetDevice(r.URL.Query().Get("dev"))
			a.Regenerate()
		case "/logout":
			a.Destroy()
		}
		fmt.Fprintf(w, "%d %s", a.UserID(), a.Device())
	})
	_, laptop := do("/login?dev=laptop", "")
	for range 520 {
		_, phone := do("/login?dev=phone", "")
		do("/logout", phone)
	}
	if me, _ := do("/me", laptop); me != "3 laptop" {
		t.Fatalf("after 520 sign-ins and sign-outs on the phone the laptop reads %q: the cap ended it", me)
	}
	list, err := m.Sessions(context.Background(), 3)
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions: %d, %v; want the laptop alone", len(list), err)
	}
}

// TestRegenerateKeepsTheOwnerIndexed: a Regenerate, and a renewal, of an
// owned session whose handler never read the owner field (it stays
// undecoded in the record) list the new ID under the owner, so that
// LogoutAll ends it. (Before, the index was written from the undecoded
// field, an empty owner, and skipped: the new ID was listed nowhere, and
// "log out everywhere" left it signed in.)
func TestRegenerateKeepsTheOwnerIndexed(t *testing.T) {
	for _, renew := range []bool{false, true} {
		t.Run(map[bool]string{false: "Regenerate", true: "RenewAfter"}[renew], func(t *testing.T) {
			cfg := runtime.Config{Secrets: [][]byte{bytes.Repeat([]byte("r"), 32)}}
			if renew {
				cfg.RenewAfter = time.Second
			}
			m, err := testsession.NewAccountManager(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			do := accountClient(m, func(w http.ResponseWriter, r *http.Request, a *testsession.Account) {
				switch r.URL.Path {
				case "/login":
					a.SetUserID(3)
				case "/device": // reads and writes the device only
					a.SetDevice(a.Device() + "x")
					if !renew {
						a.Regenerate()
					}
				case "/me":
					fmt.Fprintf(w, "%d", a.UserID())
				}
			})
			_, first := do("/login", "")
			if renew {
				time.Sleep(2100 * time.Millisecond) // the ID is due for renewal
			}
			_, second := do("/device", first)
			if second == first {
				t.Fatal("the session kept its ID")
			}
			if err := m.LogoutAll(context.Background(), 3); err != nil {
				t.Fatal(err)
			}
			if me, _ := do("/me", second); me != "0" {
				t.Errorf("after LogoutAll the session under its new ID reads user %q: it was not listed under its owner", me)
			}
		})
	}
}

// accountClient serves h through m's middleware and returns a client of
// it: do(path, cookie) answers the body and the cookie the browser holds
// next.
func accountClient(m *testsession.AccountManager, h func(http.ResponseWriter, *http.Request, *testsession.Account)) func(path, cookie string) (string, string) {
	app := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, testsession.AccountFrom(r.Context()))
	}))
	return func(path, cookie string) (string, string) {
		req := httptest.NewRequest("GET", path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); len(c) > 0 && c[0].MaxAge >= 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		return rec.Body.String(), cookie
	}
}
