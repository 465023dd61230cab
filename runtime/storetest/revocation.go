package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/cookiestore"
)

// RunRevocation checks cookiestore.WithRevocation with a store made by
// newStore keeping the revocations: sealed cookies that LogoutAll or
// Destroy revoked no longer open, a stolen copy included, on every
// instance once its cache has expired (and at once with no cache), while
// a sign-in right after a LogoutAll stays signed in.
func RunRevocation(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	sealed := func(t *testing.T, store runtime.Store, cache time.Duration) *testsession.AccountManager {
		cs, err := cookiestore.New(cookiestore.WithRevocation(store), cookiestore.WithRevocationCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		m, err := testsession.NewAccountManager(runtime.Config{Store: cs, Secrets: [][]byte{bytes.Repeat([]byte("r"), 32)}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("AStolenCookieDiesWithLogoutAll", func(t *testing.T) {
		store := newStore(t)
		a, b := sealed(t, store, 0), sealed(t, store, 0) // two instances
		uid := time.Now().UnixNano()
		phone := accountLogin(t, a, uid, "phone")
		stolen := phone // a copy the thief keeps
		laptop := accountLogin(t, b, uid, "laptop")
		other := accountLogin(t, a, uid+1, "desk")
		if got := accountRead(t, b, stolen); got != fmt.Sprintf("%d phone", uid) {
			t.Fatalf("before LogoutAll, the stolen cookie reads %q", got)
		}
		if err := a.LogoutAll(context.Background(), uid); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]string{"stolen phone": stolen, "laptop": laptop} {
			for i, m := range []*testsession.AccountManager{a, b} {
				if got := accountRead(t, m, c); got != "0 " {
					t.Fatalf("after LogoutAll, the %s cookie on instance %d reads %q, want no session", name, i, got)
				}
			}
		}
		if got := accountRead(t, b, other); got != fmt.Sprintf("%d desk", uid+1) {
			t.Fatalf("another user's session after LogoutAll: %q", got)
		}
		time.Sleep(2 * time.Millisecond)          // LogoutAll revokes what was issued until its millisecond
		again := accountLogin(t, b, uid, "phone") // right after: the same second
		if got := accountRead(t, a, again); got != fmt.Sprintf("%d phone", uid) {
			t.Fatalf("a sign-in right after LogoutAll reads %q, want it signed in", got)
		}
	})
	t.Run("DestroyRevokesThatCookieOnly", func(t *testing.T) {
		store := newStore(t)
		a, b := sealed(t, store, 0), sealed(t, store, 0)
		uid := time.Now().UnixNano()
		phone := accountLogin(t, a, uid, "phone")
		laptop := accountLogin(t, a, uid, "laptop")
		accountDo(t, a, "/logout", phone)
		if got := accountRead(t, b, phone); got != "0 " {
			t.Fatalf("a copy of the cookie that logged out reads %q, want no session", got)
		}
		if got := accountRead(t, b, laptop); got != fmt.Sprintf("%d laptop", uid) {
			t.Fatalf("the owner's other session after one logout: %q", got)
		}
	})
	t.Run("TheCacheBoundsHowLongARevokedCookieOpens", func(t *testing.T) {
		store := newStore(t)
		const cache = time.Second
		a, b := sealed(t, store, cache), sealed(t, store, cache)
		uid := time.Now().UnixNano()
		stolen := accountLogin(t, a, uid, "phone")
		accountRead(t, b, stolen) // b reads the owner's revocations, and caches them
		start := time.Now()
		if err := a.LogoutAll(context.Background(), uid); err != nil {
			t.Fatal(err)
		}
		if got := accountRead(t, a, stolen); got != "0 " {
			t.Fatalf("on the instance that ran LogoutAll, the stolen cookie reads %q at once", got)
		}
		opened := accountRead(t, b, stolen) != "0 " // within the cache: may open
		time.Sleep(cache - time.Since(start) + 100*time.Millisecond)
		if got := accountRead(t, b, stolen); got != "0 " {
			t.Fatalf("on another instance, past its cache of %v, the stolen cookie reads %q", cache, got)
		}
		t.Logf("on another instance within its %v cache, the stolen cookie opened: %v", cache, opened)
	})
}

// accountServe serves Account sessions: /login?uid=&dev= signs in,
// /logout signs out, anything else reads "uid dev".
func accountServe(m *testsession.AccountManager) http.Handler {
	return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := testsession.AccountFrom(r.Context())
		switch r.URL.Path {
		case "/login":
			uid, _ := strconv.ParseInt(r.URL.Query().Get("uid"), 10, 64)
			a.Regenerate()
			a.SetUserID(uid)
			a.SetDevice(r.URL.Query().Get("dev"))
		case "/logout":
			a.Destroy()
		}
		fmt.Fprintf(w, "%d %s", a.UserID(), a.Device())
	}))
}

// accountDo serves one request with the cookies given (a Cookie header)
// and returns the cookies the browser holds after it.
func accountDo(t *testing.T, m *testsession.AccountManager, path, cookies string) string {
	t.Helper()
	req := httptest.NewRequest("GET", "https://example.com"+path, nil)
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	rec := httptest.NewRecorder()
	accountServe(m).ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	jar := map[string]string{}
	for _, c := range req.Cookies() {
		jar[c.Name] = c.Value
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(jar, c.Name)
		} else {
			jar[c.Name] = c.Value
		}
	}
	var b bytes.Buffer
	for name, v := range jar {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(name + "=" + v)
	}
	return b.String()
}

// accountLogin signs uid in on a new browser and returns its cookies.
func accountLogin(t *testing.T, m *testsession.AccountManager, uid int64, dev string) string {
	t.Helper()
	return accountDo(t, m, fmt.Sprintf("/login?uid=%d&dev=%s", uid, dev), "")
}

// accountRead reads the session the cookies carry: "uid dev".
func accountRead(t *testing.T, m *testsession.AccountManager, cookies string) string {
	t.Helper()
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	req.Header.Set("Cookie", cookies)
	rec := httptest.NewRecorder()
	accountServe(m).ServeHTTP(rec, req)
	return rec.Body.String()
}
