package storetest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
)

// The races of a request that changes a session's ID (a renewal, a
// Regenerate) with another request of the same visitor, served by another
// manager on the same store: only the store's compare-and-swap keeps them
// apart. A logout is never undone and a session never forks into two
// live IDs.

// runIDChanges runs the ID-change races on stores made by newStore.
func runIDChanges(t *testing.T, newStore func(t *testing.T) runtime.Store) {
	t.Run("WriteOverlappingARenewalDoesNotFork", func(t *testing.T) {
		store := newStore(t)
		cfg := runtime.Config{Store: store, RenewAfter: time.Second}
		a, b := newApp(t, cfg), newApp(t, cfg)
		defer a.Mgr.Close()
		defer b.Mgr.Close()
		old := a.Start()
		time.Sleep(1100 * time.Millisecond) // the ID is due for renewal (whole seconds)
		// X (manager a) loads the session under the old ID and holds; Y
		// (manager b) renews it; X then saves its change.
		x, y := interleaveAcross(t, a, b, old, "/note?v=x", "/sum")
		renewed := cookieOf(y)
		if y.Code != 200 || renewed == "" || renewed == old {
			t.Fatalf("the renewal did not happen: %d, cookie %q", y.Code, renewed)
		}
		if x.Code != 200 {
			t.Fatalf("the write overlapping the renewal: %d %s", x.Code, x.Body)
		}
		if got := note(b, renewed); got != "x" {
			t.Fatalf("the renewed session holds note %q, want the overlapping write's %q", got, "x")
		}
		// One session, not two: a logout under the new ID ends the old one too.
		b.Do("/logout", renewed)
		for _, c := range []string{old, renewed, cookieOf(x)} {
			if c == "" {
				continue
			}
			if got := note(a, c); got != "" {
				t.Fatalf("after the logout, a cookie of the session still opens it (note %q): the session forked", got)
			}
		}
	})
	t.Run("ATouchDoesNotStretchTheGrace", func(t *testing.T) {
		store := newStore(t)
		cfg := runtime.Config{Store: store, RenewAfter: 3 * time.Second, RenewGrace: time.Second}
		a, b := newApp(t, cfg), newApp(t, cfg)
		defer a.Mgr.Close()
		defer b.Mgr.Close()
		old := a.Start()
		time.Sleep(3100 * time.Millisecond)
		// X (manager a) loaded the old ID before Y (manager b) renewed it,
		// and touches it after: the forward's expiry moves in the store.
		x, y := interleaveAcross(t, a, b, old, "/touch", "/sum")
		if x.Code != 200 || y.Code != 200 || cookieOf(y) == "" {
			t.Fatalf("touch %d, renewal %d with cookie %q", x.Code, y.Code, cookieOf(y))
		}
		time.Sleep(2100 * time.Millisecond) // past the grace
		if got := note(a, old); got != "" {
			t.Fatalf("the old cookie still opens the session (note %q) after the grace: the touch stretched it", got)
		}
		if got := note(b, cookieOf(y)); got != "start" {
			t.Fatalf("the renewed session: note %q", got)
		}
	})
	t.Run("RegenerateOverlappingALogoutDoesNotRecreate", func(t *testing.T) {
		store := newStore(t)
		a, b := newApp(t, runtime.Config{Store: store}), newApp(t, runtime.Config{Store: store})
		defer a.Mgr.Close()
		defer b.Mgr.Close()
		old := a.Start()
		// X (manager a) loads the session and holds before its Regenerate;
		// Y (manager b) logs out; X then regenerates and saves.
		x, y := interleaveAcross(t, a, b, old, "/regen?v=x", "/logout")
		if y.Code != 200 {
			t.Fatalf("logout: %d", y.Code)
		}
		for _, c := range []string{old, cookieOf(x)} {
			if c == "" {
				continue
			}
			if got := note(a, c); got != "" {
				t.Fatalf("a Regenerate that overlapped a logout re-created the session (note %q)", got)
			}
		}
	})
}

// interleaveAcross holds request first on a between its load and its
// save, serves second in full on b, then lets first finish.
func interleaveAcross(t testing.TB, a, b *App, cookie, first, second string) (*httptest.ResponseRecorder, *httptest.ResponseRecorder) {
	loaded, proceed := make(chan struct{}), make(chan struct{})
	a.loaded = func(*http.Request) { close(loaded); <-proceed }
	defer func() { a.loaded = nil }()
	var r1 *httptest.ResponseRecorder
	done := make(chan struct{})
	go func() { defer close(done); r1 = a.DoHeld(first, cookie) }()
	<-loaded
	r2 := b.Do(second, cookie)
	close(proceed)
	<-done
	return r1, r2
}

// cookieOf returns the session cookie a response set, as a Cookie
// header, or "" when it set none or expired it.
func cookieOf(r *httptest.ResponseRecorder) string {
	for _, c := range r.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// note reads the session's note through app, with cookie.
func note(app *App, cookie string) string {
	var sum int
	var bal int64
	var n string
	fmt.Sscan(app.Do("/sum", cookie).Body.String(), &sum, &bal, &n)
	return strings.TrimSpace(n)
}

// runHangUps sends 30 requests that each append an item and whose client
// closes the connection right after sending, as an impatient browser
// does: every item lands, and nothing is logged as an error (the load and
// the save run detached from the request's cancellation, bounded by the
// store's own timeout). Before, a hang-up cancelled the store call: the
// change was lost and the store failure logged.
func runHangUps(t *testing.T, store runtime.Store) {
	a := NewApp(t, store)
	cookie := a.Start()
	srv := httptest.NewServer(a.h)
	defer srv.Close()
	const n = 30
	for i := range n {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /append?v=gone%d HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", i, cookie)
		conn.Close()
	}
	var items string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		items, _, _ = strings.Cut(a.Do("/items", cookie).Body.String(), "|")
		if strings.Count(items, "gone") == n {
			break
		}
	}
	if got := strings.Count(items, "gone"); got != n {
		t.Errorf("%d of %d changes of clients that hung up landed", got, n)
	}
	if logs := a.Logs(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("clients that hung up raised errors:\n%s", logs)
	}
}
