package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
)

// ownerApp serves the Account session on a store through a manager of its own:
// /login?uid=&dev= signs in (and regenerates the ID), /me answers
// "uid dev", /dev?dev= changes the device name only, /devices lists the
// owner's sessions ("*" marks the current one), /logout-all ends them all.
type ownerApp struct {
	Mgr *testsession.AccountManager
	h   http.Handler
	ops *opCounter
}

// newOwnerApp serves store through a new manager.
func newOwnerApp(t testing.TB, store runtime.Store) *ownerApp {
	ops := &opCounter{Store: store}
	mgr, err := testsession.NewAccountManager(runtime.Config{Store: ops, Secrets: [][]byte{bytes.Repeat([]byte("o"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		a := testsession.AccountFrom(r.Context())
		uid, _ := strconv.ParseInt(r.URL.Query().Get("uid"), 10, 64)
		a.SetUserID(uid)
		a.SetDevice(r.URL.Query().Get("dev"))
		a.Regenerate()
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		a := testsession.AccountFrom(r.Context())
		fmt.Fprintf(w, "%d %s", a.UserID(), a.Device())
	})
	mux.HandleFunc("/dev", func(w http.ResponseWriter, r *http.Request) {
		testsession.AccountFrom(r.Context()).SetDevice(r.URL.Query().Get("dev"))
	})
	mux.HandleFunc("/devices", func(w http.ResponseWriter, r *http.Request) {
		list, err := mgr.Sessions(r.Context(), testsession.AccountFrom(r.Context()).UserID())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for _, s := range list {
			if s.Current {
				fmt.Fprint(w, "*")
			} else {
				fmt.Fprint(w, ".")
			}
		}
	})
	mux.HandleFunc("/logout-all", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.LogoutAll(r.Context(), testsession.AccountFrom(r.Context()).UserID()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	return &ownerApp{Mgr: mgr, h: mgr.Middleware(mux), ops: ops}
}

// Do serves one request and returns its status, body and the cookie to
// send next (the new one, or the one sent).
func (a *ownerApp) Do(t testing.TB, path, cookie string) (string, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	if c := rec.Result().Cookies(); len(c) > 0 {
		cookie = c[0].Name + "=" + c[0].Value
	}
	return rec.Body.String(), cookie
}

// opCounter counts a store's operations.
type opCounter struct {
	runtime.Store
	loads, saves, deletes atomic.Int64
}

// Load implements runtime.Store.
func (c *opCounter) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

// Save implements runtime.Store.
func (c *opCounter) Save(ctx context.Context, key string, rec []byte, v uint64, exp time.Time) error {
	c.saves.Add(1)
	return c.Store.Save(ctx, key, rec, v, exp)
}

// Delete implements runtime.Store.
func (c *opCounter) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Store.Delete(ctx, key)
}

func (c *opCounter) count() [3]int64 {
	return [3]int64{c.loads.Load(), c.saves.Load(), c.deletes.Load()}
}

// RunOwners runs the scenarios on stores made by newStore (each call may return
// the same store, or a new client of the same server).
func RunOwners(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	ctx := context.Background()
	t.Run("UnreadableIndex", func(t *testing.T) { runUnreadableIndex(t, newStore) })
	t.Run("LogoutAllDuringALogin", func(t *testing.T) { runLogoutAllDuringALogin(t, newStore) })
	t.Run("ListEndAndLogoutAll", func(t *testing.T) {
		a, b := newOwnerApp(t, newStore(t)), newOwnerApp(t, newStore(t)) // two processes
		uid := time.Now().UnixNano()                                     // distinct per run on a shared server
		_, phone := a.Do(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		_, laptop := b.Do(t, fmt.Sprintf("/login?uid=%d&dev=laptop", uid), "")
		_, tablet := a.Do(t, fmt.Sprintf("/login?uid=%d&dev=tablet", uid), "")
		_, other := b.Do(t, fmt.Sprintf("/login?uid=%d&dev=desk", uid+1), "")

		list, err := b.Mgr.Sessions(ctx, uid)
		if err != nil || len(list) != 3 {
			t.Fatalf("Sessions after three logins through two managers: %d, %v; want 3", len(list), err)
		}
		for _, s := range list {
			if s.Created.IsZero() || s.Issued.Before(s.Created) || s.LastWrite.Before(s.Issued) || s.Current {
				t.Fatalf("listed session: %+v", s)
			}
		}
		if got, _ := a.Do(t, "/devices", laptop); got != "*.." && got != ".*." && got != "..*" {
			t.Fatalf("/devices from one of the three: %q, want three with one current", got)
		}

		// End one from the list: the laptop (listed second, by creation).
		if err := list[1].End(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Do(t, "/me", laptop); got != "0 " {
			t.Fatalf("the ended session still answers %q", got)
		}
		// A session that changes owner leaves the old owner's list.
		_, tablet = a.Do(t, fmt.Sprintf("/login?uid=%d&dev=tablet", uid+2), tablet)
		if list, _ := a.Mgr.Sessions(ctx, uid); len(list) != 1 {
			t.Fatalf("after one ended and one changed owner: %d listed, want 1", len(list))
		}

		if err := b.Mgr.LogoutAll(ctx, uid); err != nil {
			t.Fatal(err)
		}
		for _, app := range []*ownerApp{a, b} {
			if got, _ := app.Do(t, "/me", phone); got != "0 " {
				t.Fatalf("after LogoutAll the phone's session answers %q", got)
			}
		}
		if got, _ := a.Do(t, "/me", other); got != fmt.Sprintf("%d desk", uid+1) {
			t.Fatalf("another user's session after LogoutAll: %q", got)
		}
		if got, _ := b.Do(t, "/me", tablet); got != fmt.Sprintf("%d tablet", uid+2) {
			t.Fatalf("the session that changed owner, after LogoutAll of the old owner: %q", got)
		}
		if list, _ := a.Mgr.Sessions(ctx, uid); len(list) != 0 {
			t.Fatalf("after LogoutAll: %d listed", len(list))
		}
	})
	t.Run("LastWriteMoves", func(t *testing.T) {
		a := newOwnerApp(t, newStore(t))
		uid := time.Now().UnixNano()
		_, c := a.Do(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		time.Sleep(1100 * time.Millisecond) // the times are in seconds
		a.Do(t, "/dev?dev=renamed", c)
		list, err := a.Mgr.Sessions(ctx, uid)
		if err != nil || len(list) != 1 || !list[0].LastWrite.After(list[0].Issued) {
			t.Fatalf("after a write a second after login: %+v, %v; want LastWrite after Issued", list, err)
		}
	})
	t.Run("LogoutAllFromOneOfTheSessions", func(t *testing.T) {
		a, b := newOwnerApp(t, newStore(t)), newOwnerApp(t, newStore(t))
		uid := time.Now().UnixNano()
		_, one := a.Do(t, fmt.Sprintf("/login?uid=%d&dev=one", uid), "")
		_, two := b.Do(t, fmt.Sprintf("/login?uid=%d&dev=two", uid), "")
		a.Do(t, "/logout-all", one)
		for _, c := range []string{one, two} {
			if got, _ := b.Do(t, "/me", c); got != "0 " {
				t.Fatalf("after /logout-all: %q", got)
			}
		}
	})
	t.Run("CostOnlyWhenTheOwnerChanges", func(t *testing.T) {
		a := newOwnerApp(t, newStore(t))
		uid := time.Now().UnixNano()
		before := a.ops.count()
		_, c := a.Do(t, fmt.Sprintf("/login?uid=%d&dev=phone", uid), "")
		login := a.ops.count()
		a.Do(t, "/dev?dev=renamed", c)
		write := a.ops.count()
		a.Do(t, "/me", c)
		read := a.ops.count()
		t.Logf("store operations [loads saves deletes]: login %v (a new session: 0 1 0 without an owner), device rename %v, read %v",
			sub(login, before), sub(write, login), sub(read, write))
		if sub(login, before) != [3]int64{1, 2, 0} || sub(write, login) != [3]int64{1, 1, 0} || sub(read, write) != [3]int64{1, 0, 0} {
			t.Fatal("want: a login that sets the owner pays one load and one save of the owner's index; other requests nothing")
		}
	})
	t.Run("ConcurrentLoginsAreAllListed", func(t *testing.T) {
		apps := []*ownerApp{newOwnerApp(t, newStore(t)), newOwnerApp(t, newStore(t))}
		uid := time.Now().UnixNano()
		var wg sync.WaitGroup
		cookies := make([]string, 16)
		for i := range cookies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, cookies[i] = apps[i%2].Do(t, fmt.Sprintf("/login?uid=%d&dev=d%d", uid, i), "")
			}()
		}
		wg.Wait()
		list, err := apps[0].Mgr.Sessions(ctx, uid)
		t.Logf("16 concurrent logins of one user through two managers: %d listed", len(list))
		if err != nil || len(list) != 16 {
			t.Fatalf("%d listed, %v; want 16", len(list), err)
		}
		start := time.Now()
		if err := apps[1].Mgr.LogoutAll(ctx, uid); err != nil {
			t.Fatal(err)
		}
		t.Logf("LogoutAll of 16 sessions: %v (a load of the index, a load and a delete per session, a write of the index)", time.Since(start))
		for _, c := range cookies {
			if got, _ := apps[0].Do(t, "/me", c); got != "0 " {
				t.Fatalf("after LogoutAll: %q", got)
			}
		}
	})
}

func sub(a, b [3]int64) [3]int64 { return [3]int64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
